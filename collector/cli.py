"""`lomsong serve`, `lomsong db ...`, `lomsong probes ...` and `lomsong readers ...`, and the one
database rule every command follows.

The database: ``--database-url``, else ``LOMSONG_DATABASE_URL``, else the embedded PostgreSQL in
the data directory (``LOMSONG_DATA_DIR``); ``--demo`` names the database `lomsong demo` filled
(the embedded one in the demo's folder). Commands that read data refuse a database without the
schema with "run lomsong db migrate" (`collector.errors.SchemaMissing`).
Only argparse is imported here; FastAPI, psycopg and the embedded server load inside handlers.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lomsong.collector import city_cli, servers_cli, users_cli, wards_cli

if TYPE_CHECKING:
    from lomsong.collector.settings import Settings

__all__ = ["DEMO_DATABASE", "database", "database_from_args", "database_options", "demo_url",
           "register", "server_options", "settings_from_args"]

# The database `lomsong demo` creates in its embedded cluster.
DEMO_DATABASE = "lomsong_demo"


def database_options() -> argparse.ArgumentParser:
    """The ``--database-url`` and ``--demo`` options, as a parent parser for every command."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_mutually_exclusive_group()
    group.add_argument(
        "--database-url", metavar="URL",
        help="URL PostgreSQL; mặc định LOMSONG_DATABASE_URL, nếu không có thì CSDL nhúng "
             "(PostgreSQL URL; default LOMSONG_DATABASE_URL, else the embedded database)")
    group.add_argument(
        "--demo", nargs="?", const=True, default=None, metavar="DIR", type=Path,
        help="dùng CSDL mà lomsong demo đã nạp (the database lomsong demo filled; DIR: its "
             "--data-dir, default <LOMSONG_DATA_DIR>/demo)")
    return parent


def demo_url(cluster_url: str) -> str:
    """The demo's database in the embedded cluster whose `postgres` database is `cluster_url`."""
    return cluster_url.replace("/postgres?", f"/{DEMO_DATABASE}?", 1)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db_options = database_options()
    serve = sub.add_parser(
        "serve", parents=[db_options],
        help="chạy máy chủ thu thập và bảng điều khiển (run the collector and dashboard)",
        description="Chạy máy chủ thu thập, API và bảng điều khiển; dừng bằng Ctrl-C hoặc SIGTERM. "
                    "(Run the collector, API and dashboard; stop with Ctrl-C or SIGTERM.)")
    serve.add_argument("--host", help="listen address (default 127.0.0.1 or LOMSONG_HOST)")
    serve.add_argument("--port", type=int, help="port (default 8080 or LOMSONG_PORT)")
    serve.add_argument("--trusted-proxies", dest="trusted_proxies",
                       help="reverse proxies whose X-Forwarded-For is believed: comma-separated "
                            "addresses or networks, '*' for any (default 127.0.0.1 or "
                            "LOMSONG_TRUSTED_PROXIES); see docs/security.md")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes (default 1; about one per CPU core for heavy ingest)")
    serve.set_defaults(handler=_serve)

    db = sub.add_parser("db", help="lược đồ cơ sở dữ liệu (database schema)")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("migrate", parents=[db_options],
                      help="áp dụng các migration còn thiếu (apply pending migrations)"
                      ).set_defaults(handler=_db_migrate)
    db_sub.add_parser("status", parents=[db_options],
                      help="loại CSDL và các migration (show tier and migrations)"
                      ).set_defaults(handler=_db_status)

    for group, role, who in (
        ("probes", "probe", "mã của đầu đo, để gửi phép đo (probe tokens, to upload measurements)"),
        ("readers", "reader", "mã chỉ đọc cho API truy vấn (reader tokens for the query API)"),
    ):
        parser = sub.add_parser(group, help=who)
        cmds = parser.add_subparsers(dest=f"{group}_command", required=True)
        add = cmds.add_parser("add", parents=[db_options],
                              help=f"tạo mã, chỉ in một lần (create a {role} token, printed once)")
        add.add_argument("name")
        add.add_argument("--ward", metavar="CODE",
                         help="mã phường/xã 5 số (the ward the token belongs to)")
        add.set_defaults(handler=_token_add, role=role)
        revoke = cmds.add_parser("revoke", parents=[db_options],
                                 help=f"thu hồi mã (revoke a {role} token)")
        revoke.add_argument("name")
        revoke.add_argument("--ward", metavar="CODE", help="mã phường/xã (the token's ward)")
        revoke.set_defaults(handler=_token_revoke, role=role)
        cmds.add_parser("list", parents=[db_options], help=f"liệt kê mã (list {role} tokens)"
                        ).set_defaults(handler=_token_list, role=role)
    users_cli.register(sub, db_options)
    servers_cli.register(sub, db_options)
    wards_cli.register(sub, db_options)
    city_cli.register(sub, db_options)


