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
    demo.add_argument("--port", type=int, default=8080, help="collector port (default 8080)")
    demo.add_argument("--days", type=int, default=14, help="days of synthetic survey (default 14)")
    demo.add_argument("--data-dir", type=Path,
                      help="where the demo keeps its database and outputs "
                           "(default: <user data dir>/lomsong/demo)")
    demo.add_argument("--once", action="store_true", help="exit after loading instead of serving")
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from lomsong.collector.settings import default_data_dir
    from lomsong.demo import DemoOptions, run_demo

    data_dir = args.data_dir or default_data_dir() / "demo"
    return run_demo(DemoOptions(data_dir=data_dir, port=args.port, days=args.days,
                                once=args.once))
