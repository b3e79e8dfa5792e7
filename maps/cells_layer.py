"""H3 cells on the web map, packed small: each hexagon once, rows as short integer arrays.

A ward surveyed for a year gives about 20,000 rows (cell x carrier x access x window); written as
plain GeoJSON that is 5 MB or more. Here each distinct hexagon is stored once as its vertices in
micro-degrees (exactly the 6-decimal rounding), the first absolute and the rest as differences,
and each row refers to it by index with its values scaled to integers. A short script turns them
into canvas polygons inside the folium FeatureGroup of their carrier x access x window, and
builds popups only when one is opened (``lomsong/map.js``, fed through `lomsong.maps.map_data`).

Example
-------
>>> from shapely.geometry import Polygon
>>> pack_ring(Polygon([(105.85, 21.03), (105.851, 21.03), (105.851, 21.031)]))
[21030000, 105850000, 0, 1000, 1000, 0]
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
from shapely.geometry.base import BaseGeometry

__all__ = ["pack_cells", "pack_ring"]

_MICRO = 1_000_000


def pack_ring(polygon: BaseGeometry) -> list[int]:
    """Exterior ring of `polygon` as [lat0, lon0, dlat1, dlon1, ...] in micro-degrees."""
    coords = list(polygon.exterior.coords)
    if len(coords) > 1 and coords[0] == coords[-1]:
        coords = coords[:-1]
    packed: list[int] = []
    prev_lat = prev_lon = 0
    for lon, lat in coords:
        lat_u, lon_u = round(lat * _MICRO), round(lon * _MICRO)
        packed += [lat_u - prev_lat, lon_u - prev_lon]
        prev_lat, prev_lon = lat_u, lon_u
    return packed


def _scaled(value: Any, factor: float) -> int | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else round(number * factor)


def pack_cells(
    cells: gpd.GeoDataFrame, colour_index: list[int], status_index: list[int]
) -> tuple[list[list[int]], dict[tuple[str, str, str], list[list[int | None]]]]:
    """Split `cells` (EPSG:4326) into distinct hexagon rings and rows per (carrier, access, window).

    Each row: [ring index, colour index, status index, samples, failed, median x10, p10 x10,
    share below %, low %, high %, threshold, RSRP dBm, SINR dB]; ``None`` where missing.
    """
    rings: list[list[int]] = []
    ring_of: dict[str, int] = {}
    rows: dict[tuple[str, str, str], list[list[int | None]]] = {}
    columns = zip(
        cells["cell"], cells["carrier"], cells["access"], cells["window"], cells.geometry,
        cells["samples"], cells["failed"], cells["down_median_mbps"], cells["down_p10_mbps"],
        cells["share_below"], cells["share_below_lo"], cells["share_below_hi"],
        cells["threshold_mbps"], cells["rsrp_median_dbm"], cells["sinr_median_db"],
        colour_index, status_index, strict=True,
    )
    for (cell, carrier, access, window, geometry, samples, failed, median, p10, share, low, high,
         threshold, rsrp, sinr, colour, status) in columns:
        key = str(cell)
        if key not in ring_of:
            ring_of[key] = len(rings)
            rings.append(pack_ring(geometry))
        rows.setdefault((str(carrier), str(access), str(window)), []).append([
            ring_of[key], colour, status, _scaled(samples, 1), _scaled(failed, 1),
            _scaled(median, 10), _scaled(p10, 10), _scaled(share, 100), _scaled(low, 100),
            _scaled(high, 100), _scaled(threshold, 1), _scaled(rsrp, 1), _scaled(sinr, 1),
        ])
    return rings, rows