def settings_from_args(args: argparse.Namespace) -> Settings:
    from pydantic import ValidationError

    from lomsong.collector.settings import Settings

    overrides = {k: getattr(args, k) for k in ("host", "port", "database_url", "trusted_proxies")
                 if getattr(args, k, None)}
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SystemExit(f"lomsong: cấu hình sai (invalid settings): {exc}") from exc


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """The configured database URL, or the embedded PostgreSQL started for the duration."""
    if settings.database_url is not None:
        yield settings.database_url
        return
    from lomsong.collector.embedded import embedded_postgres
    from lomsong.collector.errors import EmbeddedDatabaseError

    try:
        with embedded_postgres(settings.data_dir) as url:
            yield url
    except EmbeddedDatabaseError as exc:
        print(f"lomsong: không khởi động được PostgreSQL nhúng (embedded PostgreSQL failed): {exc}",
              file=sys.stderr)
        raise SystemExit(3) from exc


@contextmanager
def database_from_args(args: argparse.Namespace, *, schema: bool = True) -> Iterator[str]:
    """The database URL by the one rule (module docstring), the embedded server running meanwhile.

    With `schema`, a database lacking the schema raises `SchemaMissing` ("run lomsong db migrate").
    """
    from lomsong.collector.errors import SettingsError
    from lomsong.collector.storage.migrate import require_schema

    demo = getattr(args, "demo", None)
    settings = settings_from_args(args)
    if demo is None:
        with database(settings) as url:
            if schema:
                require_schema(url)
            yield url
        return
    folder = settings.data_dir / "demo" if demo is True else demo
    if not (folder / "postgres").is_dir():
        raise SettingsError(f"chưa có CSDL demo trong {folder}: chạy lomsong demo trước "
                            f"(no demo database in {folder}: run lomsong demo first)")
    with database(settings.model_copy(update={"database_url": None, "data_dir": folder})) as url:
        if schema:
            require_schema(demo_url(url))
        yield demo_url(url)


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options: where to listen, and which proxies' forwarded headers to believe."""
    return {"host": settings.host, "port": settings.port, "log_level": "info",
            "proxy_headers": True, "forwarded_allow_ips": settings.trusted_proxies}


def _serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from lomsong.collector.app import create_app
    from lomsong.collector.gctune import tune_gc
    from lomsong.collector.storage.migrate import migrate

    settings = settings_from_args(args)
    with database_from_args(args, schema=False) as url:
        print(f"lomsong collector: http://{settings.host}:{settings.port}/  (API docs: /docs)")
        if args.workers > 1:
            migrate(url)  # once, before the workers start
            os.environ["LOMSONG_DATABASE_URL"] = url  # the workers build their app from the env
            uvicorn.run("lomsong.collector.asgi:app", factory=True, workers=args.workers,
                        **server_options(settings))
        else:
            app = create_app(settings.model_copy(update={"database_url": url}))
            tune_gc()
            uvicorn.run(app, **server_options(settings))
    return 0


def _db_migrate(args: argparse.Namespace) -> int:
    from lomsong.collector.errors import StorageError
    from lomsong.collector.storage.migrate import migrate

    with database_from_args(args, schema=False) as url:
        try:
            status = migrate(url)
        except StorageError as exc:
            print(f"lomsong: {exc}", file=sys.stderr)
            return 1
    print(f"tier: {status.tier.value}; applied: {len(status.applied)}; pending: 0")
    return 0


def _db_status(args: argparse.Namespace) -> int:
    from lomsong.collector.errors import StorageError
    from lomsong.collector.storage.migrate import migration_status

    with database_from_args(args, schema=False) as url:
        try:
            status = migration_status(url)
        except StorageError as exc:
            print(f"lomsong: {exc}", file=sys.stderr)
            return 1
    print(f"tier: {status.tier.value}")
    for name in status.applied:
        print(f"  applied  {name}")
    for name in status.pending:
        print(f"  pending  {name}")
    for name in status.unknown:
        print(f"  unknown  {name}  (newer than this lomsong)")
    return 0 if status.current else 1


def _token_add(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.collector.errors import StorageError
    from lomsong.collector.storage.migrate import migrate
    from lomsong.collector.storage.scope import Scope
    from lomsong.collector.storage.tokens import create_token

    with database_from_args(args, schema=False) as url:
        migrate(url)
        with psycopg.connect(url, autocommit=True) as conn:
            try:
                token = create_token(conn, args.name, args.role,
                                     Scope.ward(args.ward, write=True))
            except (StorageError, ValueError) as exc:
                print(f"lomsong: {exc}", file=sys.stderr)
                return 1
    print(f"# token for {args.role} {args.name!r}; shown once, store it now (chỉ hiển thị một lần)")
    print(token)
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.collector.storage.scope import Scope
    from lomsong.collector.storage.tokens import revoke_token

    with database_from_args(args) as url, psycopg.connect(url, autocommit=True) as conn:
        revoked = revoke_token(conn, args.name, args.role, Scope.ward(args.ward, write=True))
    if not revoked:
        print(f"lomsong: no active {args.role} token named {args.name!r}", file=sys.stderr)
        return 1
    print(f"revoked {args.role} token {args.name!r}")
    return 0


def _token_list(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.collector.storage.scope import Scope
    from lomsong.collector.storage.tokens import list_tokens

    with database_from_args(args) as url, psycopg.connect(url, autocommit=True) as conn:
        tokens = [t for t in list_tokens(conn, Scope.all_wards()) if t.role == args.role]
    for t in tokens:
        state = "revoked" if t.revoked_at else "active"
        last = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never"
        print(f"{t.name}\t{state}\tcreated {t.created_at:%Y-%m-%d}\tlast used {last}")
    return 0
