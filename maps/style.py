"""Colours shared by the web map and the PDF map, so both read the same way.

Statuses go from black (dead spot) through red and orange to green; "not enough data" is grey.
Speed classes put the 4G target (40 Mbps) and the 5G target (100 Mbps) on class edges.

Example
-------
>>> STATUS_COLOURS["dead_spot"]
'#1a1a1a'
>>> speed_class(38.5)
2
"""

from __future__ import annotations

import math

__all__ = [
    "MISSING_COLOUR",
    "SPEED_COLOURS",
    "SPEED_EDGES_MBPS",
    "STATUS_COLOURS",
    "speed_class",
]

STATUS_COLOURS: dict[str, str] = {
    "dead_spot": "#1a1a1a",
    "confirmed_weak": "#d7191c",
    "likely_weak": "#fdae61",
    "likely_ok": "#a6d96a",
    "ok": "#1a9641",
    "insufficient_data": "#bdbdbd",
}

MISSING_COLOUR = "#bdbdbd"

# Class i holds speeds in [SPEED_EDGES_MBPS[i], SPEED_EDGES_MBPS[i + 1]).
SPEED_EDGES_MBPS: tuple[float, ...] = (0.0, 10.0, 20.0, 40.0, 100.0, math.inf)
SPEED_COLOURS: tuple[str, ...] = ("#d7191c", "#f46d43", "#fdae61", "#a6d96a", "#1a9641")


def speed_class(down_median_mbps: float | None) -> int:
    """Index into `SPEED_COLOURS` of a median download speed; -1 when there is no value."""
    if down_median_mbps is None or math.isnan(down_median_mbps):
        return -1
    for index in range(len(SPEED_COLOURS)):
        if down_median_mbps < SPEED_EDGES_MBPS[index + 1]:
            return index
    return len(SPEED_COLOURS) - 1
