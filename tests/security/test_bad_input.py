"""Hostile or broken request bodies get a clear 4xx and store nothing (the cases not already in
tests/collector/test_api.py: deep nesting, huge strings, bytes that are not UTF-8, non-finite
numbers, far-future times, coordinates out of range, unknown schema versions, NUL characters)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from seckit import PROBE, URL, auth

from lomsong.collector.routes.measurements import LISTABLE_ERRORS
from lomsong.collector.schemas import MAX_ERRORS
from lomsong.probe.record import ClockState, Kind, Measurement, PositionSource

pytestmark = pytest.mark.db


def _record(**changes: Any) -> dict[str, Any]:
    m = Measurement(probe_id=PROBE, measured_at=datetime.now(UTC) - timedelta(hours=1),
                    kind=Kind.THROUGHPUT_DOWN, tool="iperf3", download_mbps=31.0,
                    lat=21.03, lon=105.85, position_source=PositionSource.GPS,
                    clock=ClockState.SYNCED)
    return {**m.model_dump(mode="json"), **changes}


def _stored(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT (SELECT count(*) FROM measurements)"
                       " + (SELECT count(*) FROM measurement_ids)").fetchone()
    return int(row[0]) if row else -1


@pytest.fixture
def post(client: TestClient, tokens: dict[str, str],
         conn: psycopg.Connection[Any]) -> Iterator[Any]:
    """POST raw bytes as the probe; afterwards nothing may have been stored."""

    def send(body: bytes, content_type: str = "application/json") -> Any:
        return client.post(URL, content=body, headers={**auth(tokens["probe"]),
                                                       "Content-Type": content_type})

    yield send
    assert _stored(conn) == 0


def _assert_clear_4xx(resp: Any, status: int = 422) -> dict[str, Any]:
    assert resp.status_code == status, resp.text[:300]
    body: dict[str, Any] = resp.json()
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def _batch(*records: dict[str, Any]) -> bytes:
    return json.dumps({"measurements": list(records)}).encode()


def test_deeply_nested_json_is_refused(post: Any) -> None:
    depth = 10_000
    for body in (b"[" * depth + b"]" * depth,
                 b'{"measurements": [' + b"[" * depth + b"]" * depth + b"]}",
                 b'{"measurements": [{"raw": ' + b'{"a":' * depth + b"1" + b"}" * depth + b"}]}"):
        _assert_clear_4xx(post(body))


def test_huge_strings_are_refused_naming_the_field(post: Any) -> None:
    for field, size in (("raw", 65_537), ("tool", 201), ("error_message", 2_001),
                        ("server", 256), ("boot_id", 65)):
        body = _assert_clear_4xx(post(_batch(_record(**{field: "x" * size}))))
        assert [(e["index"], e["field"]) for e in body["errors"]] == [(0, field)]
    _assert_clear_4xx(post(json.dumps({"measurements": [_record()], "boot_id": "b" * 10_000})
                           .encode()))


def test_bytes_that_are_not_utf8_are_refused(post: Any) -> None:
    good = _batch(_record(tool="iperf3"))
    for bad in (good.replace(b'"iperf3"', b'"iperf\xff3"'),
                good.replace(b'"iperf3"', b'"\xc3\x28"'),
                good.replace(b'"iperf3"', b'"\xed\xa0\x80"'),  # a UTF-8-encoded surrogate
                b"\xef\xbb\xbf" + b"\xfe\xff" + good):
        _assert_clear_4xx(post(bad))
    _assert_clear_4xx(post(good.decode().encode("utf-16")))


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999"])
def test_non_finite_numbers_are_refused(post: Any, token: bytes) -> None:
    body = _batch(_record(download_mbps=31.0)).replace(b"31.0", token)
    assert token in body
    errors = _assert_clear_4xx(post(body))["errors"]
    assert errors and errors[0]["index"] == 0 and errors[0]["field"] == "download_mbps"
    monotonic = json.dumps({"measurements": [_record()], "monotonic_s": 1.0}).encode()
    _assert_clear_4xx(post(monotonic.replace(b'"monotonic_s": 1.0', b'"monotonic_s": ' + token)))


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59Z", "2100-01-01T00:00:00+07:00",
                                  "+10000-01-01T00:00:00Z", "2026-13-45T99:00:00Z",
                                  "2026-11-01T00:00:00"])
def test_far_future_or_impossible_times_are_refused(post: Any, when: str) -> None:
    errors = _assert_clear_4xx(post(_batch(_record(measured_at=when))))["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(0, "measured_at")]


@pytest.mark.parametrize(("lat", "lon"), [(91.0, 105.0), (-90.5, 105.0), (21.0, 180.5),
                                          (21.0, -181.0), (1e308, 0.0)])
def test_coordinates_out_of_range_are_refused(post: Any, lat: float, lon: float) -> None:
    errors = _assert_clear_4xx(post(_batch(_record(lat=lat, lon=lon))))["errors"]
    assert errors and {e["field"] for e in errors} <= {"lat", "lon"}


@pytest.mark.parametrize("version", [0, 2, 99, "1", "v1", None, [1]])
def test_unknown_schema_versions_are_refused(post: Any, version: Any) -> None:
    errors = _assert_clear_4xx(post(_batch(_record(), _record(schema_version=version))))["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(1, "schema_version")]


_TEXT_FIELDS = tuple(name for name, field in Measurement.model_fields.items()
                     if field.annotation in (str, str | None))


@pytest.mark.parametrize("field", [f for f in _TEXT_FIELDS if f not in ("probe_id", "mcc", "mnc")])
def test_nul_characters_are_a_422_for_that_record_not_a_503(post: Any, field: str) -> None:
    extra = {"error_kind": "tool_error"} if field == "error_message" else {}
    body = _assert_clear_4xx(post(_batch(_record(), _record(**{field: "a\x00b"}, **extra))))
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(1, field)]


def test_more_records_than_a_batch_takes_is_413(make_client: Any, tokens: dict[str, str],
                                                conn: psycopg.Connection[Any]) -> None:
    client = make_client(max_body_bytes=16 * 1024 * 1024)
    record = json.dumps(_record())
    many = ('{"measurements": [' + ",".join(record for _ in range(5_001)) + "]}").encode()
    resp = client.post(URL, content=many, headers={**auth(tokens["probe"]),
                                                   "Content-Type": "application/json"})
    assert "5000" in _assert_clear_4xx(resp, status=413)["detail"].replace(",", "")
    assert _stored(conn) == 0


def test_an_empty_body_or_a_lying_content_length_is_refused(post: Any, client: TestClient,
                                                          tokens: dict[str, str]) -> None:
    _assert_clear_4xx(post(b""))
    big = client.post(URL, content=b"x" * 16, headers={
        **auth(tokens["probe"]), "Content-Type": "application/json",
        "Content-Length": str(10 * 1024 * 1024 * 1024)})
    assert big.status_code in (400, 413)


def test_the_error_list_of_a_422_is_capped(make_client: Any, tokens: dict[str, str],
                                           conn: psycopg.Connection[Any]) -> None:
    client = make_client(max_body_bytes=16 * 1024 * 1024)
    record = _record(**{f"k{i}{'x' * 40}": 0 for i in range(20_000)})
    many = [_record(probe_id="other", download_mbps="fast") for _ in range(500)]
    for body in (_batch(record), _batch(*many)):
        resp = client.post(URL, content=body, headers={**auth(tokens["probe"]),
                                                        "Content-Type": "application/json"})
        reply = _assert_clear_4xx(resp)
        assert len(reply["errors"]) == MAX_ERRORS and len(resp.content) < 64 * 1024
        assert "first 100 of" in reply["detail"], reply["detail"]
    assert _stored(conn) == 0


def _clock_batch(batch_monotonic_s: float, **record: Any) -> bytes:
    body = {"measurements": [_record(**record)], "boot_id": "b1", "monotonic_s": batch_monotonic_s,
            "sent_at": datetime.now(UTC).isoformat()}
    return json.dumps(body).encode()


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+00:00",
                                  "1969-12-31T23:00:00+00:00"])
@pytest.mark.parametrize("clock", ["unsynced", "synced"])
def test_far_future_or_past_times_are_422_whatever_the_clock(post: Any, when: str,
                                                            clock: str) -> None:
    body = _assert_clear_4xx(post(_batch(_record(measured_at=when, clock=clock))))
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(0, "measured_at")]


@pytest.mark.parametrize("batch_s", [1e11, 1e308, 2e9 + 100])
def test_monotonic_overflow_or_huge_gap_is_never_500_nor_corrected(
        client: TestClient, tokens: dict[str, str], conn: psycopg.Connection[Any],
        batch_s: float) -> None:
    sent = _clock_batch(batch_s, measured_at="1970-01-01T00:05:00+00:00", clock="unsynced",
                        boot_id="b1", monotonic_s=100.0)
    resp = client.post(URL, content=sent, headers={**auth(tokens["probe"]),
                                                   "Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text[:300]
    row = conn.execute("SELECT time, clock, probe_time FROM measurements").fetchone()
    assert row is not None and row[1] == "unsynced"
    # Not corrected to 1963 or anywhere: an impossible unsynced time is stored under the
    # receipt (collector.timefix rule 3), and what the probe claimed is kept beside it.
    assert row[0] > datetime(2026, 1, 1, tzinfo=UTC)
    assert row[2] == datetime(1970, 1, 1, 0, 5, tzinfo=UTC)


def test_two_records_with_one_id_in_a_batch_are_422_naming_both(post: Any) -> None:
    first = _record()
    body = _assert_clear_4xx(post(_batch(first, _record(), {**_record(), "id": first["id"]})))
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(2, "id")]
    assert "records 0 and 2" in body["errors"][0]["message"]


def test_an_id_another_probe_stored_is_a_conflict_that_probe_can_see(
        client: TestClient, conn: psycopg.Connection[Any], tokens: dict[str, str]) -> None:
    other = tokens["other_probe"]
    mine, shared = _record(), _record()
    headers = {**auth(tokens["probe"]), "Content-Type": "application/json"}
    assert client.post(URL, content=_batch(shared), headers=headers).json()["stored"] == 1
    theirs = {**shared, "probe_id": "pi-sec-02", "download_mbps": 2.0}
    resp = client.post(URL, content=_batch({**mine, "probe_id": "pi-sec-02"}, theirs),
                       headers={**auth(other), "Content-Type": "application/json"})
    body = _assert_clear_4xx(resp)
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(1, "id")]
    assert PROBE in body["errors"][0]["message"]
    assert _stored(conn) == 2  # the first probe's record, in the ledger and in the table
    again = client.post(URL, content=_batch(shared), headers=headers).json()
    assert (again["stored"], again["duplicates"]) == (0, 1)  # its own resend stays harmless


def test_a_record_with_too_many_errors_to_list_is_422_without_a_list(
        make_client: Any, tokens: dict[str, str], conn: psycopg.Connection[Any]) -> None:
    client = make_client(max_body_bytes=16 * 1024 * 1024)
    record = _record(**{f"k{i}": 0 for i in range(LISTABLE_ERRORS + 1)})
    resp = client.post(URL, content=_batch(record), headers={**auth(tokens["probe"]),
                                                             "Content-Type": "application/json"})
    reply = _assert_clear_4xx(resp)
    assert reply["errors"] == [] and "too many to list" in reply["detail"]
    assert _stored(conn) == 0
