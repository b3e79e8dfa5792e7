"""Tokens are random, shown once, stored only as a hash and revocable; every API route checks
who is calling (no token: 401; wrong role: 403); a probe writes only as itself."""

from __future__ import annotations

import math
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from seckit import PROBE, URL, auth

from lomsong.cli import main as lomsong_main
from lomsong.collector.storage.tokens import create_token, hash_token
from lomsong.probe.record import Kind, Measurement

pytestmark = pytest.mark.db


def _entropy_bits_per_char(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def test_tokens_are_long_random_and_distinct(conn: psycopg.Connection[Any]) -> None:
    tokens = [create_token(conn, f"pi-{i:03d}", "probe") for i in range(50)]
    assert len(set(tokens)) == 50
    bodies = [t.removeprefix("lsk_") for t in tokens]
    assert all(len(b) >= 43 for b in bodies)  # 32 random bytes, URL-safe base64
    assert _entropy_bits_per_char("".join(bodies)) > 5.8  # close to log2(64) = 6


def test_cli_shows_a_token_once_and_the_database_holds_only_its_hash(
        migrated_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LOMSONG_DATABASE_URL", migrated_url)
    assert lomsong_main(["probes", "add", "pi-cli-01"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("lsk_")
    assert lomsong_main(["probes", "list"]) == 0
    listing = capsys.readouterr().out
    assert "pi-cli-01" in listing and token not in listing
    dump = subprocess.run(["pg_dump", "--data-only", "--dbname", migrated_url], capture_output=True,
                          text=True, timeout=120, check=True).stdout
    assert "pi-cli-01" in dump  # the dump does hold the token table
    assert token not in dump and token.removeprefix("lsk_") not in dump
    assert "\\x" + hash_token(token).hex() in dump  # what is stored instead


def test_revoked_token_stops_working_and_a_new_one_can_be_issued(
        client: TestClient, tokens: dict[str, str], conn: psycopg.Connection[Any],
        monkeypatch: pytest.MonkeyPatch, migrated_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    body = {"measurements": [_record(PROBE).model_dump(mode="json")]}
    assert client.post(URL, json=body, headers=auth(tokens["probe"])).status_code == 200
    monkeypatch.setenv("LOMSONG_DATABASE_URL", migrated_url)
    assert lomsong_main(["probes", "revoke", PROBE]) == 0
    assert client.post(URL, json=body, headers=auth(tokens["probe"])).status_code == 401
    assert lomsong_main(["probes", "add", PROBE]) == 0  # rotation: revoke, then add
    fresh = capsys.readouterr().out.strip().splitlines()[-1]
    resend = client.post(URL, json=body, headers=auth(fresh))
    assert resend.json() == {"received": 1, "stored": 0, "duplicates": 1}


def _record(probe_id: str) -> Measurement:
    return Measurement(probe_id=probe_id, measured_at=datetime.now(UTC) - timedelta(minutes=5),
                       kind=Kind.LATENCY, tool="ping", rtt_ms=31.5)


def _api_operations(client: TestClient) -> list[tuple[str, str]]:
    schema = client.get("/openapi.json").json()
    return [(method.upper(), path) for path, ops in schema["paths"].items()
            for method in ops if path.startswith("/api/")]


def test_every_api_operation_needs_a_token_of_the_right_role(
        client: TestClient, tokens: dict[str, str], conn: psycopg.Connection[Any]) -> None:
    operations = _api_operations(client)
    assert ("POST", URL) in operations and ("GET", URL) in operations
    # Routes for probes: the writes, and the server list and re-test schedule a probe reads.
    probe_routes = {op for op in operations if op[0] == "POST"} | {
        ("GET", "/api/v1/probes/servers"), ("GET", "/api/v1/probes/schedule")}
    for method, path in operations:
        for headers in ({}, auth("lsk_not-a-real-token"), {"Authorization": "Basic cGk6cGk="}):
            resp = client.request(method, path, headers=headers, json={})
            assert resp.status_code == 401, (method, path, headers, resp.text)
            assert resp.json()["detail"] and resp.headers["WWW-Authenticate"] == "Bearer"
        wrong = tokens["reader"] if (method, path) in probe_routes else tokens["probe"]
        resp = client.request(method, path, headers=auth(wrong), json={})
        assert resp.status_code == 403, (method, path, resp.text)
    (count,) = conn.execute("SELECT count(*) FROM measurements").fetchone() or (None,)
    assert count == 0


def test_a_probe_cannot_report_status_or_write_for_another(
        client: TestClient, tokens: dict[str, str], conn: psycopg.Connection[Any]) -> None:
    forged = {"measurements": [_record(PROBE).model_dump(mode="json")]}
    resp = client.post(URL, json=forged, headers=auth(tokens["other_probe"]))
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "probe_id"
    status = {"queue_pending": 0, "rejected": 0, "dropped": 0, "clock": "synced",
              "probe": PROBE}
    resp = client.post("/api/v1/probes/status", json=status, headers=auth(tokens["other_probe"]))
    assert resp.status_code == 422  # no name in the body: the token is the identity
    del status["probe"]
    resp = client.post("/api/v1/probes/status", json=status, headers=auth(tokens["other_probe"]))
    assert resp.status_code == 200 and resp.json()["probe"] == "pi-sec-02"
    (count,) = conn.execute("SELECT count(*) FROM measurements").fetchone() or (None,)
    assert count == 0
