"""``lomsong import FILE``: turn another tool's result file into Measurements.

Module-level imports stay light (argparse and the stdlib-only package root); the importers
and pydantic load inside the handler. The access choices mirror `probe.record` (a test keeps
them equal) and carriers go through `probe.carriers`, so `--help` needs no pydantic.
Output: the probe's spool (``--spool``, `probe.spool.Spool`) or JSON lines, one Measurement
each, to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lomsong.probe.carriers import carrier_arg
from lomsong.probe.importers import DEFAULT_TZ, FORMATS

if TYPE_CHECKING:
    from lomsong.probe.record import Measurement

__all__ = ["register_import"]

_ACCESS = ("5g_sa", "5g_nsa", "4g", "3g", "2g", "fixed", "wifi", "unknown")
_SHOWN_SKIPS = 20


def register_import(subparsers: Any) -> None:
    """Add the ``import`` subcommand to `subparsers` (an argparse sub-parsers action)."""
    parser = subparsers.add_parser(
        "import",
        help="nhập tệp kết quả đo từ công cụ khác (import another tool's result file)",
        description="Nhập tệp kết quả (Ookla CLI, speedtest-cli, ứng dụng Speedtest, G-NetTrack) "
        "thành các phép đo. (Import result files as measurements.)",
    )
    parser.add_argument("file", type=Path, help="tệp cần nhập (file to import)")
    parser.add_argument(
        "--format", choices=tuple(FORMATS), help="định dạng; mặc định tự nhận (default: detect)"
    )
    parser.add_argument("--probe-id", default="import", help="mã thiết bị/người đo (probe id)")
    parser.add_argument("--carrier", type=carrier_arg(), metavar="CARRIER",
                        help="nhà mạng nếu tệp không ghi, vd. Viettel, VinaPhone "
                        "(carrier when the file has none, any usual name)")
    parser.add_argument("--access", choices=_ACCESS, help="công nghệ truy nhập nếu tệp không ghi")
    parser.add_argument(
        "--tz",
        default=DEFAULT_TZ,
        help="múi giờ của giờ địa phương trong tệp (time zone of local times)",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--spool", type=Path, help="thêm vào hàng đợi của thiết bị đo (probe spool file)")
    target.add_argument("--out", type=Path, help="ghi JSON lines vào tệp này (write JSON lines here)")
    parser.set_defaults(handler=_handle_import)


def _write(measurements: list[Measurement], *, spool: Path | None, out: Path | None) -> str:
    """Store `measurements` in the spool or a JSON-lines file; return where, for the message."""
    if spool is not None:
        from lomsong.probe.spool import Spool

        with Spool(spool) as queue:
            stored = queue.add_many(measurements)
        if stored != len(measurements):
            return f"{spool} ({len(measurements) - stored} bị từ chối vì hàng đợi đầy / refused: spool full)"
        return str(spool)
    assert out is not None
    with out.open("w", encoding="utf-8") as stream:
        for measurement in measurements:
            stream.write(measurement.model_dump_json() + "\n")
    return str(out)


def _handle_import(args: argparse.Namespace) -> int:
    from lomsong.probe.errors import ParseError, SpoolError
    from lomsong.probe.importers import import_file
    from lomsong.probe.record import Access, Carrier

    try:
        result = import_file(
            args.file,
            probe_id=args.probe_id,
            carrier=Carrier(args.carrier) if args.carrier else None,
            access=Access(args.access) if args.access else None,
            fmt=args.format,
            tz=args.tz,
        )
    except ParseError as exc:
        print(f"Không nhập được tệp (cannot import): {exc}", file=sys.stderr)
        return 2
    try:
        where = _write(result.measurements, spool=args.spool, out=args.out)
    except (OSError, SpoolError) as exc:
        print(f"Không ghi được kết quả (cannot store): {exc}", file=sys.stderr)
        return 1
    print(f"Định dạng (format): {result.format}")
    print(
        f"Đã nhập {len(result.measurements)} phép đo vào {where} "
        f"(imported {len(result.measurements)} measurements)"
    )
    if result.skipped:
        print(f"Bỏ qua {len(result.skipped)} dòng (skipped {len(result.skipped)} rows):")
        for line, reason in result.skipped[:_SHOWN_SKIPS]:
            print(f"  dòng (line) {line}: {reason}")
        if len(result.skipped) > _SHOWN_SKIPS:
            print(f"  ... và {len(result.skipped) - _SHOWN_SKIPS} dòng khác (and more)")
    return 0
