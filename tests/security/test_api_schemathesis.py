"""Fuzz the API from its own OpenAPI schema (schemathesis 4): valid tokens, generated data that
fits the schema and data that does not. No 5xx ever; every 4xx is JSON with a `detail`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode
from seckit import auth

pytestmark = [pytest.mark.db, pytest.mark.timeout(600)]

# Generated cases per operation and mode; the total over the API must reach MIN_TOTAL.
EXAMPLES = {
    ("POST", "/api/v1/measurements"): 600,
    ("GET", "/api/v1/measurements"): 500,
    ("POST", "/api/v1/probes/status"): 300,
    ("GET", "/api/v1/probes/servers"): 20,
    ("GET", "/api/v1/probes/schedule"): 20,
    ("GET", "/healthz"): 5,
    ("GET", "/readyz"): 5,
}
MIN_TOTAL = 1_000
NO_INPUT = {"/healthz", "/readyz", "/api/v1/probes/servers", "/api/v1/probes/schedule"}
# Routes a probe calls (the others are read with a reader token).
PROBE_ROUTES = {"/api/v1/probes/servers", "/api/v1/probes/schedule"}


def _token_for(method: str, path: str, tokens: dict[str, str]) -> str:
    return tokens["probe"] if method == "POST" or path in PROBE_ROUTES else tokens["reader"]


def _check(response: Any, where: str) -> None:
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:500]}"
    if 400 <= response.status_code < 500:
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"], \
            f"{where}: 4xx without a clear detail: {response.text[:500]}"


def test_schemathesis_no_5xx_and_clear_4xx(make_client: Callable[..., TestClient],
                                           tokens: dict[str, str]) -> None:
    client = make_client(rate_per_token_per_s=0, rate_per_ip_per_s=0)
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    counts: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} == set(EXAMPLES)
    for op in operations:
        key = (op.method.upper(), op.path)
        headers = auth(_token_for(*key, tokens))
        # Operations without inputs have no way to be called wrongly: positive cases only.
        modes = ([GenerationMode.POSITIVE] if key[1] in NO_INPUT
                 else [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
        for mode in modes:
            _fuzz(client, op, mode, headers, EXAMPLES[key] // len(modes), counts, statuses)
    total = sum(counts.values())
    print(f"schemathesis: {total} cases; by operation {dict(counts)}; statuses {dict(statuses)}")
    assert total >= MIN_TOTAL
    assert statuses[200] > 0 and statuses[422] > 0  # both valid and invalid requests got through


def _fuzz(client: TestClient, op: Any, mode: GenerationMode, headers: dict[str, str],
          examples: int, counts: Counter[str], statuses: Counter[int]) -> None:
    where = f"{op.method.upper()} {op.path} ({mode.value})"

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        # The token stays valid whatever headers were generated.
        sent = {**(kwargs.pop("headers", None) or {}), **headers}
        response = client.request(kwargs.pop("method"), kwargs.pop("url"), headers=sent,
                                  **_httpx_kwargs(kwargs))
        counts[where] += 1
        statuses[response.status_code] += 1
        _check(response, where)

    run()


def _httpx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """requests-style keyword arguments from schemathesis, for the (httpx-based) TestClient."""
    out: dict[str, Any] = {}
    if kwargs.get("params"):
        out["params"] = kwargs["params"]
    if "json" in kwargs:
        out["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        out["content"] = data if isinstance(data, bytes | str) else None
        if out["content"] is None:
            out["data"] = data
            del out["content"]
    if kwargs.get("cookies"):
        out["cookies"] = kwargs["cookies"]
    return out
