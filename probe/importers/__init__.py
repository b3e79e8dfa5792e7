"""Import measurement files made by other tools, as `source=import` Measurements.

Formats (`FORMATS`): ``ookla-json`` (Ookla CLI ``-f json`` lines or ``json-pretty``),
``speedtest-cli-json`` and ``speedtest-cli-csv`` (sivel speedtest-cli), ``speedtest-app-csv``
(Speedtest Android app export) and ``gnettrack-csv`` (G-NetTrack Pro drive-test log). Each
module's docstring documents its mapping.

Ids are deterministic, ``uuid5(sha256(file content), row)``, so importing the same file twice
sends the same ids and the collector keeps one copy. A bad row is skipped and reported as
``(line, reason)``; a file that cannot be read at all raises `ParseError` naming the file.

Example
-------
>>> from pathlib import Path
>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "st.csv"
>>> row = "1,Viettel,Hanoi,2026-11-02T03:00:00Z,1.0,20.5,45000000,9000000,,1.2.3.4"
>>> _ = path.write_text(row + "\\n")
>>> detect_format(path)
'speedtest-cli-csv'
>>> r = import_file(path, probe_id="volunteer-7")
>>> [(m.kind.value, m.download_mbps or m.upload_mbps) for m in r.measurements], r.skipped
([('throughput_down', 45.0), ('throughput_up', 9.0)], [])
"""

from __future__ import annotations

import csv
import importlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from lomsong.probe.errors import ParseError

if TYPE_CHECKING:
    from lomsong.probe.importers._common import ImportContext, ImportResult
    from lomsong.probe.record import Access, Carrier

__all__ = ["DEFAULT_TZ", "FORMATS", "ImportResult", "detect_format", "import_file"]

DEFAULT_TZ: Final = "Asia/Ho_Chi_Minh"
# Format name -> "module:function". Loaded on use, so `lomsong import --help` stays fast.
FORMATS: Final[dict[str, str]] = {
    "ookla-json": "lomsong.probe.importers.speedtest_files:import_ookla_json",
    "speedtest-cli-json": "lomsong.probe.importers.speedtest_files:import_speedtest_cli_json",
    "speedtest-cli-csv": "lomsong.probe.importers.speedtest_files:import_speedtest_cli_csv",
    "speedtest-app-csv": "lomsong.probe.importers.speedtest_app:import_speedtest_app_csv",
    "gnettrack-csv": "lomsong.probe.importers.gnettrack:import_gnettrack_csv",
}
_SIVEL_CSV: Final = re.compile(r"^\d+,(\"[^\"]*\"|[^,]*),[^,]*,\d{4}-\d\d-\d\dT[^,]*,")


def __getattr__(name: str) -> Any:
    if name == "ImportResult":
        from lomsong.probe.importers._common import ImportResult

        return ImportResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _importer(fmt: str) -> Callable[[str, ImportContext], ImportResult]:
    module, function = FORMATS[fmt].split(":")
    found: Callable[[str, ImportContext], ImportResult] = getattr(importlib.import_module(module), function)
    return found


def _read(path: Path) -> tuple[bytes, str]:
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ParseError(f"cannot read file: {exc.strerror or exc}", source=str(path)) from None
    try:
        return content, content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text (byte {exc.start})", source=str(path)) from None


def _detect(text: str) -> str | None:
    head = text.lstrip()[:4096]
    first = head.split("\n", 1)[0].strip()
    if head.startswith("{"):
        if re.search(r'"type"\s*:\s*"(result|log)"', head):
            return "ookla-json"
        if '"bytes_received"' in head or '"client"' in head:
            return "speedtest-cli-json"
        return None
    if first.replace("\t", ",").startswith("Timestamp,Longitude,Latitude"):
        return "gnettrack-csv"
    if first.replace('"', "").startswith("Date,ConnType,"):
        return "speedtest-app-csv"
    if first.startswith("Server ID,Sponsor") or _SIVEL_CSV.match(first):
        return "speedtest-cli-csv"
    return None


def detect_format(path: Path) -> str:
    """Name the format of `path` from its first lines; `ParseError` when unknown."""
    fmt = _detect(_read(path)[1])
    if fmt is None:
        raise ParseError(f"unknown format; give one of: {', '.join(FORMATS)}", source=str(path))
    return fmt


def import_file(
    path: Path,
    *,
    probe_id: str,
    carrier: Carrier | None = None,
    access: Access | None = None,
    fmt: str | None = None,
    tz: str = DEFAULT_TZ,
) -> ImportResult:
    """Read `path` (format detected unless `fmt` is given) into Measurements.

    `tz` is the time zone of files that record the phone's local time (G-NetTrack, Speedtest app).
    """
    content, text = _read(path)
    if fmt is None:
        fmt = _detect(text)
        if fmt is None:
            raise ParseError(f"unknown format; give one of: {', '.join(FORMATS)}", source=str(path))
    if fmt not in FORMATS:
        raise ParseError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}", source=str(path))
    from lomsong.probe.importers._common import ImportContext, RowError

    try:
        ctx = ImportContext.for_content(content, probe_id=probe_id, carrier=carrier, access=access, tz=tz)
    except (KeyError, ValueError) as exc:
        raise ParseError(f"bad time zone {tz!r}: {exc}", source=str(path)) from None
    try:
        result = _importer(fmt)(re.sub(r"\r\n?", "\n", text), ctx)
    except RowError as exc:
        raise ParseError(str(exc), source=str(path)) from None
    except csv.Error as exc:
        raise ParseError(f"unreadable CSV: {exc}", source=str(path)) from None
    if not result.measurements and result.skipped:
        first_line, reason = result.skipped[0]
        raise ParseError(f"no row could be imported (first: {reason})", source=str(path), line=first_line)
    return result
