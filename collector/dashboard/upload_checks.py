"""Strict reading of admin uploads, before any library sees them.

JSON: nesting at most `MAX_DEPTH` deep, numbers of at most `MAX_NUMBER_CHARS` characters, no
``NaN``/``Infinity``. GeoJSON geometries: a known type, positions of two or three finite numbers
within longitude/latitude bounds, polygon rings closed with at least four positions. CSV: every
field at most `MAX_CSV_FIELD_CHARS` characters. Each failure is an `UploadError` naming the file
and, where known, the line, feature or field.

Example
-------
>>> strict_json('{"a": [1, 2.5]}', "x.json")
{'a': [1, 2.5]}
>>> try:
...     strict_json('{"a": NaN}', "x.json")
... except UploadError as exc:
...     print(exc)
x.json: NaN is not a number JSON allows
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

__all__ = ["MAX_CSV_FIELD_CHARS", "MAX_DEPTH", "MAX_NUMBER_CHARS", "UploadError", "check_csv",
           "check_geometry", "strict_json", "ward_geojson"]

MAX_DEPTH = 32
MAX_NUMBER_CHARS = 40
MAX_CSV_FIELD_CHARS = 4_096
GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                  "MultiPolygon")
# Nesting of `coordinates` arrays per type (a Point is one position, a Polygon rings of them).
_COORDINATE_DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2,
                     "Polygon": 2, "MultiPolygon": 3}


class UploadError(ValueError):
    """The file or form is not usable; the message names the row (if any) and the field."""


def strict_json(text: str, filename: str) -> Any:
    """`text` parsed as JSON, or `UploadError` (too deep, a huge number, NaN, not JSON)."""

    def number(literal: str) -> float | int:
        if len(literal) > MAX_NUMBER_CHARS:
            raise UploadError(f"{filename}: a number of {len(literal)} characters "
                              f"(at most {MAX_NUMBER_CHARS})")
        value = float(literal)
        return int(literal) if literal.lstrip("-").isdigit() else value

    def constant(name: str) -> None:
        raise UploadError(f"{filename}: {name} is not a number JSON allows")

    try:
        data = json.loads(text, parse_int=number, parse_float=number, parse_constant=constant)
    except RecursionError as exc:
        raise UploadError(f"{filename}: nested more than {MAX_DEPTH} levels deep") from exc
    except json.JSONDecodeError as exc:
        raise UploadError(f"{filename}: not JSON: {exc.msg} (line {exc.lineno})") from exc
    _check_depth(data, filename)
    return data


def _check_depth(data: Any, filename: str) -> None:
    level: list[Any] = [data]
    for _depth in range(MAX_DEPTH + 1):
        level = [v for item in level if isinstance(item, dict | list)
                 for v in (item.values() if isinstance(item, dict) else item)]
        if not level:
            return
    raise UploadError(f"{filename}: nested more than {MAX_DEPTH} levels deep")


def _position(value: Any, where: str) -> None:
    if not isinstance(value, list) or len(value) not in (2, 3) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in value):
        raise UploadError(f"{where}: a position must be [lon, lat] numbers, got {str(value)[:60]}")
    if abs(value[0]) > 180 or abs(value[1]) > 90:
        raise UploadError(f"{where}: position {value[:2]} is outside lon ±180, lat ±90")


def _arrays(value: Any, depth: int, where: str) -> list[Any]:
    """The positions' parents at `depth` (rings for a polygon), checking every level is a list."""
    level = [value]
    for _ in range(depth):
        if not all(isinstance(v, list) for v in level):
            raise UploadError(f"{where}: coordinates are not nested arrays as the type needs")
        level = [item for v in level for item in v]
    return level


def check_geometry(geometry: Any, where: str, allowed: tuple[str, ...] = GEOMETRY_TYPES) -> None:
    """A GeoJSON geometry as `allowed`, with sane positions and closed polygon rings."""
    if not isinstance(geometry, dict):
        raise UploadError(f"{where}: geometry must be an object")
    kind = geometry.get("type")
    if kind not in allowed:
        raise UploadError(f"{where}: geometry type {str(kind)[:40]!r} is not one of "
                          f"{', '.join(allowed)}")
    depth = _COORDINATE_DEPTH[kind]
    if depth == 0:
        _position(geometry.get("coordinates"), where)
        return
    parents = _arrays(geometry.get("coordinates"), depth - 1, where)
    for parent in parents:
        if not isinstance(parent, list) or not parent:
            raise UploadError(f"{where}: empty coordinates")
        for position in parent:
            _position(position, where)
        if kind in ("Polygon", "MultiPolygon") and (len(parent) < 4 or parent[0] != parent[-1]):
            raise UploadError(f"{where}: a polygon ring must be closed (first position = "
                              "last) and have at least 4 positions")


def check_csv(text: str, filename: str) -> None:
    """Every CSV field at most `MAX_CSV_FIELD_CHARS` characters (and the file is CSV at all)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            for column, field in enumerate(row, start=1):
                if len(field) > MAX_CSV_FIELD_CHARS:
                    raise UploadError(f"{filename} row {reader.line_num}, column {column}: "
                                      f"longer than {MAX_CSV_FIELD_CHARS} characters")
    except csv.Error as exc:
        raise UploadError(f"{filename} row {reader.line_num}: {exc}") from exc


def ward_geojson(text: str, filename: str) -> dict[str, Any]:
    """A ward boundary: a Polygon or MultiPolygon geometry, Feature or FeatureCollection."""
    data = strict_json(text, filename)
    if not isinstance(data, dict):
        raise UploadError(f"{filename}: expected a GeoJSON object")
    if data.get("type") == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list) or not features:
            raise UploadError(f"{filename}: a FeatureCollection without features")
    else:
        features = [data]
    for n, feature in enumerate(features, start=1):
        if not isinstance(feature, dict):
            raise UploadError(f"{filename} feature {n}: not an object")
        geometry = feature.get("geometry", feature)
        check_geometry(geometry, f"{filename} feature {n}", ("Polygon", "MultiPolygon"))
    return data
