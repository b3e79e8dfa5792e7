"""The phone page over HTTP: the page, payloads, results through the probes' ingest, abuse limits."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from lomsong.collector.app import create_app
from lomsong.collector.phone.enrol import sign_token
from lomsong.collector.settings import Settings
from lomsong.collector.storage.enrolments import create_enrolment, revoke_enrolment

from .conftest import SECRET, WARD

pytestmark = pytest.mark.parametrize("db_server", ["plain"], indirect=True)
DEVICE = "web-0123456789abcdef"
VIETTEL_ADDRESS = "116.100.200.1"

Client = Callable[..., TestClient]


@pytest.fixture
def make_client(migrated_url: str) -> Iterator[Client]:
    opened: list[TestClient] = []

    def make(address: str = VIETTEL_ADDRESS, **overrides: Any) -> TestClient:
        settings = Settings(database_url=migrated_url, pool_min_size=1, pool_max_size=4,
                            secret_key=SECRET, phone_payload_max_bytes=4 * 1024 * 1024,
                            **overrides)
        client = TestClient(create_app(settings), client=(address, 50_000))
        opened.append(client.__enter__())
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def _link(conn: psycopg.Connection[Any], site: str | None = "ubnd") -> str:
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
    made = create_enrolment(conn, ward=WARD, site_id=site, label="", expires_at=expires)
    return sign_token(SECRET, made.id, int(expires.timestamp()))


def _record(kind: str = "throughput_down", site: str | None = "ubnd", **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()), "schema_version": 1, "probe_id": DEVICE, "source": "browser",
        "measured_at": datetime.now(UTC).isoformat(), "tool": "lomsong-web", "tool_version": "1",
        "kind": kind, "carrier": "viettel", "access": "4g", "site_id": site,
        "raw": '{"method": {"name": "http-parallel", "streams": 4}}',
    }
    if kind == "throughput_down":
        values.update(download_mbps=38.5, bytes_used=60_000_000, duration_s=10.0)
    values.update(fields)
    return values


def test_page_names_the_place_and_suggests_the_carrier(ward: psycopg.Connection[Any],
                                                       make_client: Client) -> None:
    token = _link(ward, site="bdvh")
    page = make_client().get("/do", params={"t": token})
    assert page.status_code == 200
    html = page.text
    assert "Bưu điện văn hóa &lt;b&gt;&amp;&lt;/b&gt;" in html  # the place's name, escaped
    assert '<option value="viettel" selected>' in html
    assert '<script src="/static/phone/measure.js" defer></script>' in html
    assert html.count("<script") == 1
    assert "Đo mạng" in html
    english = make_client("8.8.8.8").get("/do", params={"t": token, "lang": "en"}).text
    assert "Measure the network" in english and '<option value="unknown" selected>' in english
    assert make_client().get("/static/phone/measure.js").status_code == 200


@pytest.mark.parametrize("how", ["tampered", "revoked", "missing"])
def test_a_bad_link_gets_a_page_saying_so(ward: psycopg.Connection[Any], make_client: Client,
                                          how: str) -> None:
    token = _link(ward)
    if how == "tampered":
        token = token.replace("e1.1.", "e1.2.")
    elif how == "revoked":
        revoke_enrolment(ward, 1)
    elif how == "missing":
        token = ""
    page = make_client().get("/do", params={"t": token})
    assert page.status_code == 403
    assert "Liên kết này không dùng được" in page.text
    assert "measure.js" not in page.text


def test_payloads_are_exact_and_incompressible(ward: psycopg.Connection[Any],
                                               make_client: Client) -> None:
    client, token = make_client(), _link(ward)
    body = client.get("/do/api/down", params={"t": token, "bytes": 3_000_000}).content
    assert len(body) == 3_000_000
    assert len(zlib.compress(body, 9)) > 0.99 * len(body)
    assert client.get("/do/api/down", params={"t": token, "bytes": 0}).content == b""
    up = client.post("/do/api/up", params={"t": token}, content=b"x" * 1_500_000)
    assert up.json() == {"received": 1_500_000}
    assert client.get("/do/api/ping", params={"t": token}).status_code == 204
    too_big = client.get("/do/api/down", params={"t": token, "bytes": 4 * 1024 * 1024 + 1})
    assert too_big.status_code == 413 and "bytes: at most" in too_big.json()["detail"]
    assert client.post("/do/api/up", params={"t": token},
                       content=b"x" * (4 * 1024 * 1024 + 1)).status_code == 413
    forged = client.get("/do/api/ping", params={"t": token[:-3] + "AAA"})
    assert forged.status_code == 403 and "signature" in forged.json()["detail"]


def test_results_go_through_the_probes_ingest(ward: psycopg.Connection[Any],
                                              make_client: Client) -> None:
    client, token = make_client(), _link(ward)
    batch = {"measurements": [_record(), _record("latency", rtt_ms=31.0, jitter_ms=4.0)]}
    sent = client.post("/do/api/results", params={"t": token}, json=batch)
    assert sent.status_code == 200, sent.text
    assert sent.json()["stored"] == 2
    again = client.post("/do/api/results", params={"t": token}, json=batch)
    assert again.json()["duplicates"] == 2
    rows = ward.execute(
        "SELECT m.source, m.site_id, m.probe_id, m.download_mbps, b.enrolment_id, e.ward"
        " FROM measurements m JOIN browser_records b ON b.measurement_id = m.id"
        " JOIN enrolments e ON e.id = b.enrolment_id WHERE m.kind = 'throughput_down'").fetchall()
    assert rows == [("browser", "ubnd", DEVICE, 38.5, 1, WARD)]


@pytest.mark.parametrize(("change", "field"), [
    ({"site_id": "bdvh"}, "site_id"),
    ({"source": "probe"}, "source"),
    ({"probe_id": "pi-ubnd-01"}, "probe_id"),
    ({"tool": "iperf3"}, "tool"),
    ({"download_mbps": -1}, "download_mbps"),
])
def test_a_record_the_link_does_not_allow_is_refused(ward: psycopg.Connection[Any],
                                                     make_client: Client,
                                                     change: dict[str, Any], field: str) -> None:
    client, token = make_client(), _link(ward)
    sent = client.post("/do/api/results", params={"t": token},
                       json={"measurements": [_record(), _record(**change)]})
    assert sent.status_code == 422
    assert [(e["index"], e["field"]) for e in sent.json()["errors"]] == [(1, field)]
    assert ward.execute("SELECT count(*) FROM measurements").fetchone() == (0,)


def test_a_revoked_link_sends_nothing(ward: psycopg.Connection[Any], make_client: Client) -> None:
    client, token = make_client(), _link(ward)
    revoke_enrolment(ward, 1)
    sent = client.post("/do/api/results", params={"t": token}, json={"measurements": [_record()]})
    assert sent.status_code == 403 and "revoked" in sent.json()["detail"]


def test_rate_limits_per_address_and_per_link(ward: psycopg.Connection[Any],
                                              make_client: Client) -> None:
    token = _link(ward)
    one = make_client("1.52.0.1", phone_rate_per_address_per_s=0.01,
                      phone_rate_per_address_burst=3)
    codes = [one.get("/do/api/ping", params={"t": token}).status_code for _ in range(4)]
    assert codes == [204, 204, 204, 429]
    limited = one.get("/do/api/ping", params={"t": token})
    assert int(limited.headers["Retry-After"]) >= 1
    assert "address" in limited.json()["detail"]
    # Guesses are throttled before the signature is even checked.
    assert one.get("/do/api/ping", params={"t": "e1.9.9.AAAAAAAAAAAAAAAAAAAAAA"}).status_code == 429
    assert one.get("/do", params={"t": token}).status_code == 429

    shared = make_client("1.52.0.2", phone_rate_per_link_per_s=0.01, phone_rate_per_link_burst=2)
    codes = [shared.get("/do/api/ping", params={"t": token}).status_code for _ in range(3)]
    assert codes == [204, 204, 429]
    other = _link(ward)
    assert shared.get("/do/api/ping", params={"t": other}).status_code == 204


def test_implausible_records_are_flagged_not_rejected(ward: psycopg.Connection[Any],
                                                      make_client: Client) -> None:
    client, token = make_client(phone_max_serve_mbps=500.0), _link(ward, site=None)
    start = datetime.now(UTC) - timedelta(minutes=10)
    here = {"lat": 21.0181, "lon": 105.8292, "accuracy_m": 10.0, "position_source": "browser"}
    first = _record(site=None, measured_at=start.isoformat(), **here)
    fast = _record(site=None, measured_at=(start + timedelta(seconds=30)).isoformat(),
                   download_mbps=900.0, bytes_used=1_200_000_000, duration_s=10.0, **here)
    padded = _record(site=None, measured_at=(start + timedelta(seconds=60)).isoformat(),
                     download_mbps=80.0, bytes_used=10_000_000, duration_s=10.0, **here)
    far = dict(here, lat=21.2181)  # 22 km in one minute
    jumped = _record(site=None, measured_at=(start + timedelta(seconds=120)).isoformat(),
                     download_mbps=12.0, **far)
    assert client.post("/do/api/results", params={"t": token},
                       json={"measurements": [first]}).json()["flags"] == {}
    copy = dict(first, id=str(uuid.uuid4()),
                measured_at=(start + timedelta(seconds=90)).isoformat())
    sent = client.post("/do/api/results", params={"t": token},
                       json={"measurements": [fast, padded, copy, jumped]})
    assert sent.status_code == 200 and sent.json()["stored"] == 4
    assert sent.json()["flags"] == {
        fast["id"]: ["faster_than_server"],
        padded["id"]: ["rate_exceeds_bytes"],
        copy["id"]: ["repeated"],
        jumped["id"]: ["position_jump"],
    }
    stored = dict(ward.execute("SELECT measurement_id::text, flags FROM browser_records").fetchall())
    assert stored[jumped["id"]] == ["position_jump"] and stored[first["id"]] == []


def test_payloads_answer_only_the_listed_origins(ward: psycopg.Connection[Any],
                                                make_client: Client) -> None:
    token = _link(ward)
    tester = make_client(phone_cors_origins=["https://thu.example.vn"])
    listed = tester.get("/do/api/ping", params={"t": token},
                        headers={"Origin": "https://thu.example.vn"})
    assert listed.headers["access-control-allow-origin"] == "https://thu.example.vn"
    other = tester.get("/do/api/ping", params={"t": token}, headers={"Origin": "https://x.vn"})
    assert "access-control-allow-origin" not in other.headers
    preflight = tester.options("/do/api/up", params={"t": token}, headers={
        "Origin": "https://thu.example.vn", "Access-Control-Request-Method": "POST"})
    assert preflight.headers["access-control-allow-methods"] == "POST"
    refused = tester.options("/do/api/up", headers={
        "Origin": "https://x.vn", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-methods" not in refused.headers
    main = make_client(phone_test_server_url="https://do.example.vn")
    page = main.get("/do", params={"t": token})
    assert 'data-test-server="https://do.example.vn"' in page.text
    assert "connect-src 'self' https://do.example.vn;" in page.headers["content-security-policy"]
    with pytest.raises(ValueError, match="phone_test_server_url"):
        Settings(phone_test_server_url="https://x.vn/'; script-src *")


def test_the_api_schema_still_builds_and_leaves_the_page_out(make_client: Client) -> None:
    schema = make_client().get("/openapi.json")
    assert schema.status_code == 200
    assert not [p for p in schema.json()["paths"] if p.startswith(("/do", "/admin"))]


def test_an_expired_link_is_refused_everywhere(ward: psycopg.Connection[Any],
                                               make_client: Client) -> None:
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    made = create_enrolment(ward, ward=WARD, site_id="ubnd", label="", expires_at=past)
    token = sign_token(SECRET, made.id, int(past.timestamp()))
    client = make_client()
    for answer in (client.get("/do/api/ping", params={"t": token}),
                   client.get("/do/api/down", params={"t": token, "bytes": 10}),
                   client.post("/do/api/results", params={"t": token},
                               json={"measurements": [_record()]})):
        assert answer.status_code == 403 and "expired" in answer.json()["detail"]
    assert client.get("/do", params={"t": token}).status_code == 403
