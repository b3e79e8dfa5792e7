"""Place walk records on a phone's GPX track afterwards (``lomsong probe gpx-match``).

Records measured with ``--gpx-later`` carry no position. `place_on_track` gives each of them the
track's interpolated position at its `measured_at` (`probe.location.gpx.match_positions`:
linear between the surrounding points, none across a gap longer than `max_gap_s` and none outside
the track: no guess), with ``position_source = gpx_match``. Records that already have a position
are left alone.

Example
-------
>>> from datetime import UTC, datetime
>>> from lomsong.probe.location.gpx import TrackPoint
>>> from lomsong.probe.record import Kind
>>> track = [TrackPoint(datetime(2026, 11, 2, 3, 0, tzinfo=UTC), 21.0, 105.8),
...          TrackPoint(datetime(2026, 11, 2, 3, 0, 10, tzinfo=UTC), 21.1, 105.9)]
>>> m = Measurement(probe_id="laptop-1", measured_at=datetime(2026, 11, 2, 3, 0, 5, tzinfo=UTC),
...                 kind=Kind.LATENCY, tool="ping", rtt_ms=30.0)
>>> [(p.lat, p.position_source.value) for p in place_on_track([m], track)]
[(21.05, 'gpx_match')]
"""

from __future__ import annotations

from collections.abc import Sequence

from lomsong.probe.location.gpx import TrackPoint, match_positions
from lomsong.probe.record import Measurement, PositionSource

__all__ = ["place_on_track"]


def place_on_track(
    measurements: Sequence[Measurement], track: Sequence[TrackPoint], *, max_gap_s: float = 30.0
) -> list[Measurement]:
    """The records of `measurements` without a position that the track places (new copies)."""
    unplaced = [m for m in measurements if m.position_source is PositionSource.NONE]
    fixes = match_positions(track, [m.measured_at for m in unplaced], max_gap_s=max_gap_s)
    return [
        Measurement(**{**m.model_dump(), **fix.measurement_fields()})
        for m, fix in zip(unplaced, fixes, strict=True)
        if fix is not None
    ]
