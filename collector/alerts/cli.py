"""`lomsong alerts run|subscribe`: evaluate and send alerts now; subscribe a user (argparse only)."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]

_KINDS = ("site_below_target", "probe_silent", "spool_backlog", "case_overdue")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from lomsong.collector.cli import database_options

    db_options = database_options()
    parser = sub.add_parser("alerts", help="cảnh báo (alerts)")
    cmds = parser.add_subparsers(dest="alerts_command", required=True)
    cmds.add_parser("run", parents=[db_options],
                    help="đánh giá và gửi cảnh báo một lần (evaluate and send alerts once)"
                    ).set_defaults(handler=_run)
    add = cmds.add_parser("subscribe", parents=[db_options],
                          help="đăng ký nhận cảnh báo cho một người dùng (subscribe a user)")
    add.add_argument("name")
    channel = add.add_mutually_exclusive_group(required=True)
    channel.add_argument("--email", metavar="ADDRESS")
    channel.add_argument("--webhook", metavar="URL",
                         help="http(s) URL; its secret (32+ characters) is read from stdin")
    add.add_argument("--kinds", default=",".join(_KINDS),
                     help=f"loại cảnh báo (alert kinds, comma-separated; default all: "
                          f"{','.join(_KINDS)})")
    add.set_defaults(handler=_subscribe)


def _run(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.collector.alerts.service import run_once
    from lomsong.collector.cli import database_from_args, settings_from_args

    settings = settings_from_args(args)
    with database_from_args(args) as url, psycopg.connect(url, autocommit=True) as conn:
        report = run_once(conn, settings)
    if not report.ran:
        print("đang có lượt đánh giá khác, bỏ qua (another evaluation is running; skipped)")
        return 0
    print(f"{report.open_alerts} cảnh báo đang mở, {report.messages} tin đã gửi, "
          f"{report.quiet} trong thời gian im lặng, {report.failed} lỗi gửi "
          f"({report.open_alerts} open alerts, {report.messages} messages sent, "
          f"{report.quiet} quiet, {report.failed} failed)")
    return 1 if report.failed else 0


def _usage(message: str) -> int:
    print(f"lomsong alerts: {message}", file=sys.stderr)
    return 2


def _subscribe(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.collector.cli import database_from_args
    from lomsong.collector.storage.alerts import add_subscription

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in _KINDS]
    if unknown or not kinds:
        return _usage(f"--kinds: loại không rõ (unknown kinds) {unknown}; "
                      f"chọn trong (choose from) {', '.join(_KINDS)}")
    secret: str | None = None
    if args.webhook:
        if not args.webhook.startswith(("https://", "http://")):
            return _usage("--webhook: cần URL http(s) (an http(s) URL is needed)")
        secret = sys.stdin.readline().strip()
        if len(secret) < 32:
            return _usage("webhook secret: cần ít nhất 32 ký tự trên stdin "
                          "(needs 32+ characters on standard input)")
    elif "@" not in args.email or any(c in args.email for c in "\r\n,;<> "):
        return _usage(f"--email: {args.email!r} không phải địa chỉ thư (not an address)")
    with database_from_args(args) as url, psycopg.connect(url, autocommit=True) as conn:
        add_subscription(conn, args.name.strip().lower(), "email" if args.email else "webhook",
                         args.email or args.webhook, kinds, secret)
    print(f"đã đăng ký {args.name} (subscribed)")
    return 0
