"""`lomsong servers add|remove|list`: the city's iperf3 servers that probes get from the collector."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             db_options: argparse.ArgumentParser) -> None:  # fmt: skip
    """Add `servers`; `db_options` is the shared ``--database-url``/``--demo`` parent parser."""
    parser = sub.add_parser("servers", help="máy chủ iperf3 của thành phố (the city's iperf3 servers)")
    cmds = parser.add_subparsers(dest="servers_command", required=True)
    add = cmds.add_parser("add", parents=[db_options],
                          help="thêm hoặc sửa máy chủ (add a server, or change its capacity)")  # fmt: skip
    add.add_argument("address", help="host:port")
    add.add_argument("--capacity", type=float, default=1.0, help="its share of the tests (default 1)")
    add.set_defaults(handler=_add)
    remove = cmds.add_parser("remove", parents=[db_options], help="bỏ máy chủ (remove a server)")
    remove.add_argument("address")
    remove.set_defaults(handler=_remove)
    cmds.add_parser("list", parents=[db_options], help="liệt kê máy chủ (list the servers)"
                    ).set_defaults(handler=_list)  # fmt: skip


def _add(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.collector.cli import database_from_args
    from lomsong.collector.errors import StorageError
    from lomsong.collector.storage.servers import add_server

    with database_from_args(args) as url, psycopg.connect(url, autocommit=True) as conn:
        try:
            server = add_server(conn, args.address, args.capacity)
        except StorageError as exc:
            print(f"lomsong: {exc}", file=sys.stderr)
            return 2
    print(f"{server.address}\tcapacity {server.capacity:g}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.collector.cli import database_from_args
    from lomsong.collector.errors import StorageError
    from lomsong.collector.storage.servers import remove_server

    with database_from_args(args) as url, psycopg.connect(url, autocommit=True) as conn:
        try:
            removed = remove_server(conn, args.address)
        except StorageError as exc:
            print(f"lomsong: {exc}", file=sys.stderr)
            return 2
    if not removed:
        print(f"lomsong: không có máy chủ {args.address!r} (no such server)", file=sys.stderr)
        return 1
    return 0


def _list(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    import psycopg

    from lomsong.collector.cli import database_from_args
    from lomsong.collector.storage.scope import Scope
    from lomsong.collector.storage.servers import list_servers, pool_load

    end = datetime.now(UTC)
    with database_from_args(args) as url, psycopg.connect(url, autocommit=True) as conn:
        servers = list_servers(conn)
        load = pool_load(conn, Scope.all_wards(), end - timedelta(days=1), end)
    for s in servers:
        print(f"{s.address}\tcapacity {s.capacity:g}\tadded {s.added_at:%Y-%m-%d}")
    share = "-" if load.met_busy_share is None else f"{100 * load.met_busy_share:.1f}%"
    print(f"24 giờ qua (last 24 h): {load.tests} phép đo qua nhóm máy chủ (pooled tests), "
          f"{load.met_busy} gặp máy chủ bận (met a busy server: {share}), "
          f"{load.server_busy} server_busy")
    return 0
