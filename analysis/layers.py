"""The ward's own map layers: streets (an OpenStreetMap extract) and residential groups.

`read_layer` reads a GeoJSON, a GeoPackage (one layer, or the one named) or a zipped Shapefile
into a GeoDataFrame in EPSG:4326 with a ``name`` column, and refuses with a ``LayerError`` that
names the file (and the feature) when it cannot be used:

- **streets**: lines (LineString, MultiLineString); other geometries (OSM points, buildings) are
  dropped. ``name`` is the street's name (empty when the way has none; a nameless way is still
  drawn but never named as "the nearest street");
- **groups** (tổ dân phố / thôn): polygons (a group's outline, even hand-drawn) or points (one
  point per group where no outline exists); every feature needs a name.

A GeoJSON without a CRS is WGS 84 (RFC 7946); another file without one is refused.

Example
-------
>>> streets = read_layer(Path("streets.geojson"), "streets")  # doctest: +SKIP
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd

__all__ = ["GROUP_NAME_COLUMNS", "MAX_FEATURES", "STREET_NAME_COLUMNS", "LayerError", "read_layer"]

MAX_FEATURES = 200_000  # a ward's OSM extract is a few thousand; refuse a province's
STREET_NAME_COLUMNS: tuple[str, ...] = ("name", "name:vi", "ten", "tên")
GROUP_NAME_COLUMNS: tuple[str, ...] = ("name", "ten", "tên", "to_dan_pho", "tdp", "thon", "label")
_LINES = ("LineString", "MultiLineString")
_GROUP_GEOMETRIES = ("Polygon", "MultiPolygon", "Point")
_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip")


class LayerError(ValueError):
    """A layer file that cannot be used; the message names the file and, where it can, the
    feature (0-based, in file order) and the field."""


def _source(path: Path) -> str:
    """The path pyogrio reads: a zipped Shapefile through GDAL's /vsizip/."""
    if path.suffix.lower() != ".zip":
        return str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            shapefiles = [n for n in archive.namelist() if n.lower().endswith(".shp")]
    except zipfile.BadZipFile as exc:
        raise LayerError(f"{path}: not a zip file ({exc})") from exc
    if len(shapefiles) != 1:
        raise LayerError(f"{path}: a zipped Shapefile must hold exactly one .shp file, "
                         f"found {len(shapefiles)}")
    return f"/vsizip/{path}/{shapefiles[0]}"


def _read(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    import pyogrio

    if not path.is_file():
        raise LayerError(f"{path}: file not found")
    if path.suffix.lower() not in _SUFFIXES:
        raise LayerError(f"{path}: expected GeoJSON (.geojson, .json), GeoPackage (.gpkg) or a "
                         f"zipped Shapefile (.zip)")
    source = _source(path)
    try:
        names = [str(n) for n, _g in pyogrio.list_layers(source)]
        if layer is None and len(names) > 1:
            raise LayerError(f"{path}: {len(names)} layers ({', '.join(names[:10])}); "
                             f"name the one to use")
        if layer is not None and layer not in names:
            raise LayerError(f"{path}: no layer {layer!r}; layers: {', '.join(names[:10])}")
        count = int(pyogrio.read_info(source, layer=layer)["features"])
        if count > MAX_FEATURES:
            raise LayerError(f"{path}: {count} features, more than {MAX_FEATURES}; "
                             f"cut the file to the ward")
        frame: gpd.GeoDataFrame = pyogrio.read_dataframe(source, layer=layer)
    except pyogrio.errors.DataSourceError as exc:
        raise LayerError(f"{path}: cannot read it as a map layer ({exc})") from exc
    if frame.crs is None:
        if path.suffix.lower() not in (".geojson", ".json"):
            raise LayerError(f"{path}: no coordinate reference system (a .prj file in the zip, "
                             f"or the GeoPackage's SRS); expected one")
        frame = frame.set_crs(4326)
    return frame.to_crs(4326)


def _names(frame: gpd.GeoDataFrame, columns: tuple[str, ...]) -> pd.Series:
    for column in columns:
        if column in frame.columns:
            return frame[column].astype("string").str.strip().fillna("")
    return pd.Series("", index=frame.index, dtype="string")


def read_layer(path: Path, kind: str, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read the ``streets`` or ``groups`` layer at `path` (see the module docstring).

    Returns columns ``name`` and ``geometry`` (EPSG:4326), plus ``highway`` for streets when the
    file has OSM tags. Raises `LayerError`.
    """
    if kind not in ("streets", "groups"):
        raise ValueError(f"unknown layer kind {kind!r}; expected streets or groups")
    frame = _read(path, layer).reset_index(drop=True)
    kinds = frame.geometry.geom_type
    if kind == "streets":
        frame = frame[kinds.isin(_LINES)]
        if not len(frame):
            raise LayerError(f"{path}: no street lines (LineString or MultiLineString)")
        out = gpd.GeoDataFrame({"name": _names(frame, STREET_NAME_COLUMNS)},
                               geometry=frame.geometry, crs=4326)
        if "highway" in frame.columns:
            out["highway"] = frame["highway"].astype("string")
        return out
    wrong = frame.index[~kinds.isin(_GROUP_GEOMETRIES)]
    if len(wrong):
        raise LayerError(f"{path}: feature {wrong[0]} is a {kinds[wrong[0]]}; residential groups "
                         f"are outlines (Polygon, MultiPolygon) or points")
    names = _names(frame, GROUP_NAME_COLUMNS)
    unnamed = frame.index[names == ""]
    if len(unnamed):
        raise LayerError(f"{path}: feature {unnamed[0]} has no name (a field named one of "
                         f"{', '.join(GROUP_NAME_COLUMNS)})")
    if not frame.geometry.is_valid.all():
        frame = frame.set_geometry(frame.geometry.make_valid())
    return gpd.GeoDataFrame({"name": names}, geometry=frame.geometry, crs=4326)
