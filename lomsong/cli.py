"""The `lomsong` command: one entry point, subcommands registered by each part.

Each part's `cli` module imports only argparse at module level and its heavy dependencies inside
the handlers, so `lomsong probe ...` on a Raspberry Pi never imports pandas, FastAPI or psycopg.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from lomsong import __version__

# (module, function) pairs; each function adds its subcommands to the parser.
_PARTS: tuple[str, ...] = (
    "lomsong.probe.cli",
    "lomsong.collector.cli",
    "lomsong.collector.phone.cli",
    "lomsong.analysis.cli",
    "lomsong.maps.cli",
    "lomsong.demo_cli",
)

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lomsong",
        description="Đo chất lượng mạng di động và cố định của phường, tìm vùng lõm sóng. "
        "(Survey mobile and fixed broadband quality in a ward and find dead spots.)",
    )
    parser.add_argument("--version", action="version", version=f"lomsong {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    schema = sub.add_parser(
        "schema", help="in lược đồ JSON của bản ghi đo (print the Measurement JSON schema)"
    )
    schema.set_defaults(handler=_schema)
    for name in _PARTS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def _schema(args: argparse.Namespace) -> int:
    import json

    from lomsong.probe.record import Measurement

    print(json.dumps(Measurement.json_schema(), indent=2, ensure_ascii=False))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
