"""``[pool] from_collector``: the collector's server list, cached, and used by a real cycle."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from lomsong.probe.config import ProbeConfig, parse_config
from lomsong.probe.cycle import run_once
from lomsong.probe.errors import ConfigError
from lomsong.probe.pool_source import PoolSource, pool_cache_path
from lomsong.probe.uploader import CollectorClient

HEAD = '[probe]\nid = "pi-1"\n[collector]\nurl = "http://collector.invalid"\ntoken = "s3cret-token"\n'
POOL = '[pool]\nservers = ["start.invalid:5201"]\nfrom_collector = true\n'
PATHS = '[[path]]\nname = "viettel"\naccess = "4g"\n[[path]]\nname = "own"\niperf3 = "own.invalid:5209"\n'
CITY = {"servers": [{"address": "iperf1.hanoi.invalid:5201", "capacity": 1},
                    {"address": "iperf2.hanoi.invalid:5202", "capacity": 2}]}  # fmt: skip


def _cfg() -> ProbeConfig:
    return parse_config(HEAD + POOL + PATHS, source="p.toml")


def _client(answer: Callable[[httpx.Request], httpx.Response], asked: list[str]) -> CollectorClient:
    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        assert request.headers["Authorization"] == "Bearer s3cret-token"
        return answer(request)

    return CollectorClient("http://collector.invalid", "s3cret-token", transport=httpx.MockTransport(handler))


def _addresses(cfg: ProbeConfig, name: str) -> list[str]:
    return [s.address for s in next(p for p in cfg.paths if p.name == name).iperf3]


def test_the_collectors_list_replaces_the_pool_and_is_cached(tmp_path: Path) -> None:
    asked: list[str] = []
    cache = tmp_path / "servers.json"
    source = PoolSource(_cfg(), _client(lambda r: httpx.Response(200, json=CITY), asked), cache)
    cfg = source.config()
    assert asked == ["/api/v1/probes/servers"]
    assert _addresses(cfg, "viettel") == ["iperf1.hanoi.invalid:5201", "iperf2.hanoi.invalid:5202"]
    assert cfg.paths[0].iperf3_servers[1].capacity == 2.0
    assert _addresses(cfg, "own") == ["own.invalid:5209"]  # a path's own server stays
    assert json.loads(cache.read_text("utf-8"))["servers"][1] == {"address": "iperf2.hanoi.invalid:5202",
                                                                  "capacity": 2.0}  # fmt: skip


def test_refreshed_only_when_due(tmp_path: Path) -> None:
    asked: list[str] = []
    now = [0.0]
    source = PoolSource(_cfg(), _client(lambda r: httpx.Response(200, json=CITY), asked),
                        tmp_path / "servers.json", every_s=3600, clock=lambda: now[0])  # fmt: skip
    source.config()
    now[0] = 3599.0
    source.config()
    assert len(asked) == 1
    now[0] = 3600.0
    source.config()
    assert len(asked) == 2


def _down(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def test_collector_away_uses_the_cache_else_probe_toml(tmp_path: Path) -> None:
    cache = tmp_path / "servers.json"
    assert _addresses(PoolSource(_cfg(), _client(_down, []), cache).config(), "viettel") == [
        "start.invalid:5201"
    ]
    cache.write_text(json.dumps(CITY), encoding="utf-8")
    assert _addresses(PoolSource(_cfg(), _client(_down, []), cache).config(), "viettel") == [
        "iperf1.hanoi.invalid:5201", "iperf2.hanoi.invalid:5202"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "logged"),
    [
        (httpx.Response(200, json={"servers": [{"address": "h:99999", "capacity": 1}]}), "servers.0.address"),
        (httpx.Response(200, json={"servers": [{"address": "h", "capacity": 0}]}), "servers.0.capacity"),
        (httpx.Response(200, json={"servers": [{"address": f"h:{p}"} for p in range(1, 66)]}), "servers"),
        (httpx.Response(200, json={"servers": []}), "servers"),
        (httpx.Response(200, content=b"not json"), "did not answer"),
        (httpx.Response(200, content=b'{"servers": ["' + b"x" * 70_000 + b'"]}'), "did not answer"),
        (httpx.Response(500, json=CITY), "did not answer"),
    ],
)  # fmt: skip
def test_a_bad_answer_keeps_the_list_in_use(
    tmp_path: Path, answer: httpx.Response, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "servers.json"
    cache.write_text(json.dumps(CITY), encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="lomsong.probe.pool_source"):
        cfg = PoolSource(_cfg(), _client(lambda r: answer, []), cache).config()
    assert _addresses(cfg, "viettel") == ["iperf1.hanoi.invalid:5201", "iperf2.hanoi.invalid:5202"]
    assert logged in caplog.text
    assert json.loads(cache.read_text("utf-8")) == CITY  # never overwritten by a bad list


def test_from_collector_needs_servers_to_start_with() -> None:
    with pytest.raises(ConfigError, match=r"^p\.toml: pool: Value error, from_collector: give servers too"):
        parse_config(HEAD + "[pool]\nfrom_collector = true\n" + '[[path]]\nname = "x"\niperf3 = "a"\n',
                     source="p.toml")  # fmt: skip


@pytest.mark.iperf3
@pytest.mark.timeout(60)
def test_a_real_cycle_measures_on_the_collectors_server(tmp_path: Path, iperf3_port: int) -> None:
    cfg = parse_config(
        HEAD + '[pool]\nservers = ["127.0.0.1:9"]\nfrom_collector = true\n'
        + '[[path]]\nname = "fixed"\naccess = "fixed"\nduration_s = 1\ndirections = ["down"]\n',
        source=tmp_path / "probe.toml",
    )  # fmt: skip
    stored: list[dict[str, Any]] = []

    def collector(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/probes/servers":
            return httpx.Response(
                200, json={"servers": [{"address": f"127.0.0.1:{iperf3_port}", "capacity": 1}]}
            )
        if request.url.path == "/api/v1/probes/status":
            return httpx.Response(200, json={})
        batch = json.loads(request.content)["measurements"]
        stored.extend(batch)
        return httpx.Response(200, json={"received": len(batch), "stored": len(batch), "duplicates": 0})

    spool = tmp_path / "spool.db"
    summary = run_once(cfg, spool_path=spool, transport=httpx.MockTransport(collector))
    (m,) = summary.measurements
    assert m.error_kind is None and m.server == f"127.0.0.1:{iperf3_port}", m.error_message
    assert [r["server"] for r in stored] == [f"127.0.0.1:{iperf3_port}"]
    assert pool_cache_path(spool).is_file()
