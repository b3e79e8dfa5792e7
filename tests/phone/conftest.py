"""Fixtures of the phone page's tests: a ward with two service points on a real database."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from lomsong.collector.storage.sites import ServicePoint, replace_sites, set_ward

WARD = "Phường Đống Đa"
SECRET = "phone-test-" + "k" * 32
SITES = (
    ServicePoint("ubnd", "UBND phường Đống Đa", "admin_service", "", 21.0181, 105.8292),
    ServicePoint("bdvh", "Bưu điện văn hóa <b>&</b>", "digital_literacy", "", 21.0125, 105.8240),
)


@pytest.fixture
def ward(conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    set_ward(conn, WARD, None)
    replace_sites(conn, SITES)
    return conn


