"""Rate limits per token and per client IP (429 + Retry-After, the probe backs off), and no
secret ever reaches the logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from seckit import PROBE, URL, auth

from lomsong.collector.ratelimit import RateLimiter
from lomsong.probe.record import Kind, Measurement
from lomsong.probe.uploader import CollectorClient, RetryLater

pytestmark = pytest.mark.db


def _records(n: int = 1) -> list[Measurement]:
    start = datetime.now(UTC) - timedelta(hours=1)
    return [Measurement(probe_id=PROBE, measured_at=start + timedelta(seconds=i), kind=Kind.LATENCY,
                        tool="ping", rtt_ms=25.0) for i in range(n)]


def _body(n: int = 1) -> dict[str, Any]:
    return {"measurements": [m.model_dump(mode="json") for m in _records(n)]}


def test_bucket_refills_at_its_rate_and_forgets_full_buckets() -> None:
    limiter = RateLimiter(rate_per_s=2.0, burst=3, max_keys=2)
    assert [limiter.take("a", now_s=0.0) for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]
    assert limiter.take("a", now_s=0.5) == 0.0
    limiter.take("b", now_s=0.5)
    limiter.take("c", now_s=10.0)  # over max_keys: a and b are full again by now, forgotten
    assert set(limiter._buckets) == {"c"}
    with pytest.raises(ValueError, match="rate_per_s"):
        RateLimiter(rate_per_s=0, burst=1)


def test_per_token_limit_is_429_with_retry_after_and_spares_other_tokens(
        make_client: Callable[..., TestClient], tokens: dict[str, str],
        conn: psycopg.Connection[Any]) -> None:
    client = make_client(rate_per_token_per_s=0.5, rate_per_token_burst=3, rate_per_ip_per_s=0)
    codes = [client.post(URL, json=_body(), headers=auth(tokens["probe"])).status_code
             for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    limited = client.post(URL, json=_body(), headers=auth(tokens["probe"]))
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 2
    assert "too many requests" in limited.json()["detail"]
    assert client.get(URL, headers=auth(tokens["reader"])).status_code == 200
    (count,) = conn.execute("SELECT count(*) FROM measurements").fetchone() or (None,)
    assert count == 3  # a refused request stores nothing


def test_per_ip_limit_applies_before_the_token_is_checked(
        make_client: Callable[..., TestClient], tokens: dict[str, str]) -> None:
    client = make_client(rate_per_ip_per_s=0.5, rate_per_ip_burst=4, rate_per_token_per_s=0)
    guesses = [client.post(URL, json=_body(), headers=auth(f"lsk_guess{i}")).status_code
               for i in range(4)]
    assert guesses == [401] * 4
    # Token guessing used up the address's budget: even a valid token now waits.
    resp = client.post(URL, json=_body(), headers=auth(tokens["probe"]))
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1


def test_the_probe_uploader_reads_429_as_retry_later(
        make_client: Callable[..., TestClient], tokens: dict[str, str]) -> None:
    app_client = make_client(rate_per_token_per_s=0.5, rate_per_token_burst=1)
    transport = httpx.MockTransport(lambda request: _forward(app_client, request))
    with CollectorClient("http://collector.test", tokens["probe"], transport=transport) as probe:
        records = _records(2)
        probe.send(records[:1])
        outcome = probe.send(records[1:])
    assert isinstance(outcome, RetryLater) and outcome.status == 429
    assert outcome.retry_after_s is not None and outcome.retry_after_s >= 1


def _forward(client: TestClient, request: httpx.Request) -> httpx.Response:
    resp = client.request(request.method, request.url.path, content=request.content,
                          headers=dict(request.headers))
    return httpx.Response(resp.status_code, headers=resp.headers, content=resp.content)


def test_no_token_or_secret_in_the_logs(make_client: Callable[..., TestClient],
                                        tokens: dict[str, str],
                                        caplog: pytest.LogCaptureFixture) -> None:
    secret = "s3cret-key-" + "k" * 40
    client = make_client(secret_key=secret, rate_per_token_per_s=0.5, rate_per_token_burst=1)
    wrong = "lsk_" + "W" * 43
    with caplog.at_level(logging.DEBUG):
        client.post(URL, json=_body(), headers=auth(tokens["probe"]))
        client.post(URL, json=_body(), headers=auth(tokens["probe"]))  # 429
        client.post(URL, json=_body(), headers=auth(wrong))  # 401
        client.post(URL, content=b"{broken", headers=auth(tokens["probe"]))
        client.get(URL, headers=auth(tokens["reader"]))
    text = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records, "nothing was logged: the check would prove nothing"
    for value in (*tokens.values(), wrong, secret):
        assert value not in text
        assert value.removeprefix("lsk_") not in text
