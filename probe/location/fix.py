"""`Fix`: one position at one time, whatever produced it (NMEA, gpsd, GPX, a fixed site).

Example
-------
>>> from datetime import UTC, datetime
>>> f = Fix(time=datetime(2026, 11, 2, 3, 0, tzinfo=UTC), lat=21.0285, lon=105.8542,
...         accuracy_m=4.5, source=PositionSource.GPS)
>>> sorted(f.measurement_fields())
['accuracy_m', 'lat', 'lon', 'position_source']
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lomsong.probe.record import PositionSource

__all__ = ["UERE_M", "Fix", "PositionSource"]

# User-equivalent range error used to turn HDOP into metres: accuracy_m ~= HDOP x 5 m, a common
# 1-sigma approximation for a single-frequency receiver (gpsd uses larger, 95 % factors).
UERE_M = 5.0


@dataclass(frozen=True, slots=True)
class Fix:
    """A position; `time` is UTC (None when the receiver gave no date), `accuracy_m` ~1 sigma."""

    time: datetime | None
    lat: float
    lon: float
    accuracy_m: float | None
    source: PositionSource
    altitude_m: float | None = None
    speed_mps: float | None = None
    satellites: int | None = None
    hdop: float | None = None
    quality: int | None = None

    def measurement_fields(self) -> dict[str, Any]:
        """Keyword arguments for `Measurement` (lat, lon, accuracy_m, position_source)."""
        fields: dict[str, Any] = {"lat": self.lat, "lon": self.lon, "position_source": self.source}
        if self.accuracy_m is not None:
            fields["accuracy_m"] = min(self.accuracy_m, 100_000.0)
        return fields
