"""Ookla open-data tiles: Web-Mercator quadkeys at zoom 16, and a tile-by-tile comparison.

Ookla publishes fixed and mobile performance as zoom-16 tiles (about 610 m at the equator, about
570 m in Hanoi) keyed by quadkey, with `avg_d_kbps`, `avg_u_kbps`, `avg_lat_ms`, `tests` and
`devices`. We aggregate our own measurements the same way: mean speeds of successful tests (kbps),
mean RTT of successful latency tests, number of successful download tests, distinct probes.
Ookla's mean is over its own app's tests; ours over iperf3/speedtest tests of our probes: a
comparison, not a calibration.

Example
-------
>>> quadkeys([21.0285], [105.8542])[0]
'1322101121220130'
>>> tile_bounds("1322101121220130")  # doctest: +ELLIPSIS
(105.853271484375, 21.02...
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from lomsong.analysis._geo import WGS84, to_wgs84
from lomsong.analysis._samples import sample_table
from lomsong.analysis.thresholds import Thresholds, load_thresholds

__all__ = [
    "OOKLA_COLUMNS",
    "compare_tiles",
    "ookla_tiles",
    "quadkeys",
    "read_ookla_tiles",
    "tile_bounds",
]

ZOOM = 16
MAX_LAT = 85.05112878
OOKLA_COLUMNS = ["quadkey", "avg_d_kbps", "avg_u_kbps", "avg_lat_ms", "tests", "devices"]
MOBILE = ("4g", "5g_nsa", "5g_sa", "3g", "2g")


def _tile_xy(lat: np.ndarray, lon: np.ndarray, zoom: int) -> tuple[np.ndarray, np.ndarray]:
    n = 2**zoom
    lat = np.clip(np.asarray(lat, dtype="float64"), -MAX_LAT, MAX_LAT)
    lon = np.asarray(lon, dtype="float64")
    x = np.floor((lon + 180.0) / 360.0 * n)
    s = np.sin(np.radians(lat))
    y = np.floor((0.5 - np.log((1 + s) / (1 - s)) / (4 * math.pi)) * n)
    return np.clip(x, 0, n - 1).astype("int64"), np.clip(y, 0, n - 1).astype("int64")


def _key(x: int, y: int, zoom: int) -> str:
    return "".join(
        str(((x >> (i - 1)) & 1) + 2 * ((y >> (i - 1)) & 1)) for i in range(zoom, 0, -1)
    )


def quadkeys(lat: np.ndarray | list[float], lon: np.ndarray | list[float], zoom: int = ZOOM
             ) -> np.ndarray:
    """Quadkey of each point (strings computed once per distinct tile)."""
    x, y = _tile_xy(np.asarray(lat), np.asarray(lon), zoom)
    tile = x * (2**zoom) + y
    uniq, inverse = np.unique(tile, return_inverse=True)
    keys = np.array([_key(int(t) // 2**zoom, int(t) % 2**zoom, zoom) for t in uniq], dtype=object)
    return keys[inverse.reshape(-1)]


def tile_bounds(quadkey: str) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees of a quadkey tile."""
    x = y = 0
    for digit in quadkey:
        if digit not in "0123":
            raise ValueError(f"quadkey: {quadkey!r} has a digit other than 0-3")
        d = int(digit)
        x = (x << 1) | (d & 1)
        y = (y << 1) | (d >> 1)
    n = 2 ** len(quadkey)

    def lat(yy: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * yy / n))))

    return x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y)


def _tiles_frame(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    boxes = [shapely.box(*tile_bounds(q)) for q in frame["quadkey"]]
    return gpd.GeoDataFrame(frame, geometry=np.array(boxes, dtype=object), crs=WGS84)


def read_ookla_tiles(path: str | Path) -> gpd.GeoDataFrame:
    """Read Ookla open-data tiles (GeoJSON, GeoPackage or Parquet export with the Ookla columns)."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: file not found")
    frame = pyogrio.read_dataframe(path, read_geometry=False)
    missing = [c for c in ("quadkey", "avg_d_kbps", "tests") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: not Ookla tiles, missing column(s) {', '.join(missing)}")
    frame["quadkey"] = frame["quadkey"].astype(str).str.zfill(ZOOM)
    for col in OOKLA_COLUMNS[1:]:
        frame[col] = pd.to_numeric(frame[col], errors="coerce") if col in frame else np.nan
    return _tiles_frame(frame[OOKLA_COLUMNS].copy())


def ookla_tiles(
    measurements: gpd.GeoDataFrame,
    *,
    kind: str = "mobile",
    thresholds: Thresholds | None = None,
) -> gpd.GeoDataFrame:
    """Aggregate our measurements into zoom-16 tiles with Ookla's columns.

    `kind` is ``mobile`` (4G/5G/3G/2G, all carriers together, as Ookla does) or ``fixed``.
    """
    if kind not in ("mobile", "fixed"):
        raise ValueError(f"kind: must be 'mobile' or 'fixed', got {kind!r}")
    thresholds = thresholds or load_thresholds()
    meas = to_wgs84(measurements, "measurements")
    table = sample_table(meas, thresholds, None)
    accesses = MOBILE if kind == "mobile" else ("fixed",)
    table = table[table["access"].isin(accesses) & np.isfinite(table["lat"])]
    kinds = meas.loc[table.index, "kind"].to_numpy()
    ok = meas.loc[table.index, "error_kind"].isna().to_numpy()
    table = table.assign(
        quadkey=quadkeys(table["lat"].to_numpy(), table["lon"].to_numpy()),
        lat_ms=np.where((kinds == "latency") & ok, table["rtt"], np.nan),
        d_kbps=table["down"] * 1000.0,
        u_kbps=table["up"] * 1000.0,
    )
    g = table.groupby("quadkey", sort=True)
    frame = pd.DataFrame({
        "avg_d_kbps": g["d_kbps"].mean(),
        "avg_u_kbps": g["u_kbps"].mean(),
        "avg_lat_ms": g["lat_ms"].mean(),
        "tests": g["down"].count(),
        "devices": g["probe_id"].nunique(),
    }).reset_index()
    frame = frame[frame["tests"] > 0].reset_index(drop=True)
    return _tiles_frame(frame[OOKLA_COLUMNS]).to_crs(measurements.crs)


def compare_tiles(ours: gpd.GeoDataFrame, theirs: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Join our tiles and Ookla's on quadkey (tiles present in both only).

    Adds `ratio_d` (ours / Ookla mean download) and `diff_d_kbps` (ours - Ookla).
    """
    for name, frame in (("ours", ours), ("theirs", theirs)):
        if "quadkey" not in frame.columns:
            raise ValueError(f"{name}: missing column quadkey")
    a = pd.DataFrame(ours.drop(columns=ours.geometry.name))
    b = pd.DataFrame(theirs.drop(columns=theirs.geometry.name))
    both = a.merge(b, on="quadkey", suffixes=("_ours", "_ookla"))
    both["diff_d_kbps"] = both["avg_d_kbps_ours"] - both["avg_d_kbps_ookla"]
    both["ratio_d"] = both["avg_d_kbps_ours"] / both["avg_d_kbps_ookla"].where(
        both["avg_d_kbps_ookla"] > 0)
    return _tiles_frame(both).to_crs(ours.crs)
