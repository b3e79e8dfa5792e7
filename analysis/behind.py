"""Which measurements stand behind one figure: a cell, a weak area, a service point.

The rules are the analysis's own, so a drill-down lists exactly the rows a figure was made from:

- **cell** (`analysis.cells`): the H3 cell of the measurement's position at the survey's
  resolution, the cell's carrier and access, and, for the ``peak`` or ``offpeak`` window, the
  local hours of that window (`Windows.is_peak_hour`);
- **weak area** (`analysis.areas`): the area's carrier and access and its cells; a dead spot's
  tests are those strictly inside its outline (`inside_outline`), whose cells are the area's
  `cell_list`;
- **service point** (`analysis.sites`): within `radius_m` of the point on the local tangent plane
  (`site_circle`: the same metres per degree), or tagged with the point's `site_id` by a fixed
  probe (even with no position).

Everywhere, records whose probe reported an unsynchronised clock and sources the ward does not
count (`Thresholds.sources`) are left out, as the statistics leave them out.

Example
-------
>>> from lomsong.analysis.thresholds import load_thresholds
>>> window_hours("peak", load_thresholds())
(19, 20, 21)
>>> window_hours("all", load_thresholds()) is None
True
>>> m_lat, m_lon = site_circle(21.0)
>>> round(m_lat), round(m_lon)
(110717, 103970)
"""

from __future__ import annotations

import math

import h3
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from lomsong.analysis.sites import _metres_per_degree
from lomsong.analysis.thresholds import Thresholds

__all__ = ["WINDOWS", "cell_number", "cells_around", "cells_of_list", "inside_outline",
           "site_circle", "window_hours"]

WINDOWS: tuple[str, ...] = ("all", "peak", "offpeak")


def window_hours(window: str, thresholds: Thresholds) -> tuple[int, ...] | None:
    """The local hours (0-23) of `window`, or None for ``all`` (every hour).

    Raises
    ------
    ValueError
        `window` is not one of `WINDOWS`.
    """
    if window not in WINDOWS:
        raise ValueError(f"window: {window!r} is not one of {', '.join(WINDOWS)}")
    if window == "all":
        return None
    peak = window == "peak"
    return tuple(h for h in range(24) if thresholds.windows.is_peak_hour(h) == peak)


def cell_number(cell: str, resolution: int) -> int:
    """The H3 cell `cell` (a hexadecimal H3 id) as the integer the database stores.

    >>> hex(cell_number("8a415cb4e40ffff", 10))
    '0x8a415cb4e40ffff'

    Raises
    ------
    ValueError
        Not a valid H3 cell, or a cell of another resolution.
    """
    text = cell.strip().lower()
    if not (0 < len(text) <= 16 and h3.is_valid_cell(text)):
        raise ValueError(f"cell: {cell[:20]!r} is not an H3 cell id")
    if h3.get_resolution(text) != resolution:
        raise ValueError(f"cell: {text} is a resolution-{h3.get_resolution(text)} cell; "
                         f"the survey's cells are resolution {resolution}")
    return int(h3.str_to_int(text))


def cells_of_list(cell_list: str, resolution: int) -> tuple[int, ...]:
    """The cells of a weak area's comma-separated `cell_list`, as integers."""
    return tuple(cell_number(c, resolution) for c in cell_list.split(",") if c.strip())


def site_circle(lat: float) -> tuple[float, float]:
    """Metres per degree of latitude and of longitude at `lat` (the scorecards' distances)."""
    return _metres_per_degree(lat)


def cells_around(lat: float, lon: float, radius_m: float, resolution: int) -> tuple[int, ...]:
    """H3 cells (integers) that cover every point within `radius_m` of (`lat`, `lon`), and a
    margin: the disk of rings around the point's cell, each ring at least 50 m further out
    (centres of resolution-10 cells are about 100 m apart and more), plus one ring for the
    point's own place in its cell. A superset: the caller still measures the distance.

    >>> len(cells_around(21.03, 105.85, 150.0, 10))
    61
    """
    if resolution != 10:
        raise ValueError(f"resolution: the stored cells are resolution 10, got {resolution}")
    rings = math.ceil(radius_m / 50.0) + 1
    centre = h3.latlng_to_cell(lat, lon, resolution)
    return tuple(sorted(int(h3.str_to_int(c)) for c in h3.grid_disk(centre, rings)))


def inside_outline(outline: BaseGeometry, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Which positions are strictly inside `outline` (a dead spot's), as `analysis.areas`
    places tests; False where the position is missing."""
    lat = np.asarray(lat, dtype="float64")
    lon = np.asarray(lon, dtype="float64")
    ok = np.isfinite(lat) & np.isfinite(lon)
    out = np.zeros(len(lat), dtype=bool)
    if ok.any():
        out[ok] = shapely.contains_xy(outline, lon[ok], lat[ok])
    return out
