"""Two real wards of Hanoi on one collector (Định Công 00316, Đống Đa 00235), each with its
service point, probe, reader, staff and synthetic measurements, plus city accounts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import psycopg
import pytest
import shapely
from fastapi.testclient import TestClient

from lomsong import synthetic
from lomsong.collector.app import create_app
from lomsong.collector.dashboard.security import hash_password
from lomsong.collector.settings import Settings
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.collector.storage.migrate import migrate
from lomsong.collector.storage.scope import Scope
from lomsong.collector.storage.sites import ServicePoint, save_site
from lomsong.collector.storage.tokens import create_token
from lomsong.collector.storage.users import create_user
from lomsong.collector.storage.wards import save_ward
from lomsong.collector.ward_catalog import read_official_units, read_ward_boundary

BOUNDARIES = Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata" / "boundaries"
UNITS = BOUNDARIES / "vn_2025_34_provinces_3321_wards_codes_names.json"
PASSWORD = "mat-khau-du-dai-123"


@dataclass(frozen=True)
class WardSeed:
    code: str
    file: str
    site_id: str
    site_name: str
    probe: str
    records: int


DINH_CONG = WardSeed("00316", "hanoi_2025_wards/00316_dinh_cong.geojson", "DC-UBND",
                     "UBND phường Định Công", "dc-pi", 40)
DONG_DA = WardSeed("00235", "hanoi_2025_wards/00235_dong_da.geojson", "DD-UBND",
                   "UBND phường Đống Đa", "dd-pi", 25)


def quadrant_groups() -> gpd.GeoDataFrame:
    """Định Công cut into four quadrants: stand-ins for its residential groups (no public
    outlines of tổ dân phố exist)."""
    ward = gpd.read_file(BOUNDARIES / DINH_CONG.file).to_crs(4326).geometry.union_all()
    min_x, min_y, max_x, max_y = ward.bounds
    mid_x, mid_y = (min_x + max_x) / 2, (min_y + max_y) / 2
    boxes = [shapely.box(min_x, mid_y, mid_x, max_y), shapely.box(mid_x, mid_y, max_x, max_y),
             shapely.box(min_x, min_y, mid_x, mid_y), shapely.box(mid_x, min_y, max_x, mid_y)]
    return gpd.GeoDataFrame({"group_id": [f"TDP{i}" for i in range(1, 5)],
                             "name": [f"Tổ dân phố {i}" for i in range(1, 5)]},
                            geometry=[ward.intersection(b) for b in boxes], crs=4326)


@dataclass
class City:
    url: str
    readers: dict[str, str]
    probes: dict[str, str]


def _records(seed: WardSeed) -> list[StoredRecord]:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    out = []
    for m in list(synthetic.survey(start, days=1, walks=1))[: seed.records]:
        m = m.model_copy(update={"id": uuid.uuid4(), "probe_id": seed.probe})
        out.append(StoredRecord(measurement=m, time=m.measured_at, clock=m.clock))
    return out


def seed_city(conn: psycopg.Connection[Any]) -> tuple[dict[str, str], dict[str, str]]:
    units = read_official_units(UNITS)
    readers, probes = {}, {}
    for seed in (DINH_CONG, DONG_DA):
        boundary = read_ward_boundary(BOUNDARIES / seed.file)
        unit = units[seed.code]
        save_ward(conn, seed.code, unit.name, unit.province_code, unit.province_name,
                  boundary.geojson)
        scope = Scope.ward(seed.code, write=True)
        save_site(conn, ServicePoint(seed.site_id, seed.site_name, "public_service_point", "",
                                     21.0 + len(seed.probe) / 1000, 105.83), scope)
        probes[seed.code] = create_token(conn, seed.probe, "probe", scope)
        readers[seed.code] = create_token(conn, f"{seed.probe}-reader", "reader", scope)
        ingest(conn, _records(seed), datetime.now(UTC), seed.code)
        for role in ("admin", "officer"):
            create_user(conn, f"{seed.probe}.{role}", hash_password(PASSWORD), role,
                        ward_code=seed.code)
    create_user(conn, "city.officer", hash_password(PASSWORD), "city_officer")
    create_user(conn, "city.admin", hash_password(PASSWORD), "city_admin")
    create_user(conn, "viettel.one", hash_password(PASSWORD), "carrier", carrier="viettel")
    return readers, probes


@pytest.fixture(params=["plain"])
def city(request: pytest.FixtureRequest) -> Iterator[City]:
    """The city on plain PostgreSQL (the ward filter is the same SQL on every tier)."""
    server = request.getfixturevalue("pg_plain")
    with server.scratch_database("lomsong_test_") as url:
        migrate(url)
        with psycopg.connect(url, autocommit=True) as conn:
            readers, probes = seed_city(conn)
        yield City(url, readers, probes)


@pytest.fixture
def city_client(city: City) -> Iterator[TestClient]:
    settings = Settings(database_url=city.url, pool_min_size=1, pool_max_size=4,
                        pool_timeout_s=5, secret_key="test-secret-" + "x" * 32)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client
