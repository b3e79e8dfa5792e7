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

from lomsong.analysis._geo import WGS84
from lomsong.probe.record import Measurement

__all__ = ["COLUMNS", "NUMERIC", "measurements_frame", "read_measurements"]

COLUMNS: tuple[str, ...] = tuple(Measurement.model_fields)
_TEXT = ("id", "probe_id", "source", "clock", "boot_id", "kind", "tool", "tool_version", "server",
         "interface", "carrier", "access", "band", "nr_band", "ca_bands", "mcc", "mnc",
         "position_source", "setting", "site_id", "error_kind", "error_message", "raw")
NUMERIC: tuple[str, ...] = tuple(c for c in COLUMNS if c not in (*_TEXT, "measured_at"))
_CHUNK = 200_000


def _columns(chunk: list[Mapping[str, Any]] | pd.DataFrame, offset: int) -> dict[str, np.ndarray]:
    """Records (or an already columnar frame) -> one numpy array per column present."""
    if isinstance(chunk, pd.DataFrame):
        keys = set(chunk.columns) & set(COLUMNS)
    else:
        try:
            keys = set().union(*map(dict.keys, chunk)) & set(COLUMNS)
        except TypeError:  # mappings that are not dicts
            keys = set().union(*(r.keys() for r in chunk)) & set(COLUMNS)
    out: dict[str, np.ndarray] = {}
    for col in keys:
        if isinstance(chunk, pd.DataFrame):
            column = chunk[col].astype(object) if col not in NUMERIC else chunk[col]
        else:
            column = pd.Series([r.get(col) for r in chunk], dtype=object)
        if col == "measured_at":
            try:
                stamps = pd.to_datetime(column, utc=True, format="ISO8601")
            except (ValueError, TypeError) as exc:
                raise ValueError(f"measured_at: not a timestamp: {exc}") from exc
            out[col] = stamps.dt.tz_convert(None).to_numpy(dtype="datetime64[us]")
        elif col in NUMERIC:
            try:
                out[col] = pd.to_numeric(column, errors="raise").to_numpy(dtype="float64")
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{col}: not numeric: {exc}") from exc
        else:
            values = column.to_numpy(dtype=object, copy=True)
            missing = pd.isna(values)
            values[missing] = None
            if pd.api.types.infer_dtype(values[~missing], skipna=True) not in ("string", "empty"):
                # Enums, UUIDs or numbers (database rows): their string value.
                values[~missing] = [str(getattr(v, "value", v)) for v in values[~missing]]
            out[col] = values
    for col in ("lat", "lon"):
        bound = 90 if col == "lat" else 180
        if col in out:
            with np.errstate(invalid="ignore"):
                bad = np.flatnonzero(np.abs(out[col]) > bound)
            if len(bad):
                raise ValueError(f"lat/lon: out of range in row {offset + int(bad[0])}")
    return out


def _assemble(chunks: list[dict[str, np.ndarray]], lengths: list[int]) -> pd.DataFrame:
    """Join the chunks column by column, freeing each chunk's column as soon as it is copied."""
    total = sum(lengths)
    data: dict[str, Any] = {}
    for col in COLUMNS:
        pieces = []
        for chunk, n in zip(chunks, lengths, strict=True):
            part = chunk.pop(col, None)
            if part is None:
                if col == "measured_at":
                    part = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
                else:
                    part = np.full(n, np.nan) if col in NUMERIC else np.full(n, None, object)
            pieces.append(part)
        joined = np.concatenate(pieces) if pieces else np.array([], dtype="float64")
        if col == "measured_at":
            data[col] = pd.Series(joined.astype("datetime64[us]"), dtype="datetime64[us]")
            data[col] = data[col].dt.tz_localize("UTC")
        elif col in NUMERIC:
            data[col] = pd.Series(joined.astype("float64"), dtype="float64")
        else:
            data[col] = pd.Series(joined.astype(object), dtype=object)
    return pd.DataFrame(data, copy=False) if total else pd.DataFrame(data)


def _to_geo(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    lat = frame["lat"].to_numpy()
    lon = frame["lon"].to_numpy()
    has = np.isfinite(lat) & np.isfinite(lon)
    points = gpd.points_from_xy(np.where(has, lon, 0.0), np.where(has, lat, 0.0), crs=WGS84)
    points[~has] = None
    return gpd.GeoDataFrame(frame, geometry=points, copy=False)


def measurements_frame(records: Iterable[Mapping[str, Any]] | pd.DataFrame) -> gpd.GeoDataFrame:
    """Build the measurements GeoDataFrame from dicts with `Measurement` keys.

    `records` may be a pandas DataFrame with those columns (the fast, columnar path),
    ``Measurement.model_dump(mode="json")`` dicts, ``model_dump()`` dicts (enums,
    UUIDs, datetimes) or database rows with the same keys; it is consumed in chunks and assembled
    column by column, so a generator keeps memory bounded. An empty input gives an empty frame
    with every column.

    Raises
    ------
    ValueError
        A timestamp or number that does not parse, or coordinates out of range (naming the column).
    """
    if isinstance(records, pd.DataFrame):
        return _to_geo(_assemble([_columns(records, 0)], [len(records)]))
    it = iter(records)
    chunks: list[dict[str, np.ndarray]] = []
    lengths: list[int] = []
    while chunk := list(itertools.islice(it, _CHUNK)):
        chunks.append(_columns(chunk, sum(lengths)))
        lengths.append(len(chunk))
        del chunk
    return _to_geo(_assemble(chunks, lengths))


# Layers `lomsong analyze` writes: a GeoPackage with them is an analysis, not measurements.
_ANALYSIS_LAYERS = frozenset({"cells", "weak_areas", "service_points", "proposals"})


def _from_geo(path: Path) -> pd.DataFrame:
    try:
        layers = [str(name) for name, _kind in pyogrio.list_layers(path)]
    except pyogrio.errors.DataSourceError as exc:
        raise ValueError(f"{path}: not a readable GeoJSON/GeoPackage file: {exc}") from exc
    if not layers:
        raise ValueError(f"{path}: no layer")
    if "measurements" in layers:
        layer = "measurements"
    elif _ANALYSIS_LAYERS & set(layers):
        raise ValueError(f"{path} là kết quả của lomsong analyze, không phải phép đo; dùng "
                         f"lomsong map/report với tệp này ({path} is lomsong analyze's output, "
                         f"not measurements; give it to lomsong map or report)")
    elif len(layers) > 1:
        raise ValueError(f"{path}: several layers ({', '.join(layers[:5])}) and none named "
                         f"'measurements'")
    else:
        layer = layers[0]
    gdf = pyogrio.read_dataframe(path, layer=layer)
    kinds = set(gdf.geometry.dropna().geom_type)
    if kinds - {"Point"}:
        raise ValueError(f"{path}: measurements must be points, found {', '.join(sorted(kinds))}")
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
        text = {c: str for c in ("id", "mcc", "mnc", "band", "nr_band", "ca_bands", "probe_id", "site_id")}
        return measurements_frame(pd.read_csv(path, dtype=text))
    if suffix in (".geojson", ".json", ".gpkg"):
        return measurements_frame(_from_geo(path))
    raise ValueError(f"{path}: unsupported file type {suffix!r} (geojson, gpkg, csv, jsonl)")
