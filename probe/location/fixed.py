"""The position of a fixed probe site (a service point), taken from the probe's configuration.

Example
-------
>>> site = site_from_config({"id": "ubnd-phuong-1", "lat": 21.0285, "lon": 105.8542})
>>> site.measurement_fields()["position_source"].value
'site'
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from lomsong.probe.errors import ConfigError
from lomsong.probe.record import PositionSource

__all__ = ["SitePosition", "site_from_config"]

_SITE_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class SitePosition:
    """A surveyed site: id, WGS84 lat/lon and how well the coordinates are known (metres)."""

    site_id: str
    lat: float
    lon: float
    accuracy_m: float | None = None

    def measurement_fields(self) -> dict[str, Any]:
        """Keyword arguments for `Measurement`: lat, lon, accuracy_m, position_source, site_id."""
        fields: dict[str, Any] = {
            "lat": self.lat,
            "lon": self.lon,
            "site_id": self.site_id,
            "position_source": PositionSource.SITE,
        }
        if self.accuracy_m is not None:
            fields["accuracy_m"] = self.accuracy_m
        return fields


def _coordinate(table: Mapping[str, Any], key: str, limit: float, where: str) -> float:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}.{key} must be a number of degrees, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or abs(number) > limit:
        raise ConfigError(f"{where}.{key} must be within +/-{limit:g} degrees, got {value!r}")
    return number


def site_from_config(table: Mapping[str, Any], where: str = "site") -> SitePosition:
    """Build a `SitePosition` from a config table (keys id, lat, lon, optional accuracy_m).

    Raises `ConfigError` naming the key (prefixed by `where`, e.g. ``probe.toml [site]``).
    """
    site_id = table.get("id")
    if not isinstance(site_id, str) or not _SITE_ID.match(site_id):
        raise ConfigError(
            f"{where}.id must be 1-64 letters, digits, '.', '_' or '-', got {site_id!r}"
        )
    lat = _coordinate(table, "lat", 90, where)
    lon = _coordinate(table, "lon", 180, where)
    accuracy = table.get("accuracy_m")
    if accuracy is not None and (
        isinstance(accuracy, bool)
        or not isinstance(accuracy, int | float)
        or not 0 <= accuracy <= 100_000
    ):
        raise ConfigError(f"{where}.accuracy_m must be 0..100000 metres, got {accuracy!r}")
    return SitePosition(site_id, lat, lon, None if accuracy is None else float(accuracy))
