"""Shared data of the case tests: real 2025 wards (Định Công, Đống Đa) and their users."""

from __future__ import annotations

from typing import Any

import psycopg

from lomsong.collector.caseflow import Actor
from lomsong.collector.dashboard.security import hash_password
from lomsong.collector.storage.cases import NewCase, create_case
from lomsong.collector.storage.scope import Scope
from lomsong.collector.storage.users import create_user
from lomsong.collector.storage.wards import save_ward

DINH_CONG = "00316"  # Phường Định Công (boundaries/hanoi_2025_wards/00316_dinh_cong.geojson)
DONG_DA = "00235"  # Phường Đống Đa
# A point inside Định Công's 2025 outline.
DINH_CONG_POINT = (20.9845, 105.8330)
PASSWORD = "mat-khau-du-dai-1"
CITY = Scope.all_wards()  # what the city officer reads
USERS = {
    "dc.canbo": ("officer", DINH_CONG, None),
    "dd.canbo": ("officer", DONG_DA, None),
    "viettel.a": ("carrier", None, "viettel"),
    "viettel.b": ("carrier", None, "viettel"),
    "vnpt.a": ("carrier", None, "vnpt"),
    "tp.admin": ("city_admin", None, None),
}


def actor(name: str) -> Actor:
    role, ward, carrier = USERS[name]
    return Actor.of(name, role, ward, carrier)


def add_case_users(conn: psycopg.Connection[Any], with_passwords: bool = False) -> None:
    password_hash = hash_password(PASSWORD) if with_passwords else "x"
    for code, name in ((DINH_CONG, "Phường Định Công"), (DONG_DA, "Phường Đống Đa")):
        save_ward(conn, code, name, "01", "Thành phố Hà Nội", None)  # users belong to a ward
    for name, (role, ward, carrier) in USERS.items():
        create_user(conn, name, password_hash, role,  # type: ignore[arg-type]
                    ward_code=ward, carrier=carrier)


def new_case(conn: psycopg.Connection[Any], ward: str = DINH_CONG, carrier: str = "viettel",
             title: str = "Trụ sở UBND phường: 4G dưới 40 Mbps") -> int:
    lat, lon = DINH_CONG_POINT
    return create_case(conn, NewCase(ward, carrier, "4g", title, "", "ubnd-dinh-cong", lat, lon,
                                     150.0), actor("dc.canbo" if ward == DINH_CONG else "dd.canbo"))
