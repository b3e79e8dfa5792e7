"""Alerts against real servers: a local SMTP server (aiosmtpd) and a local HTTP webhook receiver.

Conditions come from real PostgreSQL rows: a service point's last tests below the target, a
silent probe, a probe's spool backlog, an overdue case.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller

from lomsong.analysis.thresholds import load_thresholds
from lomsong.cli import main
from lomsong.collector.alerts.deliver import SIGNATURE_HEADER, SmtpSettings, send_webhook
from lomsong.collector.alerts.run import AlertRules, run_alerts
from lomsong.collector.storage.alerts import add_subscription
from lomsong.collector.storage.cases import move_case
from lomsong.collector.storage.fleet import ProbeStatus, record_status
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.collector.storage.sites import ServicePoint, replace_sites
from lomsong.collector.storage.tokens import create_token
from lomsong.probe.record import Access, Carrier, Kind, Measurement, PositionSource

from .cases_helpers import DINH_CONG_POINT, actor, add_case_users, new_case
from .tests_support import plain_only

db_server = plain_only
NOW = datetime(2026, 12, 5, 14, 0, tzinfo=UTC)
SECRET = "s" * 40


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def for_(self, address: str) -> list[Any]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SmtpSettings]]:
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd checks readiness on the port it got)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, SmtpSettings(host="127.0.0.1", port=controller.port, sender="lomsong@ward.vn",
                                  starttls=False, username=None, password=None, timeout_s=10)
    finally:
        controller.stop()


class Receiver:
    """A local HTTP server that answers the queued statuses (then 200) and keeps each request."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((dict(self.headers), body))
                self.send_response(outer.statuses.pop(0) if outer.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    statuses = getattr(request, "param", [])
    receiver = Receiver(list(statuses))
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def _below_tests(site: str, carrier: Carrier, speeds: list[float]) -> list[StoredRecord]:
    lat, lon = DINH_CONG_POINT
    out = []
    for i, speed in enumerate(speeds):
        m = Measurement(probe_id="pi-dc", measured_at=NOW - timedelta(hours=len(speeds) - i),
                        kind=Kind.THROUGHPUT_DOWN, tool="iperf3", carrier=carrier,
                        access=Access.LTE, download_mbps=speed, bytes_used=1_000_000,
                        duration_s=3.0, lat=lat, lon=lon, position_source=PositionSource.SITE,
                        site_id=site)
        out.append(StoredRecord(measurement=m, time=m.measured_at, clock=m.clock))
    return out


def _bad_night(conn: psycopg.Connection[Any]) -> None:
    add_case_users(conn)
    lat, lon = DINH_CONG_POINT
    replace_sites(conn, [ServicePoint("ubnd-dc", "UBND phường Định Công", "public_service_point",
                                      "", lat, lon)])
    ingest(conn, _below_tests("ubnd-dc", Carrier.VIETTEL, [50.0, 12, 9, 14, 11, 8]), NOW)
    ingest(conn, _below_tests("ubnd-dc", Carrier.VNPT, [12.0, 9, 14, 11, 80]), NOW)  # last ok
    create_token(conn, "pi-quiet", "probe")
    conn.execute("UPDATE api_tokens SET created_at = %s", (NOW - timedelta(hours=10),))
    record_status(conn, "pi-quiet", ProbeStatus(
        queue_pending=5_000, rejected=0, dropped=0, last_upload_at=None, budget_used_bytes=None,
        budget_limit_bytes=None, clock="synced", last_error=None, version="0.1"),
        NOW - timedelta(hours=9))
    case_id = new_case(conn, title="Nhà văn hoá tổ 5")
    move_case(conn, case_id, "sent", actor("dc.canbo"), date(2026, 11, 1), "",
              {"sent_on": date(2026, 11, 1), "document_no": "9/UBND",
               "reply_due_on": date(2026, 11, 15)})


def _text(message: Any) -> str:
    return str(message.get_payload(decode=True).decode("utf-8"))


def test_one_grouped_message_per_subscriber_never_twice(
        conn: psycopg.Connection[Any], smtp: tuple[Inbox, SmtpSettings],
        receiver: Receiver) -> None:
    inbox, settings = smtp
    _bad_night(conn)
    add_subscription(conn, "tp.admin", "email", "admin@hanoi.vn", ["site_below_target",
                     "probe_silent", "spool_backlog", "case_overdue"], None)
    add_subscription(conn, "viettel.a", "email", "noc@viettel.vn", ["site_below_target",
                     "case_overdue", "probe_silent"], None)
    add_subscription(conn, "tp.admin", "webhook", receiver.url, ["probe_silent"], SECRET)
    rules, thresholds = AlertRules(), load_thresholds()

    report = run_alerts(conn, rules, thresholds, settings, NOW)
    assert (report.open_alerts, report.messages, report.failed) == (4, 3, 0)
    [admin] = inbox.for_("admin@hanoi.vn")
    body = _text(admin)
    for text in ("ubnd-dc viettel 4g: 5/5 < 40 Mbps", "pi-quiet", "5000 > 1000",
                 "Nhà văn hoá tổ 5", "Hồ sơ quá hạn (Case overdue)"):
        assert text in body
    assert "vnpt" not in body  # VNPT's last test met the target
    assert "4 cảnh báo mới" in str(make_header(decode_header(admin["Subject"])))
    [carrier] = inbox.for_("noc@viettel.vn")
    assert "ubnd-dc viettel" in _text(carrier) and "Nhà văn hoá" in _text(carrier)
    assert "pi-quiet" not in _text(carrier)  # a carrier is not told about the ward's probes
    [(headers, raw)] = receiver.requests
    stamp, mac = headers[SIGNATURE_HEADER].removeprefix("t=").split(",v1=")
    expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(mac, expected)
    assert [a["kind"] for a in json.loads(raw)["alerts"]] == ["probe_silent"]

    # The same night goes on: nothing is sent twice, and new alerts wait for the quiet period.
    again = run_alerts(conn, rules, thresholds, settings, NOW + timedelta(minutes=5))
    assert (again.messages, len(inbox.messages), len(receiver.requests)) == (0, 2, 1)
    create_token(conn, "pi-other", "probe")
    conn.execute("UPDATE api_tokens SET created_at = %s WHERE name = 'pi-other'",
                 (NOW - timedelta(hours=8),))
    run_alerts(conn, rules, thresholds, settings, NOW + timedelta(minutes=30))
    assert len(inbox.messages) == 2
    later = run_alerts(conn, rules, thresholds, settings, NOW + timedelta(hours=1, minutes=1))
    assert later.messages == 2  # the admin's e-mail and webhook; the carrier has nothing new
    newest = inbox.for_("admin@hanoi.vn")[-1]
    assert "pi-other" in _text(newest) and "pi-quiet" not in _text(newest)


def test_resolved_condition_reopens_as_a_new_alert(conn: psycopg.Connection[Any],
                                                   smtp: tuple[Inbox, SmtpSettings]) -> None:
    inbox, settings = smtp
    add_case_users(conn)
    create_token(conn, "pi-a", "probe")
    conn.execute("UPDATE api_tokens SET created_at = %s", (NOW - timedelta(hours=7),))
    add_subscription(conn, "tp.admin", "email", "admin@hanoi.vn", ["probe_silent"], None)
    rules = AlertRules(quiet_s=0)
    run_alerts(conn, rules, load_thresholds(), settings, NOW)
    conn.execute("UPDATE api_tokens SET last_used_at = %s", (NOW,))
    assert run_alerts(conn, rules, load_thresholds(), settings, NOW).open_alerts == 0
    conn.execute("UPDATE api_tokens SET last_used_at = %s", (NOW - timedelta(hours=7),))
    run_alerts(conn, rules, load_thresholds(), settings, NOW + timedelta(hours=1))
    assert len(inbox.for_("admin@hanoi.vn")) == 2


def test_smtp_down_is_retried_at_next_run(conn: psycopg.Connection[Any],
                                          smtp: tuple[Inbox, SmtpSettings]) -> None:
    inbox, settings = smtp
    add_case_users(conn)
    create_token(conn, "pi-a", "probe")
    conn.execute("UPDATE api_tokens SET created_at = %s", (NOW - timedelta(hours=7),))
    add_subscription(conn, "tp.admin", "email", "admin@hanoi.vn", ["probe_silent"], None)
    closed = SmtpSettings("127.0.0.1", 9, "x@y.vn", False, None, None, 5)  # discard port: refused
    assert run_alerts(conn, AlertRules(), load_thresholds(), closed, NOW).failed == 1
    assert run_alerts(conn, AlertRules(), load_thresholds(), settings, NOW).messages == 1
    assert len(inbox.messages) == 1


@pytest.mark.parametrize("receiver", [[503, 503]], indirect=True)
def test_webhook_retried_with_backoff(receiver: Receiver) -> None:
    waits: list[float] = []
    attempts = send_webhook(receiver.url, SECRET, b'{"alerts": []}', sleep=waits.append)
    assert (attempts, waits, len(receiver.requests)) == (3, [1.0, 2.0], 3)


@pytest.mark.parametrize("receiver", [[400]], indirect=True)
def test_webhook_refused_is_not_retried(receiver: Receiver) -> None:
    from lomsong.collector.alerts.deliver import DeliveryFailed

    with pytest.raises(DeliveryFailed, match="HTTP 400"):
        send_webhook(receiver.url, SECRET, b"{}", sleep=lambda s: None)
    assert len(receiver.requests) == 1


def test_one_evaluation_at_a_time(conn: psycopg.Connection[Any], migrated_url: str) -> None:
    with psycopg.connect(migrated_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (0x6C6F6D616C657274,))
        assert not run_alerts(conn, AlertRules(), load_thresholds(), None, NOW).ran


def test_cli_alerts_run(conn: psycopg.Connection[Any], migrated_url: str,
                        smtp: tuple[Inbox, SmtpSettings], monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    inbox, settings = smtp
    add_case_users(conn)
    create_token(conn, "pi-a", "probe")
    conn.execute("UPDATE api_tokens SET created_at = now() - interval '1 day'")
    add_subscription(conn, "tp.admin", "email", "admin@hanoi.vn", ["probe_silent"], None)
    monkeypatch.setenv("LOMSONG_SMTP_HOST", settings.host)
    monkeypatch.setenv("LOMSONG_SMTP_PORT", str(settings.port))
    assert main(["alerts", "run", "--database-url", migrated_url]) == 0
    assert "1 tin đã gửi" in capsys.readouterr().out
    assert main(["alerts", "run", "--database-url", migrated_url]) == 0
    assert len(inbox.messages) == 1


def test_serve_runs_the_evaluator_in_the_background(settings: Any) -> None:
    from fastapi.testclient import TestClient

    from lomsong.collector.app import create_app

    app = create_app(settings.model_copy(update={"alert_interval_s": 60.0}))
    with TestClient(app):
        task = app.state.alerts_task
        assert task is not None and not task.done()
    assert task.cancelled()
    off = create_app(settings.model_copy(update={"alert_interval_s": 0.0}))
    with TestClient(off):
        assert off.state.alerts_task is None


def test_background_loop_evaluates_each_interval(conn: psycopg.Connection[Any], settings: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from psycopg_pool import ConnectionPool

    from lomsong.collector.alerts import service

    create_token(conn, "pi-a", "probe")
    conn.execute("UPDATE api_tokens SET created_at = now() - interval '1 day'")
    waits: list[float] = []

    async def one_interval(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) > 1:
            raise asyncio.CancelledError

    monkeypatch.setattr(service.asyncio, "sleep", one_interval)
    with ConnectionPool(settings.database_url, min_size=1, max_size=2,
                        kwargs={"autocommit": True}) as pool, pytest.raises(asyncio.CancelledError):
        asyncio.run(service.alerts_forever(pool, settings))
    assert waits == [settings.alert_interval_s] * 2
    assert conn.execute("SELECT kind, key FROM alerts").fetchall() == [("probe_silent", "pi-a")]
