"""The `lomsong` command: one entry point, subcommands registered by each part.

Each part's `cli` module imports only argparse at module level and its heavy dependencies inside
the handlers, so `lomsong probe ...` on a Raspberry Pi never imports pandas, FastAPI or psycopg.

Every user mistake ends in one line on standard error, Vietnamese first, and exit code 2: the
errors each part raises on purpose (`_user_errors`) are caught here (``-v -v`` adds the
traceback). SIGTERM (systemd, docker, ``kill``) stops a command as Ctrl-C does, so `lomsong serve`
and `lomsong demo` stop their embedded PostgreSQL on either.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING

from lomsong import __version__

if TYPE_CHECKING:
    from lomsong.analysis.period import PeriodError

# Modules whose `register(subparsers)` adds their subcommands (skipped if their part is absent).
_PARTS: tuple[str, ...] = (
    "lomsong.probe.cli",
    "lomsong.collector.cli",
    "lomsong.collector.alerts.cli",
    "lomsong.collector.phone.cli",
    "lomsong.survey_cli",
    "lomsong.maps.cli",
    "lomsong.demo_cli",
)

Handler = Callable[[argparse.Namespace], int]
USAGE_EXIT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lomsong",
        description="Đo chất lượng mạng di động và cố định của phường, tìm vùng lõm sóng. "
        "(Survey mobile and fixed broadband quality in a ward and find dead spots.)",
    )
    parser.add_argument("--version", action="version", version=f"lomsong {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="in thêm nhật ký (more log output)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    schema = sub.add_parser(
        "schema", help="in lược đồ JSON của bản ghi đo (print the Measurement JSON schema)",
        description="In lược đồ JSON của bản ghi đo (Measurement), hợp đồng giữa đầu đo và máy "
                    "chủ. (Print the JSON schema of the Measurement record, the wire contract "
                    "between probes and the collector.)")
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


def _user_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that report a user's mistake (each part's, where the part is installed)."""
    from lomsong.analysis.period import PeriodError
    from lomsong.errors import UsageError
    from lomsong.probe.carriers import UnknownCarrier
    from lomsong.probe.errors import ProbeError

    found: list[type[BaseException]] = [PeriodError, UsageError, UnknownCarrier, ProbeError,
                                        OSError]
    try:
        from lomsong.collector.errors import CollectorError
        from lomsong.maps.cli import InputError
    except ImportError:
        return tuple(found)
    return (*found, CollectorError, InputError)


def _period_text(exc: PeriodError) -> str:
    """A period mistake in Vietnamese, then English in brackets, as every line here (catalogs of
    `maps.i18n`; the English message ids alone where the maps part is not installed)."""
    try:
        from lomsong.maps.i18n import translator
    except ImportError:
        return str(exc)
    return f"{exc.message(translator('vi'))} ({exc.message(translator('en'))})"


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Handler = args.handler
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm) if main_thread else None
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("đã dừng (stopped)", file=sys.stderr)
        return 130
    except Exception as exc:
        if not isinstance(exc, _user_errors()):
            raise
        if args.verbose >= 2:
            logging.exception("lomsong %s", args.command)
        from lomsong.analysis.period import PeriodError

        if isinstance(exc, PeriodError):
            text = _period_text(exc)
        elif isinstance(exc, OSError) and exc.strerror:
            where = f": {exc.filename}" if exc.filename else ""
            text = f"lỗi tệp hoặc mạng (file or network error): {exc.strerror}{where}"
        else:
            text = " ".join(str(exc).split()) or type(exc).__name__
        print(f"lomsong {args.command}: {text}", file=sys.stderr)
        return USAGE_EXIT
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
