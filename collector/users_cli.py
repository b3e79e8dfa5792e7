"""`lomsong users add|disable|enable|list`: dashboard accounts (argparse only at import)."""

from __future__ import annotations

import argparse
import getpass
import sys

__all__ = ["MIN_PASSWORD_CHARS", "register"]

MIN_PASSWORD_CHARS = 10


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             db_options: argparse.ArgumentParser) -> None:
    """Add `users`; `db_options` is the shared ``--database-url``/``--demo`` parent parser."""
    parser = sub.add_parser("users", help="tài khoản bảng điều khiển (dashboard users)")
    cmds = parser.add_subparsers(dest="users_command", required=True)
    add = cmds.add_parser("add", parents=[db_options],
                          help="tạo người dùng; mật khẩu được hỏi, hoặc --password-stdin "
                               "(create a user; password prompted, or --password-stdin)")
    add.add_argument("name")
    add.add_argument("--role", required=True,
                     choices=("admin", "officer", "city_officer", "city_admin", "carrier"),
                     help="admin/officer: of one ward (--ward); city_officer reads every ward; "
                          "city_admin; carrier: a carrier's account (--carrier)")
    add.add_argument("--ward", metavar="CODE",
                     help="mã phường/xã 5 số của admin/officer (the 5-digit ward code)")
    add.add_argument("--carrier", choices=("viettel", "vnpt", "mobifone"),
                     help="nhà mạng của tài khoản nhà mạng (a carrier account's carrier)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    add.set_defaults(handler=_add)
    for verb, text in (
        ("disable", "khóa người dùng và kết thúc các phiên của họ "
                    "(disable a user and end their sessions)"),
        ("enable", "mở khóa người dùng (enable a user again)"),
    ):
        cmd = cmds.add_parser(verb, parents=[db_options], help=text)
        cmd.add_argument("name")
        cmd.set_defaults(handler=_toggle, disabled=verb == "disable")
    cmds.add_parser("list", parents=[db_options], help="liệt kê người dùng (list users)"
                    ).set_defaults(handler=_list)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Mật khẩu (password): ")
    if getpass.getpass("Nhập lại (repeat): ") != first:
        raise SystemExit("lomsong: hai mật khẩu không khớp (passwords differ)")
    return first


def _add(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.collector.cli import database_from_args
    from lomsong.collector.dashboard.security import hash_password
    from lomsong.collector.errors import StorageError
    from lomsong.collector.storage.migrate import migrate
    from lomsong.collector.storage.users import create_user

    password = _password(args)
    if len(password) < MIN_PASSWORD_CHARS:
        print(f"lomsong: mật khẩu cần ít nhất {MIN_PASSWORD_CHARS} ký tự "
              f"(password needs at least {MIN_PASSWORD_CHARS} characters)", file=sys.stderr)
        return 2
    password_hash = hash_password(password)
    with database_from_args(args, schema=False) as url:
        migrate(url)
        with psycopg.connect(url, autocommit=True) as conn:
            try:
                create_user(conn, args.name.strip().lower(), password_hash, args.role,
                            ward_code=args.ward, carrier=args.carrier)
            except StorageError as exc:
                print(f"lomsong: {exc}", file=sys.stderr)
                return 1
    print(f"đã tạo người dùng {args.name.strip().lower()!r} ({args.role}) (user created)")
    return 0


def _toggle(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.collector.cli import database_from_args
    from lomsong.collector.storage.scope import Scope
    from lomsong.collector.storage.users import set_disabled

    with database_from_args(args) as url, psycopg.connect(url, autocommit=True) as conn:
        changed = set_disabled(conn, args.name, args.disabled, Scope.city_wide(write=True))
    if not changed:
        print(f"lomsong: không có người dùng {args.name!r} (no such user)", file=sys.stderr)
        return 1
    print(f"{args.name}: {'disabled' if args.disabled else 'enabled'}")
    return 0


def _list(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.collector.cli import database_from_args
    from lomsong.collector.storage.scope import Scope
    from lomsong.collector.storage.users import list_users

    with database_from_args(args) as url, psycopg.connect(url, autocommit=True) as conn:
        users = list_users(conn, Scope.all_wards())
    for u in users:
        state = "active" if u.active else "disabled"
        where = u.ward_code or u.carrier or "-"
        print(f"{u.username}\t{u.role}\t{state}\tcreated {u.created_at:%Y-%m-%d}\t{where}")
    return 0
