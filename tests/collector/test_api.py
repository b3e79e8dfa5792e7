"""The HTTP API against a real database: ingest, auth, bad input, query, health."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from lomsong.probe.record import Access, Carrier, ClockState

from .conftest import auth, batch_body, make_measurement

pytestmark = pytest.mark.db
URL = "/api/v1/measurements"


def count(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM measurements").fetchone()
    assert row is not None
    return int(row[0])


def test_post_stores_and_a_resend_is_harmless(client: TestClient, tokens: dict[str, str],
                                              conn: psycopg.Connection[Any]) -> None:
    body = batch_body([make_measurement(i) for i in range(10)])
    first = client.post(URL, json=body, headers=auth(tokens["probe"]))
    assert first.status_code == 200, first.text
    assert first.json() == {"received": 10, "stored": 10, "duplicates": 0}
    again = client.post(URL, json=body, headers=auth(tokens["probe"]))
    assert again.json() == {"received": 10, "stored": 0, "duplicates": 10}
    assert count(conn) == 10


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc"])
def test_missing_or_wrong_token_is_401(client: TestClient, tokens: dict[str, str],
                                       header: str | None, conn: psycopg.Connection[Any]) -> None:
    headers = {} if header is None else {"Authorization": header}
    resp = client.post(URL, json=batch_body([make_measurement()]), headers=headers)
    assert resp.status_code == 401
    assert resp.json()["detail"]
    assert count(conn) == 0


def test_revoked_token_is_401(client: TestClient, tokens: dict[str, str],
                              conn: psycopg.Connection[Any]) -> None:
    from lomsong.collector.storage.tokens import revoke_token
    assert revoke_token(conn, "pi-01", "probe")
    resp = client.post(URL, json=batch_body([make_measurement()]), headers=auth(tokens["probe"]))
    assert resp.status_code == 401


def test_a_probe_writes_only_as_itself(client: TestClient, tokens: dict[str, str],
                                       conn: psycopg.Connection[Any]) -> None:
    resp = client.post(URL, json=batch_body([make_measurement(0), make_measurement(1)]),
                       headers=auth(tokens["other_probe"]))
    assert resp.status_code == 422
    assert [e["index"] for e in resp.json()["errors"]] == [0, 1]
    assert resp.json()["errors"][0]["field"] == "probe_id"
    reader = client.post(URL, json=batch_body([make_measurement()]), headers=auth(tokens["reader"]))
    assert reader.status_code == 403
    assert count(conn) == 0


def test_invalid_records_name_index_and_field_and_nothing_is_stored(
        client: TestClient, tokens: dict[str, str], conn: psycopg.Connection[Any]) -> None:
    records = [make_measurement(i).model_dump(mode="json") for i in range(5)]
    records[1]["rsrp_dbm"] = 12.0          # out of range
    records[3]["lat"] = 123.0              # not a latitude
    records[4]["download_mbps"] = "fast"   # wrong type
    resp = client.post(URL, json={"measurements": records}, headers=auth(tokens["probe"]))
    assert resp.status_code == 422
    body = resp.json()
    assert "nothing" in body["detail"]
    assert {(e["index"], e["field"]) for e in body["errors"]} == {
        (1, "rsrp_dbm"), (3, "lat"), (4, "download_mbps")}
    assert count(conn) == 0


@pytest.mark.parametrize("payload", [
    b"{not json",
    b'{"measurements": []}',
    b'{"measurements": [{"schema_version": 2}]}',
    b'{"measurements": "x"}',
    b'{"measurements": [{"download_mbps": NaN}]}',
    "\u00ff\u00fe".encode("latin-1"),
])
def test_malformed_bodies_are_422_with_a_body(client: TestClient, tokens: dict[str, str],
                                              payload: bytes, conn: psycopg.Connection[Any]) -> None:
    resp = client.post(URL, content=payload, headers={**auth(tokens["probe"]),
                                                      "Content-Type": "application/json"})
    assert resp.status_code == 422
    assert resp.json()["detail"]
    assert count(conn) == 0


def test_oversized_body_is_413(client: TestClient, tokens: dict[str, str],
                               conn: psycopg.Connection[Any]) -> None:
    records = [make_measurement(i, raw="x" * 60_000) for i in range(40)]  # ~2.4 MB > 2 MiB
    resp = client.post(URL, json=batch_body(records), headers=auth(tokens["probe"]))
    assert resp.status_code == 413
    assert count(conn) == 0


def test_unsynced_clock_is_corrected_from_monotonic_offsets(
        client: TestClient, tokens: dict[str, str], conn: psycopg.Connection[Any]) -> None:
    epoch = datetime(1970, 1, 1, 0, 5, tzinfo=UTC)
    records = [
        make_measurement(0, measured_at=epoch, clock=ClockState.UNSYNCED,
                         boot_id="boot-a", monotonic_s=100.0),
        make_measurement(1, measured_at=epoch, clock=ClockState.UNSYNCED,
                         boot_id="boot-old", monotonic_s=50.0),
    ]
    before = datetime.now(UTC)
    body = batch_body(records, boot_id="boot-a", monotonic_s=400.0)
    resp = client.post(URL, json=body, headers=auth(tokens["probe"]))
    assert resp.status_code == 200, resp.text
    rows = dict(conn.execute("SELECT boot_id, clock FROM measurements").fetchall())
    assert rows == {"boot-a": "corrected", "boot-old": "unsynced"}
    row = conn.execute("SELECT time, probe_time FROM measurements WHERE boot_id = 'boot-a'"
                       ).fetchone()
    assert row is not None
    corrected, probe_time = row
    assert probe_time == epoch
    # 300 s before the collector received the batch
    assert before - timedelta(seconds=301) <= corrected <= datetime.now(UTC) - timedelta(seconds=299)


def test_future_time_from_a_synced_clock_is_rejected(client: TestClient, tokens: dict[str, str],
                                                     conn: psycopg.Connection[Any]) -> None:
    future = make_measurement(0, measured_at=datetime.now(UTC) + timedelta(days=3),
                              clock=ClockState.SYNCED)
    resp = client.post(URL, json=batch_body([make_measurement(1), future]),
                       headers=auth(tokens["probe"]))
    assert resp.status_code == 422
    assert resp.json()["errors"] == [
        {"index": 1, "field": "measured_at", "message": resp.json()["errors"][0]["message"]}]
    assert "future" in resp.json()["errors"][0]["message"]
    assert count(conn) == 0


def test_query_needs_a_reader_and_pages_with_filters(client: TestClient,
                                                     tokens: dict[str, str]) -> None:
    records = [make_measurement(i, carrier=Carrier.VIETTEL if i % 3 else Carrier.MOBIFONE)
               for i in range(30)]
    assert client.post(URL, json=batch_body(records), headers=auth(tokens["probe"])).is_success
    assert client.get(URL, headers=auth(tokens["probe"])).status_code == 403
    assert client.get(URL).status_code == 401
    ids: list[str] = []
    params: dict[str, Any] = {"carrier": "mobifone", "limit": 3}
    while True:
        page = client.get(URL, params=params, headers=auth(tokens["reader"]))
        assert page.status_code == 200, page.text
        data = page.json()
        ids += [item["id"] for item in data["items"]]
        if data["next_cursor"] is None:
            break
        params["cursor"] = data["next_cursor"]
    assert ids == [str(m.id) for m in records if m.carrier is Carrier.MOBIFONE]
    item = client.get(URL, params={"limit": 1}, headers=auth(tokens["reader"])).json()["items"][0]
    assert item["h3_cell"] and item["received_at"] and item["raw"] is None


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_ca_bands_round_trip_through_post_and_get(client: TestClient, tokens: dict[str, str]) -> None:
    records = [make_measurement(0, ca_bands="n41+n71+n41", access=Access.NR_SA, nr_band="n41"),
               make_measurement(1)]
    posted = client.post(URL, json=batch_body(records), headers=auth(tokens["probe"]))
    assert posted.json() == {"received": 2, "stored": 2, "duplicates": 0}, posted.text
    items = client.get(URL, headers=auth(tokens["reader"])).json()["items"]
    assert [(i["id"], i["ca_bands"]) for i in items] == [
        (str(records[0].id), "n41+n71+n41"), (str(records[1].id), None)]
    too_long = make_measurement(2).model_dump(mode="json") | {"ca_bands": "n41+" * 16 + "n41"}
    resp = client.post(URL, json={"measurements": [too_long]}, headers=auth(tokens["probe"]))
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "ca_bands"


@pytest.mark.parametrize("params", [
    {"bbox": "1,2,3"}, {"bbox": "200,0,201,1"}, {"from": "2026-11-01T00:00:00"},
    {"cursor": "garbage"}, {"limit": 0}, {"carrier": "telstra"},
])
def test_bad_query_parameters_are_422(client: TestClient, tokens: dict[str, str],
                                      params: dict[str, Any]) -> None:
    resp = client.get(URL, params=params, headers=auth(tokens["reader"]))
    assert resp.status_code == 422
    assert resp.json()["detail"]


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "Batch" in schema["components"]["schemas"]


def test_database_down_is_503_with_retry_after(client: TestClient, tokens: dict[str, str],
                                               migrated_url: str, db_url: str) -> None:
    dbname = migrated_url.rsplit("/", 1)[1]
    admin = migrated_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                     " WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,))
    try:
        resp = client.post(URL, json=batch_body([make_measurement()]),
                           headers=auth(tokens["probe"]))
        assert resp.status_code == 503
        assert resp.headers["Retry-After"]
        assert json.loads(resp.text)["detail"]
        assert client.get("/readyz").status_code == 503
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
    retry = client.post(URL, json=batch_body([make_measurement()]), headers=auth(tokens["probe"]))
    assert retry.status_code == 200
