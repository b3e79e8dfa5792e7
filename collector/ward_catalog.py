"""Official 2025 administrative units (code, name, province) and ward boundary files.

Reads the national list of the two-level units (a JSON array of provinces, each
``{"Code", "FullName", "Wards": [{"Code", "FullName", "ProvinceCode"}]}``) and a ward's
boundary GeoJSON (a FeatureCollection whose features carry ``code`` and ``fullName``), as
published with the 1 July 2025 reorganisation. Errors name the file and the entry.

Example
-------
>>> units = official_units([{"Code": "01", "FullName": "Thành phố Hà Nội", "Wards": [
...     {"Code": "00316", "FullName": "Phường Định Công", "ProvinceCode": "01"}]}], "list")
>>> units["00316"].name, units["00316"].province_name
('Phường Định Công', 'Thành phố Hà Nội')
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely.geometry
from shapely.validation import explain_validity

__all__ = ["MAX_BOUNDARY_BYTES", "OfficialWard", "WardBoundary", "WardFileError",
           "official_units", "read_official_units", "read_ward_boundary"]

MAX_BOUNDARY_BYTES = 5_000_000
MAX_UNITS_BYTES = 20_000_000
_WARD_CODE = re.compile(r"^[0-9]{5}$")
_PROVINCE_CODE = re.compile(r"^[0-9]{2}$")


class WardFileError(ValueError):
    """A unit list or boundary file is not what it should be (the message names file and entry)."""


@dataclass(frozen=True)
class OfficialWard:
    code: str
    name: str
    province_code: str
    province_name: str


@dataclass(frozen=True)
class WardBoundary:
    code: str
    name: str
    geojson: str  # a FeatureCollection (WGS 84) of the ward's outline


def _text(value: Any, where: str, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise WardFileError(f"{where}: {field} must be a text of 1-200 characters")
    return unicodedata.normalize("NFC", value.strip())


def official_units(data: Any, where: str) -> dict[str, OfficialWard]:
    """Every ward/commune of the national list `data`, by its 5-digit code."""
    if not isinstance(data, list):
        raise WardFileError(f"{where}: expected a JSON array of provinces")
    units: dict[str, OfficialWard] = {}
    for i, province in enumerate(data):
        at = f"{where} [province {i}]"
        if not isinstance(province, dict) or not isinstance(province.get("Wards"), list):
            raise WardFileError(f"{at}: expected an object with Code, FullName and Wards")
        p_code = _text(province.get("Code"), at, "Code")
        if not _PROVINCE_CODE.match(p_code):
            raise WardFileError(f"{at}: Code {p_code!r} is not a 2-digit province code")
        p_name = _text(province.get("FullName"), at, "FullName")
        for j, ward in enumerate(province["Wards"]):
            w_at = f"{at} [ward {j}]"
            if not isinstance(ward, dict):
                raise WardFileError(f"{w_at}: expected an object")
            code = _text(ward.get("Code"), w_at, "Code")
            if not _WARD_CODE.match(code):
                raise WardFileError(f"{w_at}: Code {code!r} is not a 5-digit ward code")
            units[code] = OfficialWard(code, _text(ward.get("FullName"), w_at, "FullName"),
                                       p_code, p_name)
    return units


def _load_json(path: Path, limit: int) -> Any:
    try:
        size = path.stat().st_size
        if size > limit:
            raise WardFileError(f"{path}: larger than {limit} bytes")
        return json.loads(path.read_bytes())
    except OSError as exc:
        raise WardFileError(f"{path}: cannot read: {exc.strerror}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WardFileError(f"{path}: not valid JSON: {exc}") from exc


def read_official_units(path: Path) -> dict[str, OfficialWard]:
    return official_units(_load_json(path, MAX_UNITS_BYTES), str(path))


def read_ward_boundary(path: Path) -> WardBoundary:
    """The ward code, name and outline of one boundary file (polygons only, valid, WGS 84)."""
    data = _load_json(path, MAX_BOUNDARY_BYTES)
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list) or not features:
        raise WardFileError(f"{path}: expected a GeoJSON FeatureCollection with one feature")
    props = features[0].get("properties") or {}
    code = _text(props.get("code"), str(path), "properties.code")
    if not _WARD_CODE.match(code):
        raise WardFileError(f"{path}: properties.code {code!r} is not a 5-digit ward code")
    name = _text(props.get("fullName") or props.get("name"), str(path), "properties.fullName")
    shapes = []
    for i, feature in enumerate(features):
        try:
            shape = shapely.geometry.shape(feature["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise WardFileError(f"{path} [feature {i}]: not a GeoJSON geometry") from exc
        if shape.geom_type not in ("Polygon", "MultiPolygon"):
            raise WardFileError(f"{path} [feature {i}]: a ward outline must be a polygon, "
                                f"got {shape.geom_type}")
        if not shape.is_valid:
            raise WardFileError(f"{path} [feature {i}]: invalid polygon "
                                f"({explain_validity(shape)})")
        min_x, min_y, max_x, max_y = shape.bounds
        if not (-180 <= min_x <= max_x <= 180 and -90 <= min_y <= max_y <= 90):
            raise WardFileError(f"{path} [feature {i}]: coordinates are not WGS 84 lon/lat")
        shapes.append(shape)
    outline = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": code, "name": name},
         "geometry": shapely.geometry.mapping(s)} for s in shapes]}
    return WardBoundary(code, name, json.dumps(outline, ensure_ascii=False))
