"""`lomsong probe measure|run|status` through `lomsong.cli.main`, on loopback only."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from lomsong.cli import build_parser, main
from lomsong.probe.cli import measure_runner
from lomsong.probe.config import PathSettings
from lomsong.probe.pathrun import path_runners
from lomsong.probe.record import Access, ErrorKind, Kind, Measurement
from lomsong.probe.runners.adaptive import AdaptiveIperf3Runner
from lomsong.probe.runners.early_stop import DEFAULT_MAX_DURATION_S, StopRule
from lomsong.probe.runners.iperf3 import Iperf3Runner
from tests.probe.conftest import write_probe_toml


@pytest.mark.iperf3
def test_measure_json(iperf3_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["probe", "measure", "--iperf3", f"127.0.0.1:{iperf3_port}", "--reverse",
                 "--duration", "1", "--carrier", "viettel", "--access", "4g", "--json",
                 "--probe-id", "pi-cli"])  # fmt: skip
    m = Measurement.model_validate_json(capsys.readouterr().out)
    assert code == 0 and m.kind is Kind.THROUGHPUT_DOWN and m.probe_id == "pi-cli"
    assert m.download_mbps is not None and m.download_mbps > 0


@pytest.mark.iperf3
def test_measure_failure_prints_and_exits_1(free_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["probe", "measure", "--iperf3", f"127.0.0.1:{free_port}", "--duration", "1"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("Tải lên (upload): LỖI (error) connection_refused")


class _Collector(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, object]]] = []
    statuses: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.headers["Authorization"] == "Bearer cli-test-token"
        if self.path == "/api/v1/probes/status":
            _Collector.statuses.append(body)
            payload = b"{}"
        else:
            assert self.path == "/api/v1/measurements"
            _Collector.bodies.append(body)
            n = len(body["measurements"])
            payload = json.dumps({"received": n, "stored": n, "duplicates": 0}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def collector_url() -> Iterator[str]:
    _Collector.bodies = []
    _Collector.statuses = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.iperf3
def test_run_once_then_status(
    tmp_path: Path,
    iperf3_port: int,
    free_port: int,
    collector_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_probe_toml(tmp_path, f"""
[site]
id = "ubnd-test"
lat = 21.03
lon = 105.85
[checks]
ping_targets = ["127.0.0.1"]
ping_count = 2
tcp_port = {iperf3_port}
[[path]]
name = "fixed"
carrier = "fpt"
access = "fixed"
iperf3 = "127.0.0.1:{iperf3_port}"
directions = ["down"]
duration_s = 1
[[path]]
name = "dead-modem"
carrier = "viettel"
access = "4g"
iperf3 = "127.0.0.1:{free_port}"
directions = ["down", "up"]
bytes_cap = 60000000
budget = {{ daily_bytes = 1000000 }}
""", probe_id="pi-cli-run", collector_url=collector_url, token="cli-test-token")
    monkeypatch.setenv("LOMSONG_PROBE_CONFIG", str(config))
    assert main(["probe", "run", "--once"]) == 0
    out = capsys.readouterr().out
    # fixed: download, then ping; the dead modem: both directions refused by its 1 MB budget
    # (a 60 MB cap cannot fit), then its ping, which costs too little to be refused.
    (body,) = _Collector.bodies
    sent = [Measurement.model_validate_json(json.dumps(m)) for m in body["measurements"]]  # type: ignore[attr-defined]
    assert [(m.kind.value, m.error_kind) for m in sent] == [
        ("throughput_down", None),
        ("latency", None),
        ("throughput_down", ErrorKind.BUDGET_EXHAUSTED),
        ("throughput_up", ErrorKind.BUDGET_EXHAUSTED),
        ("latency", None),
    ]
    assert "vượt ngân sách (over budget) 2" in out and "đã gửi (acked) 5" in out, out
    assert all(m.site_id == "ubnd-test" and m.lat == 21.03 for m in sent)
    (reported,) = _Collector.statuses
    assert reported["queue_pending"] == 0 and reported["version"] == "lomsong-probe/1"

    assert main(["probe", "status", "--config", str(config)]) == 0
    status = capsys.readouterr().out
    assert "Chờ gửi (pending): 0" in status and "Lần gửi thành công (last success): 2" in status


def test_status_without_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "status", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml: cannot read the probe config" in capsys.readouterr().err


def _measure_runner(*options: str) -> object:
    args = build_parser().parse_args(["probe", "measure", "--iperf3", "10.77.0.1:5201", *options])
    return measure_runner(args, "10.77.0.1", 5201)


def test_measure_adaptive_shares_the_schedulers_rule_and_cap() -> None:
    runner = _measure_runner("--adaptive", "--reverse", "--access", "4g")
    path = PathSettings(name="x", iperf3="10.77.0.1", access=Access.LTE, directions=("down",))
    (scheduled,) = path_runners(path)
    assert isinstance(runner, AdaptiveIperf3Runner) and isinstance(scheduled, AdaptiveIperf3Runner)
    assert runner.rule == scheduled.rule
    assert runner.rule == StopRule(threshold_mbps=40.0, max_duration_s=DEFAULT_MAX_DURATION_S)
    assert (runner.congestion, runner.reverse) == (scheduled.congestion, True) == ("bbr", True)


def test_measure_adaptive_options_override_like_probe_toml() -> None:
    runner = _measure_runner(
        "--adaptive", "--duration", "1", "--threshold-mbps", "5", "--bytes-cap", "9000000",
        "--congestion", "cubic",
    )  # fmt: skip
    assert isinstance(runner, AdaptiveIperf3Runner)
    assert runner.rule == StopRule(threshold_mbps=5.0, max_duration_s=1.0, bytes_cap=9_000_000)
    assert runner.congestion == "cubic" and not runner.reverse


def test_measure_fixed_keeps_its_10_s_default() -> None:
    runner = _measure_runner("--reverse")
    assert isinstance(runner, Iperf3Runner) and runner.duration_s == 10
