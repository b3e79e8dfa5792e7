"""The measurements behind a figure as CSV and GeoJSON, written batch by batch.

CSV: one row per measurement, codes rather than translated labels (a file for spreadsheets and
scripts), times in local time (Asia/Ho_Chi_Minh, with its offset) and in UTC, numbers to 10
significant digits, every text cell through `analysis.export.spreadsheet_safe` (a probe field
starting with ``=`` opens as text), CRLF line ends. GeoJSON (RFC 7946): a FeatureCollection of
points (``null`` geometry where a test had no position) with the same properties, and
``row_cap`` / ``truncated`` members saying whether the file stopped at the cap.

Example
-------
>>> b"".join(csv_chunks(iter([]))).decode().splitlines()[0][:40]
'time_local,time_utc,carrier,access,kind,'
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from lomsong.analysis.export import CSV_FLOAT_FORMAT, spreadsheet_safe
from lomsong.maps.i18n import LOCAL_TZ

__all__ = ["EXPORT_COLUMNS", "csv_chunks", "geojson_chunks", "geojson_tail"]

EXPORT_COLUMNS: tuple[str, ...] = (
    "time_local", "time_utc", "carrier", "access", "kind", "tool", "download_mbps",
    "upload_mbps", "rtt_ms", "jitter_ms", "loss_pct", "rsrp_dbm", "rsrq_db", "sinr_db",
    "cell_id", "pci", "band", "lat", "lon", "accuracy_m", "position_source", "probe_id",
    "site_id", "source", "clock", "error_kind", "error_message", "id",
)
_LOCAL = ZoneInfo(LOCAL_TZ)
_ROWS_PER_CHUNK = 500


def _values(row: dict[str, Any]) -> dict[str, Any]:
    time: datetime = row["time"]
    out = {c: row.get(c) for c in EXPORT_COLUMNS}
    out["time_local"] = time.astimezone(_LOCAL).isoformat(timespec="seconds")
    out["time_utc"] = time.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    out["id"] = str(row["id"])
    return out


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else CSV_FLOAT_FORMAT % value
    if isinstance(value, bool | int):
        return value
    return spreadsheet_safe(str(value))


def csv_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """The CSV file of `rows` (as `storage.behind.select_behind` gives them), in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    pending = 0
    for row in rows:
        values = _values(row)
        writer.writerow([_cell(values[c]) for c in EXPORT_COLUMNS])
        pending += 1
        if pending >= _ROWS_PER_CHUNK:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode()


def _feature(row: dict[str, Any]) -> str:
    values = _values(row)
    lat, lon = values.pop("lat"), values.pop("lon")
    geometry = None if lat is None or lon is None else {"type": "Point",
                                                         "coordinates": [lon, lat]}
    return json.dumps({"type": "Feature", "geometry": geometry, "properties": values},
                      ensure_ascii=False, allow_nan=False)


def geojson_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """The start and features of a GeoJSON FeatureCollection of `rows`; `geojson_tail` ends it."""
    yield b'{"type":"FeatureCollection","features":['
    parts: list[str] = []
    first = True
    for row in rows:
        parts.append(("" if first else ",") + _feature(row))
        first = False
        if len(parts) >= _ROWS_PER_CHUNK:
            yield "".join(parts).encode()
            parts = []
    yield "".join(parts).encode()


def geojson_tail(row_cap: int, truncated: bool) -> bytes:
    """The end of the FeatureCollection, saying whether the features stopped at `row_cap`."""
    return ("]," + json.dumps({"row_cap": row_cap, "truncated": truncated})[1:]).encode()
