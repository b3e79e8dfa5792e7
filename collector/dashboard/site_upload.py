"""Service points from an uploaded GeoJSON or CSV file, or from the form: checked row by row.

A file is accepted whole or not at all: the first bad row is named with its field, and nothing
from the file is imported. The rules are those of `analysis.sites.read_service_points` (which
does the reading) plus the database's limits on lengths.

Example
-------
>>> point = point_from_form({"site_id": "hcc-01", "name": "Điểm phục vụ", "site_type": "school",
...                          "address": "", "lat": "21.03", "lon": "105.85"})
>>> point.lat
21.03
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from pathlib import Path

from lomsong.analysis.sites import SITE_TYPES, read_service_points
from lomsong.collector.dashboard.upload_checks import (
    UploadError,
    check_csv,
    check_geometry,
    strict_json,
)
from lomsong.collector.storage.sites import ServicePoint

__all__ = ["MAX_UPLOAD_BYTES", "SITE_TYPES", "UploadError", "point_from_form", "points_from_file"]

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
_LIMITS = {"site_id": 64, "name": 200, "address": 300}


def _check_lengths(where: str, values: Mapping[str, str]) -> None:
    for field, limit in _LIMITS.items():
        if len(values[field]) > limit:
            raise UploadError(f"{where}{field}: longer than {limit} characters")
        if "\x00" in values[field]:
            raise UploadError(f"{where}{field}: contains a NUL character")


def _check_features(data: object, filename: str) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("features"), list):
        raise UploadError(f"{filename}: expected a GeoJSON FeatureCollection")
    for n, feature in enumerate(data["features"], start=1):
        where = f"{filename} feature {n}"
        if not isinstance(feature, dict):
            raise UploadError(f"{where}: not an object")
        check_geometry(feature.get("geometry"), where, ("Point",))
        properties = feature.get("properties")
        if properties is not None and not isinstance(properties, dict):
            raise UploadError(f"{where}, properties: not an object")


def points_from_file(filename: str, data: bytes) -> list[ServicePoint]:
    """Parse an upload named `filename` (``.geojson``/``.json`` or ``.csv``)."""
    suffix = Path(filename).suffix.lower()
    if suffix not in (".geojson", ".json", ".csv"):
        raise UploadError(f"{filename}: expected a .geojson or .csv file")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(f"{filename}: larger than {MAX_UPLOAD_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UploadError(f"{filename}: not UTF-8 text (byte {exc.start})") from exc
    if suffix == ".csv":
        check_csv(text, filename)
    else:
        _check_features(strict_json(text, filename), filename)
    with tempfile.TemporaryDirectory(prefix="lomsong-upload-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            frame = read_service_points(path)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise UploadError(str(exc).replace(str(path), filename)) from exc
    points = []
    first_row, unit = (2, "row") if suffix == ".csv" else (1, "feature")
    for n, row in enumerate(frame.itertuples(index=False), start=first_row):
        values = {"site_id": str(row.site_id), "name": str(row.name), "address": str(row.address)}
        _check_lengths(f"{filename} {unit} {n}, ", values)
        points.append(ServicePoint(site_id=values["site_id"], name=values["name"],
                                   site_type=str(row.site_type), address=values["address"],
                                   lat=float(row.geometry.y), lon=float(row.geometry.x)))
    if not points:
        raise UploadError(f"{filename}: no service points in the file")
    return points


def point_from_form(form: Mapping[str, str]) -> ServicePoint:
    """One service point from the admin form's fields."""
    values = {k: str(form.get(k, "")).strip() for k in ("site_id", "name", "site_type", "address")}
    for field in ("site_id", "name"):
        if not values[field]:
            raise UploadError(f"{field}: missing")
    if values["site_type"] not in SITE_TYPES:
        raise UploadError(f"site_type: {values['site_type']!r} is not one of "
                          f"{', '.join(SITE_TYPES)}")
    _check_lengths("", values)
    coords = {}
    for field, bound in (("lat", 90.0), ("lon", 180.0)):
        text = str(form.get(field, "")).strip().replace(",", ".")
        try:
            value = float(text)
        except ValueError:
            raise UploadError(f"{field}: {text!r} is not a number") from None
        if not math.isfinite(value) or abs(value) > bound:
            raise UploadError(f"{field}: {value} out of range")
        coords[field] = value
    return ServicePoint(site_id=values["site_id"], name=values["name"],
                        site_type=values["site_type"], address=values["address"], **coords)
