"""Fixtures for security and bad-input tests: a migrated plain-tier database, an app, tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from seckit import PROBE

from lomsong.collector.app import create_app
from lomsong.collector.settings import Settings
from lomsong.collector.storage.tokens import create_token


@pytest.fixture
def db_server(pg_plain: Any) -> Any:
    """Security is about the API and SQL, the same on both tiers: the plain tier suffices."""
    return pg_plain


@pytest.fixture
def make_client(migrated_url: str) -> Iterator[Callable[..., TestClient]]:
    """Build a started TestClient for settings overrides; all are closed afterwards."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        values: dict[str, Any] = dict(database_url=migrated_url, pool_min_size=1, pool_max_size=4,
                                      pool_timeout_s=3, max_body_bytes=2 * 1024 * 1024)
        values.update(overrides)
        client = TestClient(create_app(Settings(**values)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def tokens(conn: psycopg.Connection[Any]) -> dict[str, str]:
    return {"probe": create_token(conn, PROBE, "probe"),
            "other_probe": create_token(conn, "pi-sec-02", "probe"),
            "reader": create_token(conn, "officer-sec", "reader")}
