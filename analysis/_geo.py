"""Private helpers: CRS checks, H3 on arrays, hexagon polygons."""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

__all__ = [
    "WGS84",
    "cell_strings",
    "cells_of",
    "hex_polygons",
    "metric_crs",
    "require_columns",
    "to_wgs84",
]

WGS84 = CRS.from_epsg(4326)


def to_wgs84(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    """Return `frame` in EPSG:4326 (a copy if reprojected); ValueError if it has no CRS."""
    if not isinstance(frame, gpd.GeoDataFrame):
        raise ValueError(f"{name}: expected a GeoDataFrame, got {type(frame).__name__}")
    if frame.crs is None:
        raise ValueError(f"{name}: GeoDataFrame has no CRS; set one (e.g. EPSG:4326)")
    if CRS(frame.crs).equals(WGS84):
        return frame
    return frame.to_crs(WGS84)


def require_columns(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {', '.join(missing)}")


def cells_of(lat: np.ndarray, lon: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cell (uint64; 0 where the position is missing) of each point.

    h3 4 has no array API, so it is called once per distinct position (fixed probes repeat theirs).
    """
    if not 0 <= resolution <= 15:
        raise ValueError(f"resolution: H3 resolution must be 0-15, got {resolution}")
    lat = np.asarray(lat, dtype="float64")
    lon = np.asarray(lon, dtype="float64")
    out = np.zeros(len(lat), dtype="uint64")
    ok = np.isfinite(lat) & np.isfinite(lon)
    if not ok.any():
        return out
    # Hash-based distinct positions (a complex number holds the pair).
    inverse, uniq = pd.factorize(lat[ok] + 1j * lon[ok])
    to_cell = h3.api.numpy_int.latlng_to_cell
    cells = np.fromiter(
        (to_cell(z.real, z.imag, resolution) for z in uniq.tolist()), dtype="uint64",
        count=len(uniq),
    )
    out[ok] = cells[inverse]
    return out


def cell_strings(cells: np.ndarray) -> np.ndarray:
    """uint64 cells -> h3 strings (computed once per distinct cell)."""
    uniq, inverse = np.unique(cells, return_inverse=True)
    names = np.array([h3.int_to_str(int(c)) for c in uniq], dtype=object)
    return names[inverse.reshape(-1)]


def hex_polygons(cells: Iterable[str]) -> np.ndarray:
    """Hexagon polygons (lon/lat) of h3 cell strings."""
    polys = [
        shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in cells
    ]
    return np.array(polys, dtype=object)


def metric_crs(frame: gpd.GeoDataFrame) -> CRS:
    """A UTM CRS for distances in metres around `frame` (WGS 84 / UTM 48N for Hanoi)."""
    est = frame.estimate_utm_crs() if not frame.empty else None
    return est if est is not None else CRS.from_epsg(32648)
