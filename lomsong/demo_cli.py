"""`lomsong demo`: registered by the top-level CLI; heavy imports happen in the handler."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser(
        "demo",
        help="chạy thử toàn bộ: CSDL, máy chủ, đầu đo, khảo sát mẫu (run the whole job on a demo)",
    )
    demo.add_argument(
        "--database-url", metavar="URL",
        help="URL PostgreSQL; mặc định LOMSONG_DATABASE_URL, nếu không có thì CSDL nhúng riêng của "
             "bản demo (PostgreSQL URL; default LOMSONG_DATABASE_URL, else the demo's own "
             "embedded database)")
    demo.add_argument("--port", type=int, default=8080,
                      help="cổng máy chủ thu thập (collector port, default 8080)")
    demo.add_argument("--days", type=int, default=14,
                      help="số ngày khảo sát tổng hợp (days of synthetic survey, default 14)")
    demo.add_argument("--data-dir", type=Path,
                      help="nơi bản demo giữ CSDL và kết quả (where the demo keeps its database "
                           "and outputs; default <LOMSONG_DATA_DIR>/demo); the other commands "
                           "reach its database with --demo [DIR]")
    demo.add_argument("--once", action="store_true",
                      help="thoát sau khi nạp, không phục vụ (exit after loading instead of "
                           "serving until Ctrl-C or SIGTERM)")
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from lomsong.collector.cli import settings_from_args
    from lomsong.demo import DemoOptions, run_demo

    data_dir = args.data_dir or settings_from_args(args).data_dir / "demo"
    return run_demo(DemoOptions(data_dir=data_dir, port=args.port, days=args.days,
                                once=args.once, database_url=args.database_url))
