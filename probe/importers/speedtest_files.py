"""Import speedtest results: Ookla CLI JSON (one object, or JSON lines) and sivel speedtest-cli
JSON and CSV (no header).

Each result becomes two Measurements, ``throughput_down`` and ``throughput_up`` (a direction the
tool skipped is left out), with rtt/jitter/loss on both, bytes moved as `bytes_used`, the tool's
own timestamp (UTC) and the original line as `raw`. Ids are ``uuid5(sha256(file), line, leg)``.
These files carry no radio information: pass the carrier and access on the command line.
"""

from __future__ import annotations

from collections.abc import Callable

from lomsong.probe.errors import ParseError
from lomsong.probe.importers._common import ImportContext, ImportResult, RowError, build_measurement
from lomsong.probe.record import Measurement
from lomsong.probe.runners.speedtest import (
    SpeedtestResult,
    parse_ookla_cli_json,
    parse_speedtest_cli_csv,
    parse_speedtest_cli_json,
    result_legs,
)

__all__ = ["import_ookla_json", "import_speedtest_cli_csv", "import_speedtest_cli_json"]


def _measurements(result: SpeedtestResult, ctx: ImportContext, line: int, raw: str) -> list[Measurement]:
    return [
        build_measurement(
            ctx,
            line,
            raw=raw,
            leg=kind.value,
            measured_at=result.measured_at,
            kind=kind,
            interface=result.interface,
            **fields,
        )
        for kind, fields in result_legs(result)
    ]


def _per_line(
    text: str, ctx: ImportContext, fmt: str, parse: Callable[[str, str], SpeedtestResult]
) -> ImportResult:
    result = ImportResult(format=fmt)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue

        def make(line: str = line, number: int = number) -> list[Measurement]:
            try:
                parsed = parse(line, fmt)
            except ParseError as exc:
                raise RowError(str(exc)) from None
            return _measurements(parsed, ctx, number, line)

        result.attempt(number, make)
    return result


def _objects(
    text: str, ctx: ImportContext, fmt: str, parse: Callable[[str, str], SpeedtestResult]
) -> ImportResult:
    """One object per line (JSON lines), or a single object spread over several lines."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or (lines[0].startswith("{") and lines[0].endswith("}")):
        return _per_line(text, ctx, fmt, parse)
    result = ImportResult(format=fmt)

    def make() -> list[Measurement]:
        try:
            parsed = parse(text, fmt)
        except ParseError as exc:
            raise RowError(str(exc)) from None
        return _measurements(parsed, ctx, 1, text)

    result.attempt(1, make)
    return result


def import_ookla_json(text: str, ctx: ImportContext) -> ImportResult:
    """Ookla CLI ``-f json`` lines, or one ``-f json-pretty`` object."""
    return _objects(text, ctx, "ookla-json", parse_ookla_cli_json)


def import_speedtest_cli_json(text: str, ctx: ImportContext) -> ImportResult:
    """sivel ``speedtest-cli --json``: one object, or one per line (a log of runs)."""
    return _objects(text, ctx, "speedtest-cli-json", parse_speedtest_cli_json)


def _one_csv_row(line: str, source: str) -> SpeedtestResult:
    rows = parse_speedtest_cli_csv(line, source)
    if len(rows) != 1:
        raise ParseError("header line, not a result", source=source)
    return rows[0]


def import_speedtest_cli_csv(text: str, ctx: ImportContext) -> ImportResult:
    """sivel ``speedtest-cli --csv`` lines; a ``--csv-header`` line is skipped silently."""
    lines = text.splitlines()
    if lines and lines[0].startswith("Server ID,"):
        text = "\n" + "\n".join(lines[1:])
    return _per_line(text, ctx, "speedtest-cli-csv", _one_csv_row)
