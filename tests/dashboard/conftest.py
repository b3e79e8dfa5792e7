"""Fixtures for dashboard tests: a migrated database, users, a seeded synthetic survey, sign-in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from lomsong import synthetic
from lomsong.collector.app import create_app
from lomsong.collector.dashboard.security import hash_password
from lomsong.collector.settings import Settings
from lomsong.collector.storage.fleet import ProbeStatus, record_status
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.collector.storage.sites import ServicePoint, replace_sites, set_ward
from lomsong.collector.storage.tokens import create_token, lookup_token
from lomsong.collector.storage.users import create_user

ADMIN = ("an.admin", "mat-khau-quan-tri-1")
OFFICER = ("binh.canbo", "mat-khau-can-bo-22")
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def add_users(conn: psycopg.Connection[Any]) -> None:
    create_user(conn, ADMIN[0], hash_password(ADMIN[1]), "admin")
    create_user(conn, OFFICER[0], hash_password(OFFICER[1]), "officer")


def seed_survey(conn: psycopg.Connection[Any], *, days: int = 3, walks: int = 2) -> int:
    """The synthetic survey of the last `days` days, its service points, ward, probes."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=days)
    records = [StoredRecord(measurement=m, time=m.measured_at, clock=m.clock)
               for m in synthetic.survey(start, days=days, walks=walks)]
    for i in range(0, len(records), 2_000):
        ingest(conn, records[i:i + 2_000], datetime.now(UTC))
    replace_sites(conn, [
        ServicePoint(p.site_id, p.name, p.site_type, p.address, p.lonlat[1], p.lonlat[0])
        for p in synthetic.SERVICE_POINTS])
    boundary = {"type": "Polygon", "coordinates": [synthetic.ward_boundary()]}
    set_ward(conn, synthetic.SAMPLE_WARD, json.dumps(boundary))
    create_token(conn, "synthetic-walk", "probe")
    lookup_token(conn, create_token(conn, "synthetic-pi", "probe"))  # the probe was seen now
    record_status(conn, "synthetic-pi", ProbeStatus(
        queue_pending=12, rejected=1, dropped=0, last_upload_at=datetime.now(UTC),
        budget_used_bytes=1_250_000_000, budget_limit_bytes=5_000_000_000, clock="synced",
        last_error="iperf3: connection refused (wwan1)", version="0.1.0"), datetime.now(UTC))
    return len(records)


@pytest.fixture
def settings(migrated_url: str) -> Settings:
    return Settings(database_url=migrated_url, pool_min_size=1, pool_max_size=4,
                    pool_timeout_s=5, secret_key="test-secret-" + "x" * 32)


@pytest.fixture
def client(settings: Settings, conn: psycopg.Connection[Any]) -> Iterator[TestClient]:
    add_users(conn)
    with TestClient(create_app(settings), follow_redirects=False) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sign_in(client: TestClient, user: tuple[str, str], **headers: str) -> httpx.Response:
    page = client.get("/login")
    return client.post("/login", data={"username": user[0], "password": user[1],
                                       "csrf_token": csrf_of(page.text), "next": "/map"},
                       headers=headers)


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    assert sign_in(client, ADMIN).status_code == 303
    return client


@pytest.fixture
def officer(client: TestClient) -> TestClient:
    assert sign_in(client, OFFICER).status_code == 303
    return client
