"""SQL goes through parameters only: injection strings in every text field are stored verbatim,
in every query parameter they are plain values, and nothing else in the database changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from seckit import PROBE, URL, auth

from lomsong.collector.routes.measurements import PROBE_ID_PATTERN
from lomsong.probe.record import ErrorKind, Kind, Measurement

pytestmark = pytest.mark.db

INJECTIONS = [
    "'; DROP TABLE measurements; --",
    '" OR 1=1 --',
    "' OR '1'='1",
    "$$; DELETE FROM api_tokens; $$",
    "$tag$ x $tag$",
    "1); TRUNCATE measurement_ids; --",
    "\\'; SELECT pg_sleep(5); --",
    "%s %(x)s {0} {}",
    "'||(SELECT string_agg(token_hash::text, ',') FROM api_tokens)||'",
    "Robert'); UPDATE api_tokens SET revoked_at = now(); --",
    "Nguyễn Thị Ánh ' \" ; -- /* */",
]
# Free-text fields of the wire record (probe_id, mcc, mnc have patterns and are checked below).
TEXT_FIELDS = ["boot_id", "tool", "tool_version", "server", "interface", "band", "nr_band",
               "ca_bands", "site_id", "error_message", "raw"]


def _limit(field: str) -> int:
    for meta in Measurement.model_fields[field].metadata:
        if hasattr(meta, "max_length"):
            return int(meta.max_length)
    return 10_000


def _snapshot(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                          " ORDER BY 1").fetchall()
    tokens = conn.execute("SELECT id, token_hash, revoked_at FROM api_tokens ORDER BY id").fetchall()
    ids = conn.execute("SELECT count(*) FROM measurement_ids").fetchone()
    return {"tables": tables, "tokens": tokens, "ids": ids}


def test_injection_strings_in_every_text_field_are_stored_verbatim(
        client: TestClient, tokens: dict[str, str], conn: psycopg.Connection[Any]) -> None:
    before = _snapshot(conn)
    base = datetime.now(UTC) - timedelta(hours=1)
    records, expected = [], {}
    for i, (field, text) in enumerate((f, t) for f in TEXT_FIELDS for t in INJECTIONS):
        value = text[: _limit(field)]
        extra: dict[str, Any] = {field: value}
        if field == "error_message":
            extra["error_kind"] = ErrorKind.TOOL_ERROR
        else:
            extra["rtt_ms"] = 20.0
        m = Measurement(probe_id=PROBE, measured_at=base + timedelta(seconds=i), kind=Kind.LATENCY,
                        **{"tool": "ping", **extra})
        records.append(m)
        expected[str(m.id)] = (field, value)
    resp = client.post(URL, json={"measurements": [m.model_dump(mode="json") for m in records]},
                       headers=auth(tokens["probe"]))
    assert resp.status_code == 200, resp.text
    assert resp.json()["stored"] == len(records)
    seen = 0
    params: dict[str, Any] = {"include_raw": "true", "limit": 50}
    while True:
        page = client.get(URL, params=params, headers=auth(tokens["reader"])).json()
        for item in page["items"]:
            field, value = expected[item["id"]]
            assert item[field] == value, (field, value, item[field])
            seen += 1
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == len(records)
    after = _snapshot(conn)
    assert after["tables"] == before["tables"] and after["tokens"] == before["tokens"]
    assert after["ids"] == (before["ids"][0] + len(records),)


@pytest.mark.parametrize("field", ["probe_id", "mcc", "mnc"])
def test_patterned_fields_refuse_injection_strings(
        client: TestClient, tokens: dict[str, str], conn: psycopg.Connection[Any],
        field: str) -> None:
    before = _snapshot(conn)
    record = Measurement(probe_id=PROBE, measured_at=datetime.now(UTC) - timedelta(hours=1),
                         kind=Kind.LATENCY, tool="ping", rtt_ms=20.0).model_dump(mode="json")
    for text in INJECTIONS:
        resp = client.post(URL, json={"measurements": [{**record, field: text}]},
                           headers=auth(tokens["probe"]))
        assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == field
    assert _snapshot(conn) == before


QUERY_PARAMS = ["probe_id", "bbox", "cursor", "from", "to", "carrier", "access", "kind", "limit",
                "include_raw"]


def test_injection_strings_in_every_query_parameter_are_plain_values(
        make_client: Callable[..., TestClient], tokens: dict[str, str],
        conn: psycopg.Connection[Any]) -> None:
    client = make_client(rate_per_token_per_s=0, rate_per_ip_per_s=0)  # ~110 requests here
    record = Measurement(probe_id=PROBE, measured_at=datetime.now(UTC) - timedelta(hours=1),
                         kind=Kind.LATENCY, tool="ping", rtt_ms=20.0)
    assert client.post(URL, json={"measurements": [record.model_dump(mode="json")]},
                       headers=auth(tokens["probe"])).status_code == 200
    schema = client.get("/openapi.json").json()
    declared = {p["name"] for p in schema["paths"][URL]["get"]["parameters"]}
    assert declared == set(QUERY_PARAMS)
    before = _snapshot(conn)
    for name in QUERY_PARAMS:
        for text in INJECTIONS:
            resp = client.get(URL, params={name: text}, headers=auth(tokens["reader"]))
            assert resp.status_code == 422 and resp.json()["detail"], (name, text, resp.text)
    assert _snapshot(conn) == before
    everything = client.get(URL, headers=auth(tokens["reader"])).json()["items"]
    assert [i["id"] for i in everything] == [str(record.id)]


def test_query_probe_id_follows_the_wire_record_rule(client: TestClient,
                                                     tokens: dict[str, str]) -> None:
    record_rule = Measurement.model_json_schema()["properties"]["probe_id"]["pattern"]
    assert record_rule == PROBE_ID_PATTERN
    for value in ("pi\x00-01", "pi 01", "-pi", ""):
        resp = client.get(URL, params={"probe_id": value}, headers=auth(tokens["reader"]))
        assert resp.status_code == 422 and resp.json()["detail"]
    assert client.get(URL, params={"probe_id": "pi-01.a_b"},
                      headers=auth(tokens["reader"])).status_code == 200
