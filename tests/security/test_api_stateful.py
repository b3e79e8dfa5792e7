"""Stateful fuzzing of the API (hypothesis rule-based): add a probe, post, read, revoke, in any
order, with generated record fields (extreme numbers, hostile text, any clock and time).

Invariants after every step: no 5xx; every 4xx has a `detail`; every id the API acknowledged
(stored or duplicate) is readable by a reader exactly once; a revoked probe is refused (401)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from seckit import URL, auth

from lomsong.collector.storage.tokens import create_token, revoke_token
from lomsong.probe.record import ClockState, Kind, Measurement, PositionSource

_TEXT = st.one_of(st.none(), st.text(max_size=20), st.sampled_from(
    ["${alert(1)}", "</script>", "=1+2", "\u202e\u200b", "B3"]))
_NUMBER = st.one_of(st.none(), st.floats(allow_nan=False), st.integers(-10**30, 10**30))


def _record(probe: str, draw: dict[str, Any]) -> dict[str, Any]:
    base = Measurement(probe_id=probe, measured_at=datetime.now(UTC) - timedelta(minutes=30),
                       kind=Kind.THROUGHPUT_DOWN, tool="iperf3", download_mbps=20.0,
                       lat=21.03, lon=105.85, position_source=PositionSource.GPS,
                       clock=ClockState.SYNCED, boot_id="b", monotonic_s=100.0)
    return {**base.model_dump(mode="json"), **draw}


_FIELDS = st.fixed_dictionaries({}, optional={
    "band": _TEXT, "error_message": _TEXT, "download_mbps": _NUMBER, "monotonic_s": _NUMBER,
    "clock": st.sampled_from(["synced", "unsynced", "corrected", "bogus"]),
    "measured_at": st.sampled_from(["1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                                    "2026-11-30T01:00:00+07:00", "not a time"]),
})


@pytest.mark.timeout(600)
def test_add_post_read_revoke_never_5xx(make_client: Callable[..., TestClient],
                                        conn: psycopg.Connection[Any]) -> None:
    client = make_client(rate_per_token_per_s=0, rate_per_ip_per_s=0)
    reader = auth(create_token(conn, "stateful-reader", "reader"))
    counter = iter(range(10**6))
    statuses: Counter[int] = Counter()

    class Api(RuleBasedStateMachine):
        probes = Bundle("probes")

        def __init__(self) -> None:
            super().__init__()
            self.tokens: dict[str, str] = {}
            self.revoked: set[str] = set()
            self.acked: dict[str, set[str]] = {}

        @rule(target=probes)
        def add_probe(self) -> str:
            name = f"pi-fuzz-{next(counter)}"
            self.tokens[name] = create_token(conn, name, "probe")
            self.acked[name] = set()
            return name

        @rule(probe=probes, fields=st.lists(_FIELDS, min_size=1, max_size=4),
              batch_monotonic=_NUMBER)
        def post(self, probe: str, fields: list[dict[str, Any]], batch_monotonic: Any) -> None:
            records = [_record(probe, f) for f in fields]
            body = {"measurements": records, "boot_id": "b", "monotonic_s": batch_monotonic}
            resp = client.post(URL, content=json.dumps(body), headers={
                **auth(self.tokens[probe]), "Content-Type": "application/json"})
            _check(resp)
            statuses[resp.status_code] += 1
            if probe in self.revoked:
                assert resp.status_code == 401
            elif resp.status_code == 200:
                self.acked[probe] |= {r["id"] for r in records}

        @rule(probe=probes)
        def read(self, probe: str) -> None:
            resp = client.get(URL, params={"probe_id": probe, "limit": 5000}, headers=reader)
            _check(resp)
            ids = [item["id"] for item in resp.json()["items"]]
            assert len(ids) == len(set(ids)) and set(ids) == self.acked[probe]

        @rule(probe=probes)
        def revoke(self, probe: str) -> None:
            revoke_token(conn, probe, "probe")
            self.revoked.add(probe)

        @invariant()
        def healthy(self) -> None:
            assert client.get("/healthz").status_code == 200

    Api.TestCase.settings = settings(max_examples=60, stateful_step_count=15, deadline=None,
                                     database=None, suppress_health_check=list(HealthCheck))
    Api.TestCase().runTest()
    assert statuses[200] and statuses[422] and statuses[401], statuses


def _check(resp: Any) -> None:
    assert resp.status_code < 500, f"{resp.status_code} {resp.text[:500]}"
    if resp.status_code >= 400:
        detail = resp.json().get("detail")
        assert isinstance(detail, str) and detail, resp.text[:300]
