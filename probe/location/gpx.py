"""GPX tracks (1.0 and 1.1) and placing measurement times on them.

`parse_gpx` reads every ``trkpt`` (namespaces are matched by local name, so GPX 1.0, 1.1 and
vendor extensions all work; a file on one line is fine); ``wpt`` and ``rtept`` are ignored, as
are points without a time (they cannot be matched) or with a time before the GPS epoch
(1980-01-06: GPSBabel wrote 1901-12-13T20:45:52Z, a 32-bit time_t underflow, into one real
file). Points come back sorted by time.

Phone loggers (GPSLogger for Android) interleave coarse ``<src>network</src>`` positions, some
stamped seconds earlier than the GPS points around them; they are dropped when the track has GPS
points, unless ``keep_network=True``.

`match_positions` places each time between the two surrounding points by linear interpolation,
only if those points are at most `max_gap_s` apart; a time outside the track, or inside a larger
gap, gets None: no guess. Accuracy is ``HDOP x 5 m`` (the larger HDOP of the two points) when
the track has HDOP, else None.

Example
-------
>>> gpx = ('<gpx xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
...        '<trkpt lat="21.0" lon="105.8"><time>2026-11-02T03:00:00Z</time></trkpt>'
...        '<trkpt lat="21.1" lon="105.9"><time>2026-11-02T03:00:10Z</time></trkpt>'
...        '</trkseg></trk></gpx>')
>>> from datetime import UTC, datetime
>>> [f.lat for f in match_positions(parse_gpx(gpx), [datetime(2026, 11, 2, 3, 0, 5, tzinfo=UTC)])]
[21.05]
"""

from __future__ import annotations

import bisect
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from lomsong.probe.errors import ParseError
from lomsong.probe.location.fix import UERE_M, Fix
from lomsong.probe.record import PositionSource

__all__ = ["GPS_EPOCH", "TrackPoint", "match_positions", "parse_gpx"]

GPS_EPOCH: Final = datetime(1980, 1, 6, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TrackPoint:
    time: datetime
    lat: float
    lon: float
    ele_m: float | None = None
    hdop: float | None = None
    src: str | None = None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(element: ET.Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip() or None
    return None


def _float(text: str | None, what: str, source: str, index: int) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ParseError(
            f"trkpt #{index}: {what} is not a number: {text!r}", source=source
        ) from None
    if not math.isfinite(value):
        raise ParseError(f"trkpt #{index}: {what} is not finite: {text!r}", source=source)
    return value


def parse_gpx(
    text: str | bytes, source: str = "GPX", *, keep_network: bool = False
) -> list[TrackPoint]:
    """Track points with a time, sorted by time. Raises `ParseError` naming `source`."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ParseError(f"not XML: {exc}", source=source, line=exc.position[0]) from None
    if _local(root.tag) != "gpx":
        raise ParseError(f"root element is <{_local(root.tag)}>, not <gpx>", source=source)
    points: list[TrackPoint] = []
    for index, element in enumerate((e for e in root.iter() if _local(e.tag) == "trkpt"), start=1):
        lat = _float(element.get("lat"), "lat", source, index)
        lon = _float(element.get("lon"), "lon", source, index)
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ParseError(f"trkpt #{index}: missing or invalid lat/lon", source=source)
        stamp = _child_text(element, "time")
        if stamp is None:
            continue
        try:
            when = datetime.fromisoformat(stamp)
        except ValueError:
            raise ParseError(f"trkpt #{index}: bad time {stamp!r}", source=source) from None
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        if when < GPS_EPOCH:
            continue
        points.append(
            TrackPoint(
                time=when,
                lat=lat,
                lon=lon,
                ele_m=_float(_child_text(element, "ele"), "ele", source, index),
                hdop=_float(_child_text(element, "hdop"), "hdop", source, index),
                src=_child_text(element, "src"),
            )
        )
    if not keep_network and any(p.src != "network" for p in points):
        points = [p for p in points if p.src != "network"]
    points.sort(key=lambda p: p.time)
    return points


def match_positions(
    track: Sequence[TrackPoint], times: Sequence[datetime], *, max_gap_s: float = 30.0
) -> list[Fix | None]:
    """One `Fix` (source ``gpx_match``) or None per time; `track` must be sorted by time."""
    stamps = [p.time for p in track]
    out: list[Fix | None] = []
    for when in times:
        if when.tzinfo is None:
            raise ValueError(f"measurement time {when.isoformat()} has no time zone")
        i = bisect.bisect_left(stamps, when)
        if i < len(track) and stamps[i] == when:
            before = after = track[i]
        elif 0 < i < len(track):
            before, after = track[i - 1], track[i]
        else:
            out.append(None)
            continue
        span_s = (after.time - before.time).total_seconds()
        if span_s > max_gap_s:
            out.append(None)
            continue
        share = 0.0 if span_s == 0 else (when - before.time).total_seconds() / span_s
        hdops = [h for h in (before.hdop, after.hdop) if h is not None]
        out.append(
            Fix(
                time=when.astimezone(UTC),
                lat=before.lat + (after.lat - before.lat) * share,
                lon=before.lon + (after.lon - before.lon) * share,
                accuracy_m=max(hdops) * UERE_M if hdops else None,
                source=PositionSource.GPX_MATCH,
                hdop=max(hdops) if hdops else None,
            )
        )
    return out
