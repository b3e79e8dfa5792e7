"""Import a G-NetTrack Pro (Android drive-test app) CSV log.

Columns used: ``Timestamp`` (``yyyy.MM.dd_HH.mm.ss``, the phone's local time: the import's `tz`
makes it UTC; for the Irish sample files pass Europe/Dublin), ``Longitude``, ``Latitude``,
``NetworkMode``, ``RSRP``, ``RSRQ``, ``SNR``, ``RSSI``, ``DL_bitrate``/``UL_bitrate`` (kbit/s),
``State`` (``D`` downloading, ``U`` uploading, ``I`` idle), ``PINGAVG``, ``LACHEX``,
``RAWCELLID``, ``NRxRSRP``/``NRxRSRQ``. ``-`` means missing. Tab- or comma-separated.

Mapping: one Measurement per row, the row's radio and position on it.

- State ``D`` with a DL_bitrate -> ``throughput_down`` (``download_mbps = DL_bitrate / 1000``; a
  0 during a download is kept: a stalled download is evidence);
- State ``U`` with a UL_bitrate -> ``throughput_up``;
- any other row -> ``radio_snapshot``. PINGAVG, when present, becomes ``rtt_ms``.
- NetworkMode: 5G -> 5g_nsa (the app's "5G" on these phones is EN-DC), LTE -> 4g,
  HSPA+/HSUPA/HSDPA/UMTS -> 3g, EDGE/GPRS/GSM -> 2g.
- Radio: RSRP/RSRQ/SNR/RSSI are LTE values only on LTE and 5G rows (on 3G rows the app writes
  RSCP and Ec/Io into those columns, which are not RSRP/RSRQ and are dropped); NRxRSRP/NRxRSRQ
  only on 5G rows (on LTE rows they repeat the LTE values, on 3G rows they are stale);
  RAWCELLID -> cell_id; LACHEX -> tac on LTE/5G rows. Values outside the Measurement's bounds
  are sentinels, not measurements, and are dropped (the real logs hold NRxRSRQ -204.0 and
  2147483647, Android's "unavailable").
- Latitude/Longitude -> position with ``position_source=import`` (missing or 0/0: none).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any, Final

from lomsong.probe.importers._common import (
    ImportContext,
    ImportResult,
    RowError,
    build_measurement,
    cell_number,
)
from lomsong.probe.radio.snapshot import drop_implausible
from lomsong.probe.record import Access, Kind, Measurement, PositionSource

__all__ = ["REQUIRED", "import_gnettrack_csv"]

REQUIRED: Final = ("Timestamp", "Longitude", "Latitude", "NetworkMode", "State", "DL_bitrate")
_ACCESS: Final = {
    "5G": Access.NR_NSA,
    "NR": Access.NR_SA,
    "LTE": Access.LTE,
    "LTE+": Access.LTE,
    "HSPA+": Access.UMTS,
    "HSPA": Access.UMTS,
    "HSUPA": Access.UMTS,
    "HSDPA": Access.UMTS,
    "UMTS": Access.UMTS,
    "WCDMA": Access.UMTS,
    "EDGE": Access.GSM,
    "GPRS": Access.GSM,
    "GSM": Access.GSM,
}


_BLANKS: Final = frozenset({"", "-"})


def _value(row: dict[str, str], key: str) -> str | None:
    value = (row.get(key) or "").strip()
    return None if value in _BLANKS else value


def _number(row: dict[str, str], key: str) -> float | None:
    return cell_number(row, key, _BLANKS)


def _hex(row: dict[str, str], key: str) -> int | None:
    value = _value(row, key)
    if value is None:
        return None
    try:
        return int(value, 16)
    except ValueError:
        raise RowError(f"{key} is not hexadecimal: {value!r}") from None


def _row_fields(row: dict[str, str], ctx: ImportContext) -> dict[str, Any]:
    stamp = _value(row, "Timestamp") or ""
    try:
        local = datetime.strptime(stamp, "%Y.%m.%d_%H.%M.%S")
    except ValueError:
        raise RowError(f"Timestamp is not yyyy.MM.dd_HH.mm.ss: {stamp!r}") from None
    mode = (_value(row, "NetworkMode") or "").upper()
    access = _ACCESS.get(mode, Access.UNKNOWN)
    fields: dict[str, Any] = {
        "measured_at": ctx.local(local),
        "tool": "g-nettrack-pro",
        "access": access,
        "rtt_ms": _number(row, "PINGAVG"),
    }
    raw_cell = _number(row, "RAWCELLID")
    fields["cell_id"] = None if raw_cell is None else int(raw_cell)
    if access in (Access.LTE, Access.NR_NSA, Access.NR_SA):
        fields.update(
            rsrp_dbm=_number(row, "RSRP"),
            rsrq_db=_number(row, "RSRQ"),
            sinr_db=_number(row, "SNR"),
            rssi_dbm=_number(row, "RSSI"),
            tac=_hex(row, "LACHEX"),
        )
    if access in (Access.NR_NSA, Access.NR_SA):
        fields.update(nr_rsrp_dbm=_number(row, "NRxRSRP"), nr_rsrq_db=_number(row, "NRxRSRQ"))
    lat, lon = _number(row, "Latitude"), _number(row, "Longitude")
    if lat is not None and lon is not None and (lat, lon) != (0.0, 0.0):
        fields.update(lat=lat, lon=lon, position_source=PositionSource.IMPORT)
    return drop_implausible({k: v for k, v in fields.items() if v is not None})


def import_gnettrack_csv(text: str, ctx: ImportContext) -> ImportResult:
    result = ImportResult(format="gnettrack-csv")
    header = text.split("\n", 1)[0]
    reader = csv.DictReader(io.StringIO(text), delimiter="\t" if "\t" in header else ",")
    names = reader.fieldnames or []
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise RowError(f"not a G-NetTrack log: missing column(s) {', '.join(missing)}")
    for row in reader:
        line = reader.line_num

        def make(row: dict[str, str] = row, line: int = line) -> list[Measurement]:
            if None in row or any(v is None for v in row.values()):
                raise RowError(f"expected {len(names)} columns")
            fields = _row_fields(row, ctx)
            state = _value(row, "State")
            down, up = _number(row, "DL_bitrate"), _number(row, "UL_bitrate")
            raw = ",".join(row[name] for name in names)
            if state == "D" and down is not None:
                return [
                    build_measurement(
                        ctx,
                        line,
                        raw=raw,
                        kind=Kind.THROUGHPUT_DOWN,
                        download_mbps=down / 1000,
                        **fields,
                    )
                ]
            if state == "U" and up is not None:
                return [
                    build_measurement(
                        ctx, line, raw=raw, kind=Kind.THROUGHPUT_UP, upload_mbps=up / 1000, **fields
                    )
                ]
            return [build_measurement(ctx, line, raw=raw, kind=Kind.RADIO_SNAPSHOT, **fields)]

        result.attempt(line, make)
    return result
