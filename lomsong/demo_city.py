"""The demo's city: two real 2025 wards of Hà Nội with a SYNTHETIC survey laid out in each.

Phường Định Công (00316) and Phường Đống Đa (00235) keep their official codes, names and outlines
(`lomsong/demo_wards/`, see its PROVENANCE.md); the service points, probes and every measurement
in them come from `lomsong.synthetic` (``source = synthetic``), laid out around a point inside
each outline and kept within it, with probe and site ids tagged by the ward's code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

import psycopg
import shapely
import shapely.geometry

from lomsong.collector.storage.scope import Scope
from lomsong.collector.storage.sites import ServicePoint, replace_sites
from lomsong.collector.storage.wards import save_ward
from lomsong.synthetic import SamplePlace, place_points

__all__ = ["DEMO_WARDS", "DemoWard", "store_demo_wards", "synthetic_probes", "ward_place"]

PROVINCE: Final = ("01", "Thành phố Hà Nội")


@dataclass(frozen=True)
class DemoWard:
    code: str
    name: str
    filename: str

    @property
    def scope(self) -> Scope:
        return Scope.ward(self.code, write=True)


DEMO_WARDS: Final = (
    DemoWard("00316", "Phường Định Công", "00316_dinh_cong.geojson"),
    DemoWard("00235", "Phường Đống Đa", "00235_dong_da.geojson"),
)


@cache
def _outline(ward: DemoWard) -> dict[str, Any]:
    text = (resources.files("lomsong.demo_wards") / ward.filename).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    props = data["features"][0]["properties"]
    if props.get("code") != ward.code:
        raise ValueError(f"{ward.filename}: properties.code {props.get('code')!r} is not {ward.code}")
    return data


def _shape(ward: DemoWard) -> shapely.Geometry:
    geometry = shapely.geometry.shape(_outline(ward)["features"][0]["geometry"])
    shapely.prepare(geometry)
    return geometry


@cache
def ward_place(ward: DemoWard) -> SamplePlace:
    """Where the synthetic survey of `ward` lies: around a point inside its outline, within it."""
    shape = _shape(ward)
    point = shape.representative_point()

    def inside(lon: float, lat: float) -> bool:
        return bool(shapely.contains_xy(shape, lon, lat))

    return SamplePlace(lat=point.y, lon=point.x, tag=ward.code, inside=inside)


def synthetic_probes(ward: DemoWard) -> tuple[str, str]:
    """The walker's and the Pi's probe names in `ward`."""
    place = ward_place(ward)
    return place.probe("synthetic-walk"), place.probe("synthetic-pi")


def store_demo_wards(conn: psycopg.Connection[Any]) -> int:
    """Store both wards (code, name, province, outline) and their synthetic service points;
    returns how many service points were stored."""
    stored = 0
    for ward in DEMO_WARDS:
        outline = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"code": ward.code, "name": ward.name},
             "geometry": f["geometry"]} for f in _outline(ward)["features"]]}
        save_ward(conn, ward.code, ward.name, *PROVINCE, json.dumps(outline, ensure_ascii=False))
        points = [ServicePoint(site_id, p.name, p.site_type, p.address, lat, lon)
                  for p, site_id, lon, lat in place_points(ward_place(ward))]
        stored += replace_sites(conn, points, ward.scope)
    return stored
