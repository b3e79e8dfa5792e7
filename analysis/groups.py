"""Residential groups (tổ dân phố / thôn) of a ward: read, checked and given outlines.

No public data set holds residential-group outlines, so a ward brings its own: polygons drawn by
hand or exported from a cadastral tool (GeoJSON, GeoPackage or a zipped Shapefile), or one point
per group (its cultural house, say), which becomes a disk of `point_radius_m`.

Every group needs an id (``group_id``, or ``id``/``code``/``ma``) and a name (``name``/``ten``);
the file's CRS is kept and the result is in WGS 84.

Example
-------
>>> import shapely
>>> frame = gpd.GeoDataFrame({"group_id": ["TDP1"], "name": ["Tổ dân phố 1"]},
...                          geometry=[shapely.Point(105.83, 20.98)], crs=4326)
>>> groups_frame(frame, "groups.geojson").geom_type.tolist()
['Polygon']
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import geopandas as gpd
import pandas as pd
from pyogrio.errors import DataSourceError

from lomsong.analysis._geo import WGS84, metric_crs

__all__ = ["MAX_GROUPS", "MAX_GROUPS_BYTES", "POINT_RADIUS_M", "groups_frame", "read_groups"]

MAX_GROUPS = 2_000           # a large commune has about a hundred thôn; a city ward, fewer
MAX_GROUPS_BYTES = 20_000_000
POINT_RADIUS_M = 150.0
_ID_COLUMNS = ("group_id", "id", "code", "ma")
_NAME_COLUMNS = ("name", "ten", "group_name")
_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip")


def _column(frame: pd.DataFrame, choices: tuple[str, ...]) -> str | None:
    lower = {str(c).lower(): str(c) for c in frame.columns}
    return next((lower[c] for c in choices if c in lower), None)


def groups_frame(frame: gpd.GeoDataFrame, where: str, *,
                 point_radius_m: float = POINT_RADIUS_M) -> gpd.GeoDataFrame:
    """Checked groups (``group_id``, ``name``, polygon ``geometry``, WGS 84) of `frame`.

    Raises
    ------
    ValueError
        No CRS, a missing id or name, a repeated id, an empty or invalid shape, a line, or more
        than `MAX_GROUPS` groups, naming `where` and the feature (from 1).
    """
    if frame.crs is None:
        raise ValueError(f"{where}: no coordinate reference system; save it with one (EPSG:4326)")
    if len(frame) > MAX_GROUPS:
        raise ValueError(f"{where}: {len(frame)} groups, at most {MAX_GROUPS}")
    id_col, name_col = _column(frame, _ID_COLUMNS), _column(frame, _NAME_COLUMNS)
    if id_col is None or name_col is None:
        raise ValueError(f"{where}: needs a group id column ({', '.join(_ID_COLUMNS)}) and a "
                         f"name column ({', '.join(_NAME_COLUMNS)})")
    ids, names, shapes = [], [], []
    metric = metric_crs(frame.to_crs(WGS84)) if not frame.empty else None
    for n, (gid, name, shape) in enumerate(
            zip(frame[id_col], frame[name_col], frame.geometry, strict=True), start=1):
        at = f"{where} feature {n}"
        gid_text = "" if pd.isna(gid) else str(gid).strip()
        name_text = "" if pd.isna(name) else unicodedata.normalize("NFC", str(name).strip())
        if not gid_text or len(gid_text) > 64:
            raise ValueError(f"{at}, {id_col}: must be 1-64 characters")
        if not name_text or len(name_text) > 200:
            raise ValueError(f"{at}, {name_col}: must be 1-200 characters")
        if shape is None or shape.is_empty:
            raise ValueError(f"{at}: no geometry")
        if shape.geom_type in ("Point", "MultiPoint"):
            disk = gpd.GeoSeries([shape], crs=frame.crs).to_crs(metric).buffer(point_radius_m)
            shape = disk.to_crs(frame.crs).iloc[0]
        elif shape.geom_type not in ("Polygon", "MultiPolygon"):
            raise ValueError(f"{at}: a group is a polygon or a point, got {shape.geom_type}")
        if not shape.is_valid:
            raise ValueError(f"{at}: the outline crosses itself; redraw it")
        ids.append(gid_text)
        names.append(name_text)
        shapes.append(shape)
    dupes = pd.Series(ids)[pd.Series(ids).duplicated()]
    if not dupes.empty:
        raise ValueError(f"{where}: group id {dupes.iloc[0]!r} appears more than once")
    out = gpd.GeoDataFrame({"group_id": ids, "name": names}, geometry=shapes, crs=frame.crs)
    return out.to_crs(WGS84)


def read_groups(path: str | Path, *, point_radius_m: float = POINT_RADIUS_M) -> gpd.GeoDataFrame:
    """Read a ward's residential groups from GeoJSON, GeoPackage (first layer) or a zipped
    Shapefile (`groups_frame` checks them)."""
    path = Path(path)
    if path.suffix.lower() not in _SUFFIXES:
        raise ValueError(f"{path}: expected {', '.join(_SUFFIXES)} (a Shapefile zipped)")
    if not path.is_file():
        raise ValueError(f"{path}: file not found")
    if path.stat().st_size > MAX_GROUPS_BYTES:
        raise ValueError(f"{path}: larger than {MAX_GROUPS_BYTES // 1_000_000} MB")
    source = f"zip://{path}" if path.suffix.lower() == ".zip" else str(path)
    try:
        frame = gpd.read_file(source, engine="pyogrio", max_features=MAX_GROUPS + 1)
    except (DataSourceError, ValueError, OSError) as exc:
        raise ValueError(f"{path}: cannot read it as a map layer ({exc})") from exc
    return groups_frame(frame, str(path), point_radius_m=point_radius_m)
