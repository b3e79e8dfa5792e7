"""`POST /api/v1/probes/status`: a probe reports only its own health."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from lomsong.collector.storage.fleet import list_fleet
from lomsong.collector.storage.tokens import create_token

STATUS = {"queue_pending": 3, "rejected": 1, "dropped": 0,
          "last_upload_at": "2026-11-23T07:00:00Z", "budget_used_bytes": 1_000_000,
          "budget_limit_bytes": 5_000_000_000, "clock": "synced",
          "last_error": "speedtest: timeout", "version": "0.1.0"}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_probe_status_is_stored_as_the_token_owner(client: TestClient,
                                                   conn: psycopg.Connection[Any]) -> None:
    token = create_token(conn, "pi-01", "probe")
    response = client.post("/api/v1/probes/status", json=STATUS, headers=_auth(token))
    assert response.status_code == 200, response.text
    assert response.json()["probe"] == "pi-01"
    again = client.post("/api/v1/probes/status", json={**STATUS, "queue_pending": 0},
                        headers=_auth(token))
    assert again.status_code == 200
    (probe,) = list_fleet(conn)
    assert probe.name == "pi-01" and probe.status is not None
    assert probe.status.queue_pending == 0 and probe.status.last_error == "speedtest: timeout"
    assert probe.status.last_upload_at == datetime(2026, 11, 23, 7, tzinfo=UTC)


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_probe_status_needs_a_probe_token(client: TestClient,
                                          conn: psycopg.Connection[Any]) -> None:
    reader = create_token(conn, "officer", "reader")
    assert client.post("/api/v1/probes/status", json=STATUS).status_code == 401
    assert client.post("/api/v1/probes/status", json=STATUS,
                       headers=_auth("lsk_unknown")).status_code == 401
    assert client.post("/api/v1/probes/status", json=STATUS,
                       headers=_auth(reader)).status_code == 403


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
@pytest.mark.parametrize(("change", "field"), [
    ({"queue_pending": -1}, "queue_pending"),
    ({"clock": "sundial"}, "clock"),
    ({"probe": "pi-02"}, "probe"),
    ({"last_upload_at": "2026-11-23T07:00:00"}, "last_upload_at"),
    ({"last_error": "x" * 2001}, "last_error"),
    ({"version": "1\x00"}, "version"),
])
def test_bad_status_is_refused_and_names_the_field(client: TestClient,
                                                   conn: psycopg.Connection[Any],
                                                   change: dict[str, Any], field: str) -> None:
    token = create_token(conn, "pi-01", "probe")
    response = client.post("/api/v1/probes/status", json={**STATUS, **change},
                           headers=_auth(token))
    assert response.status_code == 422
    assert any(field in (e["field"] or "") for e in response.json()["errors"])
    assert list_fleet(conn)[0].status is None
