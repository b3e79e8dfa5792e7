"""Fixtures for collector tests: a migrated database, an app, tokens and record factories."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from lomsong.collector.app import create_app
from lomsong.collector.settings import Settings
from lomsong.collector.storage.tokens import create_token
from lomsong.probe.record import Access, Carrier, Kind, Measurement, PositionSource

BASE_TIME = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def make_measurement(i: int = 0, **overrides: Any) -> Measurement:
    """A realistic 4G download result near Hoan Kiem, Hanoi."""
    values: dict[str, Any] = dict(
        probe_id="pi-01",
        measured_at=BASE_TIME + timedelta(minutes=i),
        kind=Kind.THROUGHPUT_DOWN,
        tool="iperf3",
        carrier=Carrier.VIETTEL,
        access=Access.LTE,
        download_mbps=20.0 + i % 50,
        bytes_used=10_000_000,
        duration_s=4.0,
        rsrp_dbm=-95.0,
        sinr_db=8.5,
        lat=21.0285 + i * 1e-4,
        lon=105.8542,
        position_source=PositionSource.SITE,
    )
    values.update(overrides)
    return Measurement(**values)


@pytest.fixture
def client(migrated_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=migrated_url, pool_min_size=1, pool_max_size=4,
                        pool_timeout_s=3, max_body_bytes=2 * 1024 * 1024)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def tokens(conn: psycopg.Connection[Any]) -> dict[str, str]:
    return {
        "probe": create_token(conn, "pi-01", "probe"),
        "other_probe": create_token(conn, "pi-02", "probe"),
        "reader": create_token(conn, "officer", "reader"),
    }


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def batch_body(records: list[Measurement], **envelope: Any) -> dict[str, Any]:
    return {"measurements": [m.model_dump(mode="json") for m in records], **envelope}


@pytest.fixture
def make() -> Callable[..., Measurement]:
    return make_measurement


@pytest.fixture
def new_id() -> Callable[[], uuid.UUID]:
    return uuid.uuid4
