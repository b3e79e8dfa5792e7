"""The uploader against `httpx.MockTransport`: every answer of the collector contract."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from lomsong.probe.record import Measurement
from lomsong.probe.spool import Spool
from lomsong.probe.uploader import Backoff, CollectorClient, RetryLater, upload_pending

Make = Callable[..., Measurement]
Handler = Callable[[httpx.Request], httpx.Response]
TOKEN = "t0ken-for-tests"


class Collector:
    """A scripted collector: answers come from a list of handlers, requests are kept."""

    def __init__(self, *answers: Handler) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, object]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert request.url == "http://collector.invalid/api/v1/measurements"
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        self.requests.append(json.loads(request.content))
        return self.answers.pop(0)(request)

    def client(self) -> CollectorClient:
        return CollectorClient(
            "http://collector.invalid/",
            TOKEN,
            transport=httpx.MockTransport(self),
            boot_id=lambda: "boot-1",
            monotonic_s=lambda: 99.5,
            now=lambda: datetime(2026, 11, 2, 3, 0, tzinfo=UTC),
        )

    def ids(self, n: int) -> list[str]:
        batch = self.requests[n]["measurements"]
        assert isinstance(batch, list)
        return [m["id"] for m in batch]


def ok(request: httpx.Request) -> httpx.Response:
    n = len(json.loads(request.content)["measurements"])
    return httpx.Response(200, json={"received": n, "stored": n, "duplicates": 0})


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    with Spool(tmp_path / "spool.db") as s:
        yield s


@pytest.fixture
def filled(spool: Spool, make_measurement: Make) -> list[Measurement]:
    ms = [make_measurement(download_mbps=float(i)) for i in range(7)]
    spool.add_many(ms)
    return ms


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_envelope_and_200_acks_batches(spool: Spool, filled: list[Measurement]) -> None:
    collector = Collector(ok, ok, ok)
    report = upload_pending(spool, collector.client(), batch_size=3)
    assert report.ok and (report.batches, report.acked, report.stored) == (3, 7, 7)
    first = collector.requests[0]
    assert set(first) == {"measurements", "sent_at", "boot_id", "monotonic_s"}
    assert (first["sent_at"], first["boot_id"], first["monotonic_s"]) == (
        "2026-11-02T03:00:00+00:00", "boot-1", 99.5
    )  # fmt: skip
    sent = [Measurement.model_validate_json(json.dumps(m)) for m in first["measurements"]]  # type: ignore[attr-defined]
    assert sent == filled[:3]
    assert spool.stats().pending == 0 and spool.stats().last_upload_success_at is not None


def test_200_counts_duplicates(spool: Spool, filled: list[Measurement]) -> None:
    answer = httpx.Response(200, json={"received": 7, "stored": 4, "duplicates": 3})
    report = upload_pending(spool, Collector(lambda r: answer).client())
    assert (report.acked, report.stored, report.duplicates) == (7, 4, 3)


def test_422_rejects_named_records_and_resends_the_rest(spool: Spool, filled: list[Measurement]) -> None:
    invalid = httpx.Response(
        422,
        json={
            "detail": "2 invalid records",
            "errors": [
                {"index": 1, "field": "rsrp_dbm", "message": "below -160"},
                {"index": 4, "field": "lat", "message": "outside Vietnam"},
                {"index": 4, "field": "lon", "message": "outside Vietnam"},
            ],
        },
    )
    collector = Collector(lambda r: invalid, ok)
    report = upload_pending(spool, collector.client(), batch_size=10)
    assert report.ok and (report.rejected, report.acked) == (2, 5)
    bad = {str(filled[1].id), str(filled[4].id)}
    assert bad.isdisjoint(collector.ids(1)) and len(collector.ids(1)) == 5
    reasons = {rid: reason for rid, _at, reason in spool.rejected()}
    assert reasons[str(filled[4].id)] == "lat: outside Vietnam; lon: outside Vietnam"
    assert spool.stats().rejected == 2


@pytest.mark.parametrize(
    "body",
    [
        {"detail": "bad envelope", "errors": [{"index": None, "field": "sent_at", "message": "x"}]},
        {"detail": "no errors list"},
        {"detail": "index out of range", "errors": [{"index": 99, "field": "x", "message": "y"}]},
    ],
)
def test_422_on_envelope_stops_and_keeps_all(
    spool: Spool, filled: list[Measurement], body: dict[str, object]
) -> None:
    report = upload_pending(spool, Collector(lambda r: httpx.Response(422, json=body)).client())
    assert report.stopped == "envelope_rejected" and report.message == body["detail"]
    assert spool.stats().pending == 7 and spool.stats().rejected == 0


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_stops_and_keeps_all(spool: Spool, filled: list[Measurement], status: int) -> None:
    answer = httpx.Response(status, json={"detail": "unknown probe token"})
    report = upload_pending(spool, Collector(lambda r: answer).client())
    assert report.stopped == "unauthorized" and "unknown probe token" in (report.message or "")
    stats = spool.stats()
    assert stats.pending == 7 and "unauthorized" in (stats.last_upload_error or "")


def test_413_halves_the_batch(spool: Spool, filled: list[Measurement]) -> None:
    def limited(request: httpx.Request) -> httpx.Response:
        if len(json.loads(request.content)["measurements"]) > 3:
            return httpx.Response(413, json={"detail": "body too large"})
        return ok(request)

    collector = Collector(*[limited] * 5)
    report = upload_pending(spool, collector.client(), batch_size=7)
    assert [len(collector.ids(i)) for i in range(len(collector.requests))] == [7, 3, 3, 1]
    assert report.ok and report.acked == 7 and spool.stats().pending == 0


def test_413_single_record_is_quarantined(spool: Spool, make_measurement: Make) -> None:
    big = make_measurement(raw="z" * 60_000)
    spool.add(big)
    too_large = httpx.Response(413, json={"detail": "body too large"})
    report = upload_pending(spool, Collector(lambda r: too_large).client())
    assert report.ok and report.rejected == 1 and spool.stats().rejected == 1


def test_503_honours_retry_after_then_succeeds(spool: Spool, filled: list[Measurement]) -> None:
    busy = httpx.Response(503, headers={"Retry-After": "7"}, json={"detail": "busy"})
    sleeps = Sleeps()
    report = upload_pending(spool, Collector(lambda r: busy, ok).client(), batch_size=100, sleep=sleeps)
    assert sleeps == [7.0]
    assert report.ok and report.retries == 1 and report.acked == 7


def test_retry_after_as_http_date() -> None:
    busy = httpx.Response(429, headers={"Retry-After": "Mon, 02 Nov 2026 03:01:30 GMT"})
    collector = Collector(lambda r: busy)
    outcome = collector.client().send([Measurement.model_validate_json(
        '{"probe_id": "p", "measured_at": "2026-11-02T03:00:00Z", "kind": "latency",'
        ' "tool": "ping", "rtt_ms": 20.0}'
    )])  # fmt: skip
    assert outcome == RetryLater(429, 90.0, "HTTP 429: Too Many Requests")


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_server_trouble_backs_off_then_gives_up_keeping_all(
    spool: Spool, filled: list[Measurement], status: int
) -> None:
    sleeps = Sleeps()
    answer = httpx.Response(status)
    backoff = Backoff(base_s=2, cap_s=5)
    report = upload_pending(
        spool,
        Collector(*[lambda r: answer] * 4).client(),
        max_retries=3,
        backoff=backoff,
        sleep=sleeps,
    )
    assert report.stopped == "gave_up" and report.retries == 3
    assert len(sleeps) == 3 and all(0 <= s <= cap for s, cap in zip(sleeps, [2, 4, 5], strict=True))
    assert spool.stats().pending == 7


@pytest.mark.parametrize("error", [httpx.ConnectError("connection refused"), httpx.ReadTimeout("timed out")])
def test_network_errors_keep_everything(
    spool: Spool, filled: list[Measurement], error: httpx.TransportError
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    report = upload_pending(spool, Collector(fail, fail).client(), max_retries=1, sleep=Sleeps())
    assert report.stopped == "gave_up" and type(error).__name__ in (report.message or "")
    assert spool.stats().pending == 7 and spool.stats().last_upload_error


def test_backoff_is_capped_exponential_with_jitter() -> None:
    import random

    backoff = Backoff(base_s=1, cap_s=10, rng=random.Random(1))
    delays = [backoff.delay(attempt=a, retry_after_s=None) for a in range(1, 9)]
    assert all(0 <= d <= min(10, 2 ** (a - 1)) for a, d in enumerate(delays, start=1))
    assert len(set(delays)) == len(delays)  # jittered
    assert backoff.delay(attempt=1, retry_after_s=600) == 10  # Retry-After capped too


def test_empty_spool_sends_nothing(spool: Spool) -> None:
    collector = Collector()
    report = upload_pending(spool, collector.client())
    assert report.ok and collector.requests == [] and report.batches == 0
