"""Measurements into a GeoDataFrame: the input every analysis function takes.

The frame is EPSG:4326 with point geometry (None when the test had no position), one row per
`Measurement`, columns named exactly as its fields; enum columns hold their string values,
`measured_at` is datetime64 UTC and numeric columns are float with NaN for missing.

Example
-------
>>> frame = measurements_frame([{"probe_id": "p1", "measured_at": "2026-11-02T03:00:00Z",
...     "kind": "throughput_down", "tool": "iperf3", "carrier": "viettel", "access": "4g",
...     "download_mbps": 38.5, "lat": 21.03, "lon": 105.85}])
>>> frame.crs.to_epsg(), float(frame["download_mbps"].iloc[0])
(4326, 38.5)
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from analysis._geo import WGS84
from probe.record import Measurement

__all__ = ["COLUMNS", "NUMERIC", "measurements_frame", "read_measurements"]

COLUMNS: tuple[str, ...] = tuple(Measurement.model_fields)
_TEXT = ("id", "probe_id", "source", "clock", "boot_id", "kind", "tool", "tool_version", "server",
         "interface", "carrier", "access", "band", "nr_band", "mcc", "mnc", "position_source",
         "setting", "site_id", "error_kind", "error_message", "raw")
NUMERIC: tuple[str, ...] = tuple(c for c in COLUMNS if c not in (*_TEXT, "measured_at"))
_CHUNK = 200_000


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    for col in COLUMNS:
        if col not in frame.columns:
            frame[col] = np.nan if col in NUMERIC else None
    frame = frame[list(COLUMNS)].copy()
    try:
        frame["measured_at"] = pd.to_datetime(frame["measured_at"], utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"measured_at: not a timestamp: {exc}") from exc
    for col in NUMERIC:
        try:
            frame[col] = pd.to_numeric(frame[col], errors="raise").astype("float64")
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{col}: not numeric: {exc}") from exc
    for col in _TEXT:
        values = frame[col].astype(object)
        present = values.notna()
        frame[col] = values.where(~present, values[present].astype(str)).where(present, None)
    bad = frame["lat"].notna() & ~frame["lat"].between(-90, 90)
    bad |= frame["lon"].notna() & ~frame["lon"].between(-180, 180)
    if bad.any():
        raise ValueError(f"lat/lon: out of range in row {int(np.flatnonzero(bad)[0])}")
    return frame


def _to_geo(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    has = frame["lat"].notna() & frame["lon"].notna()
    points = gpd.points_from_xy(frame["lon"].fillna(0.0), frame["lat"].fillna(0.0))
    geometry = np.where(has.to_numpy(), np.asarray(points, dtype=object), None)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, index=frame.index), crs=WGS84)


def measurements_frame(records: Iterable[Mapping[str, Any]]) -> gpd.GeoDataFrame:
    """Build the measurements GeoDataFrame from dicts with `Measurement` keys.

    `records` may be ``Measurement.model_dump(mode="json")`` dicts or database rows with the same
    keys; it is consumed in chunks, so a generator keeps memory bounded. An empty input gives an
    empty frame with every column.

    Raises
    ------
    ValueError
        A timestamp or number that does not parse, or coordinates out of range (naming the column).
    """
    it = iter(records)
    parts = []
    while chunk := list(itertools.islice(it, _CHUNK)):
        parts.append(_normalise(pd.DataFrame.from_records(chunk)))
    frame = pd.concat(parts, ignore_index=True) if parts else _normalise(pd.DataFrame())
    return _to_geo(frame)


def _from_geo(path: Path) -> pd.DataFrame:
    gdf = pyogrio.read_dataframe(path)
    if gdf.crs is not None and not gdf.crs.equals(WGS84):
        gdf = gdf.to_crs(WGS84)
    frame = pd.DataFrame(gdf.drop(columns="geometry"))
    pts = gdf.geometry
    has = pts.notna() & ~pts.is_empty
    if "lat" not in frame.columns or frame["lat"].isna().all():
        frame["lat"] = np.where(has, pts.y.where(has), np.nan)
        frame["lon"] = np.where(has, pts.x.where(has), np.nan)
    return frame


def read_measurements(path: str | Path) -> gpd.GeoDataFrame:
    """Read an exported measurements file: GeoJSON, GeoPackage, CSV (lat/lon) or JSON lines.

    Examples
    --------
    >>> read_measurements("survey.jsonl")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        rows = []
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise ValueError(f"{path}:{number}: not JSON: {exc.msg}") from exc
        return measurements_frame(rows)
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype={"id": str, "mcc": str, "mnc": str, "band": str})
        return measurements_frame(frame.to_dict("records"))
    if suffix in (".geojson", ".json", ".gpkg"):
        return measurements_frame(_from_geo(path).to_dict("records"))
    raise ValueError(f"{path}: unsupported file type {suffix!r} (geojson, gpkg, csv, jsonl)")
