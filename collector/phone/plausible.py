"""Plausibility checks on browser records: flags kept beside a record, never a rejection.

A flag says why a record deserves a second look; the analysis decides what to do with flagged
records. Checks:

- ``faster_than_server``: a rate above what this collector can serve;
- ``rate_exceeds_bytes``: a rate the bytes moved in the time taken cannot support;
- ``position_jump``: a move from the phone's previous position faster than `MAX_SPEED_M_S`
  (beyond both positions' stated accuracy);
- ``repeated``: the same results and position as an earlier record of the phone under another id.

Example
-------
>>> distance_m(21.0, 105.8, 21.0, 105.8)
0.0
>>> round(distance_m(21.0, 105.8, 21.01, 105.8))
1112
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from lomsong.collector.storage.enrolments import DeviceRecord
from lomsong.collector.storage.ingest import StoredRecord

__all__ = ["MAX_SPEED_M_S", "distance_m", "flag_records"]

MAX_SPEED_M_S: Final = 50.0  # 180 km/h: faster than anyone walks or drives in a ward
_EARTH_M: Final = 6_371_008.8
_RATE_SLACK: Final = 1.25


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_M * math.asin(min(1.0, math.sqrt(h)))


def _as_device_record(r: StoredRecord) -> DeviceRecord:
    m = r.measurement
    return DeviceRecord(m.id, r.time, m.kind.value, m.lat, m.lon, m.accuracy_m, m.download_mbps,
                        m.upload_mbps, m.rtt_ms)


def _signature(r: DeviceRecord) -> tuple[object, ...] | None:
    if r.download_mbps is None and r.upload_mbps is None and r.rtt_ms is None:
        return None
    return (r.kind, r.download_mbps, r.upload_mbps, r.rtt_ms, r.lat, r.lon)


def _jumped(before: DeviceRecord, after: DeviceRecord) -> bool:
    if before.lat is None or before.lon is None or after.lat is None or after.lon is None:
        return False
    slack_m = (before.accuracy_m or 0.0) + (after.accuracy_m or 0.0)
    moved_m = distance_m(before.lat, before.lon, after.lat, after.lon) - slack_m
    elapsed_s = abs((after.time - before.time).total_seconds())
    return moved_m > MAX_SPEED_M_S * elapsed_s


def flag_records(records: Sequence[StoredRecord], history: Sequence[DeviceRecord],
                 max_serve_mbps: float) -> dict[str, tuple[str, ...]]:
    """Flags per record id (as text) for `records` of one phone, given its earlier `history`."""
    known = {h.id for h in history}
    fresh = [r for r in records if r.measurement.id not in known]
    flags: dict[str, list[str]] = {str(r.measurement.id): [] for r in fresh}
    for r in fresh:
        m = r.measurement
        rates = [x for x in (m.download_mbps, m.upload_mbps) if x is not None]
        if any(x > max_serve_mbps for x in rates):
            flags[str(m.id)].append("faster_than_server")
        if rates and m.bytes_used is not None and m.duration_s:
            supported = m.bytes_used * 8 / m.duration_s / 1e6
            if max(rates) > supported * _RATE_SLACK:
                flags[str(m.id)].append("rate_exceeds_bytes")
    timeline: list[tuple[datetime, DeviceRecord, bool]] = sorted(
        [(h.time, h, False) for h in history]
        + [(r.time, _as_device_record(r), True) for r in fresh], key=lambda t: t[0])
    seen: set[tuple[object, ...]] = set()
    previous: DeviceRecord | None = None
    for _, rec, is_new in timeline:
        signature = _signature(rec)
        if is_new and signature is not None and signature in seen:
            flags[str(rec.id)].append("repeated")
        if signature is not None:
            seen.add(signature)
        if rec.lat is None:
            continue
        if is_new and previous is not None and _jumped(previous, rec):
            flags[str(rec.id)].append("position_jump")
        previous = rec
    return {k: tuple(v) for k, v in flags.items() if v}
