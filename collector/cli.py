"""`lomsong serve`, `lomsong db ...`, `lomsong probes ...` and `lomsong readers ...`.

Only argparse is imported here; FastAPI, psycopg and the embedded server load inside handlers.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from lomsong.collector import users_cli

if TYPE_CHECKING:
    from lomsong.collector.settings import Settings

__all__ = ["database", "register", "server_options", "settings_from_args"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="chạy máy chủ thu thập và bảng điều khiển (run the collector)")
    serve.add_argument("--host", help="listen address (default 127.0.0.1 or LOMSONG_HOST)")
    serve.add_argument("--port", type=int, help="port (default 8080 or LOMSONG_PORT)")
    serve.add_argument("--trusted-proxies", dest="trusted_proxies",
                       help="reverse proxies whose X-Forwarded-For is believed: comma-separated "
                            "addresses or networks, '*' for any (default 127.0.0.1 or "
                            "LOMSONG_TRUSTED_PROXIES); see docs/security.md")
    serve.add_argument("--workers", type=int, default=1,
                       help="worker processes (default 1; about one per CPU core for heavy ingest)")
    serve.set_defaults(handler=_serve)

    db = sub.add_parser("db", help="cơ sở dữ liệu (database schema)")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("migrate", help="apply pending migrations").set_defaults(handler=_db_migrate)
    db_sub.add_parser("status", help="show tier and migrations").set_defaults(handler=_db_status)

    for group, role in (("probes", "probe"), ("readers", "reader")):
        parser = sub.add_parser(group, help=f"quản lý mã truy cập ({role} tokens)")
        cmds = parser.add_subparsers(dest=f"{group}_command", required=True)
        add = cmds.add_parser("add", help=f"create a {role} token (printed once)")
        add.add_argument("name")
        add.set_defaults(handler=_token_add, role=role)
        revoke = cmds.add_parser("revoke", help=f"revoke a {role} token")
        revoke.add_argument("name")
        revoke.set_defaults(handler=_token_revoke, role=role)
        cmds.add_parser("list", help="list tokens").set_defaults(handler=_token_list, role=role)
    users_cli.register(sub)


def settings_from_args(args: argparse.Namespace) -> Settings:
    from pydantic import ValidationError

    from lomsong.collector.settings import Settings

    overrides = {k: getattr(args, k) for k in ("host", "port", "trusted_proxies")
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
    with database(settings) as url:
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

    with database(settings_from_args(args)) as url:
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

    with database(settings_from_args(args)) as url:
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
    from lomsong.collector.storage.tokens import create_token

    with database(settings_from_args(args)) as url:
        migrate(url)
        with psycopg.connect(url, autocommit=True) as conn:
            try:
                token = create_token(conn, args.name, args.role)
            except (StorageError, ValueError) as exc:
                print(f"lomsong: {exc}", file=sys.stderr)
                return 1
    print(f"# token for {args.role} {args.name!r}; shown once, store it now (chỉ hiển thị một lần)")
    print(token)
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.collector.storage.tokens import revoke_token

    with database(settings_from_args(args)) as url, psycopg.connect(url, autocommit=True) as conn:
        revoked = revoke_token(conn, args.name, args.role)
    if not revoked:
        print(f"lomsong: no active {args.role} token named {args.name!r}", file=sys.stderr)
        return 1
    print(f"revoked {args.role} token {args.name!r}")
    return 0


def _token_list(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.collector.storage.tokens import list_tokens

    with database(settings_from_args(args)) as url, psycopg.connect(url, autocommit=True) as conn:
        tokens = [t for t in list_tokens(conn) if t.role == args.role]
    for t in tokens:
        state = "revoked" if t.revoked_at else "active"
        last = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never"
        print(f"{t.name}\t{state}\tcreated {t.created_at:%Y-%m-%d}\tlast used {last}")
    return 0
