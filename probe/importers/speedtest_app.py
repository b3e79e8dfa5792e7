"""Import the Speedtest Android app's "export results" CSV.

Header: ``Date,ConnType,Lat,Lon,Download,Upload,Latency,ServerName,InternalIp,ExternalIp``.
`Date` is the phone's local wall-clock time (``YYYY-MM-DD HH:MM``, no zone: the import's `tz`
makes it UTC); Download/Upload are **kbit/s** (Mbps = kbit/s / 1000); Latency is ms. ConnType
gives the access: Wifi -> wifi, Edge -> 2g, Umts -> 3g, Lte -> 4g; "Cell" (no detail) -> unknown.
Each row becomes a ``throughput_down`` and a ``throughput_up`` Measurement with the row's
position (``position_source=import``; 0/0 or blank means none).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Final

from lomsong.probe.importers._common import (
    ImportContext,
    ImportResult,
    RowError,
    build_measurement,
    cell_number,
)
from lomsong.probe.record import Access, Kind, Measurement, PositionSource

__all__ = ["HEADER", "import_speedtest_app_csv"]

HEADER: Final = ("Date", "ConnType", "Lat", "Lon", "Download", "Upload", "Latency", "ServerName")
_ACCESS: Final = {
    "wifi": Access.WIFI,
    "edge": Access.GSM,
    "gprs": Access.GSM,
    "umts": Access.UMTS,
    "hspa": Access.UMTS,
    "lte": Access.LTE,
    "5g": Access.NR_NSA,
    "cell": Access.UNKNOWN,
}


def import_speedtest_app_csv(text: str, ctx: ImportContext) -> ImportResult:
    result = ImportResult(format="speedtest-app-csv")
    reader = csv.DictReader(io.StringIO(text))
    missing = [name for name in HEADER if name not in (reader.fieldnames or [])]
    if missing:
        raise RowError(f"not a Speedtest app export: missing column(s) {', '.join(missing)}")
    for cell in reader:
        line = reader.line_num

        def make(cell: dict[str, str] = cell, line: int = line) -> list[Measurement]:
            if None in cell or any(v is None for v in cell.values()):
                raise RowError("wrong number of columns")
            try:
                local = datetime.strptime(cell["Date"].strip(), "%Y-%m-%d %H:%M")
            except ValueError:
                raise RowError(f"Date is not YYYY-MM-DD HH:MM: {cell['Date']!r}") from None
            conn = cell["ConnType"].strip().lower()
            if conn not in _ACCESS:
                raise RowError(f"unknown ConnType {cell['ConnType']!r}")
            lat, lon = cell_number(cell, "Lat"), cell_number(cell, "Lon")
            position = {}
            if lat is not None and lon is not None and (lat, lon) != (0.0, 0.0):
                position = {"lat": lat, "lon": lon, "position_source": PositionSource.IMPORT}
            down, up = cell_number(cell, "Download"), cell_number(cell, "Upload")
            common = {
                "measured_at": ctx.local(local),
                "tool": "speedtest-android-app",
                "server": cell["ServerName"].strip() or None,
                "access": _ACCESS[conn],
                "rtt_ms": cell_number(cell, "Latency"),
                **position,
            }
            raw = ",".join(cell[k] for k in reader.fieldnames or ())
            out = []
            if down is not None:
                out.append(
                    build_measurement(
                        ctx,
                        line,
                        raw=raw,
                        leg="down",
                        kind=Kind.THROUGHPUT_DOWN,
                        download_mbps=down / 1000,
                        **common,
                    )
                )
            if up is not None:
                out.append(
                    build_measurement(
                        ctx,
                        line,
                        raw=raw,
                        leg="up",
                        kind=Kind.THROUGHPUT_UP,
                        upload_mbps=up / 1000,
                        **common,
                    )
                )
            if not out:
                raise RowError("no Download or Upload value")
            return out

        result.attempt(line, make)
    return result
