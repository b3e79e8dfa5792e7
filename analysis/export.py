"""Write analysis outputs: GeoPackage (one layer per output, opens in QGIS), GeoJSON, CSV.

Every text cell of a CSV goes through `spreadsheet_safe`: a cell that a spreadsheet would read
as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a
leading ``'`` (OWASP's advice on CSV injection), so a service point named
``=HYPERLINK(...)`` opens as that text. Numbers stay numbers.

Example
-------
>>> write_geopackage("survey.gpkg", cells=classified, weak_areas=areas)  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from lomsong.analysis._geo import to_wgs84

__all__ = ["CSV_FLOAT_FORMAT", "spreadsheet_safe", "write_csv", "write_geojson", "write_geopackage"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """`value`, with a leading ``'`` if it is text a spreadsheet would run as a formula.

    >>> spreadsheet_safe("=1+2"), spreadsheet_safe("@SUM(A1)"), spreadsheet_safe(-3)
    ("'=1+2", "'@SUM(A1)", -3)
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _plain(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    out = to_wgs84(frame, name).copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        series = out[col]
        if isinstance(series.dtype, pd.CategoricalDtype):
            out[col] = series.astype(str)
        elif series.dtype == object:
            out[col] = series.map(lambda v: v if v is None or isinstance(v, str | bool) else str(v))
    return out


def write_geopackage(path: str | Path, **layers: gpd.GeoDataFrame) -> Path:
    """Write each keyword as a layer of a new GeoPackage (an existing file is replaced).

    Empty layers are written too (with their columns), so a reader always finds every layer.
    """
    path = Path(path)
    if not layers:
        raise ValueError("write_geopackage: no layers given")
    if path.exists():
        path.unlink()
    for name, frame in layers.items():
        plain = _plain(frame, name)
        geometry_type = None
        if plain.empty:
            geometry_type = "Unknown"
        pyogrio.write_dataframe(plain, path, layer=name, driver="GPKG",
                                geometry_type=geometry_type, promote_to_multi=None)
    return path


def write_geojson(path: str | Path, frame: gpd.GeoDataFrame) -> Path:
    """Write one frame as GeoJSON (RFC 7946: always EPSG:4326)."""
    path = Path(path)
    pyogrio.write_dataframe(_plain(frame, "frame"), path, driver="GeoJSON")
    return path


# Numbers in CSV cells: 10 significant digits, enough for every measured value and for positions
# (7 decimals of a degree, about 1 cm), without binary noise such as 9.340000000000002.
CSV_FLOAT_FORMAT = "%.10g"


def write_csv(path: str | Path, frame: gpd.GeoDataFrame) -> Path:
    """Write one frame as CSV: attributes, `lat`/`lon` of a point inside each shape, `wkt`."""
    path = Path(path)
    plain = _plain(frame, "frame")
    inner = plain.geometry.representative_point()
    table = pd.DataFrame(plain.drop(columns=plain.geometry.name))
    for column in table.columns:
        if not pd.api.types.is_numeric_dtype(table[column]):
            table[column] = table[column].map(spreadsheet_safe)
    table.columns = [str(spreadsheet_safe(str(c))) for c in table.columns]
    table["lat"] = inner.y.to_numpy()
    table["lon"] = inner.x.to_numpy()
    table["wkt"] = plain.geometry.to_wkt().to_numpy()
    # CRLF (RFC 4180): a field holding a bare CR or LF is then quoted, never a row break.
    table.to_csv(path, index=False, float_format=CSV_FLOAT_FORMAT, lineterminator="\r\n")
    return path

