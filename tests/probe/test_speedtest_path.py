"""speedtest-cli as part of a path's tests: config, server choice (Vietnam first), interface
address, and a real cycle against the offline stand-in."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lomsong.cli import main
from lomsong.probe.config import parse_config
from lomsong.probe.errors import ConfigError
from lomsong.probe.pathrun import path_test_runners
from lomsong.probe.record import ErrorKind, Kind, Measurement
from lomsong.probe.runners.base import CommandResult, TestContext, tool_path
from lomsong.probe.runners.speedtest import SpeedtestRunner
from lomsong.probe.spool import Spool
from tests.probe.conftest import Standin, write_probe_toml

HEAD = """
[probe]
id = "pi-1"
[collector]
url = "http://collector.invalid"
token = "s3cret-token"
"""

LISTING = """Retrieving speedtest.net configuration...
 9001) Softbank (Tokyo, Japan) [12.40 km]
  2515) Viettel IDC (Hanoi, Vietnam) [35.10 km]
 17758) FPT Telecom (Ho Chi Minh City, Vietnam) [1140.00 km]
"""

RESULT = json.dumps({
    "download": 38.2e6, "upload": 12.1e6, "ping": 21.5, "bytes_sent": 15_000_000,
    "bytes_received": 48_000_000, "timestamp": "2026-11-23T03:00:00.000000Z",
    "server": {"id": "2515", "sponsor": "Viettel IDC", "name": "Hanoi", "country": "Vietnam",
               "cc": "VN", "d": 35.1, "latency": 21.5, "host": "speedtest.viettel.invalid:8080"},
    "client": {"ip": "10.0.0.2", "isp": "Viettel"},
})  # fmt: skip


@dataclass
class Scripted:
    """Answers ``--list`` with `listing` and ``--json`` with `result`, remembering the calls."""

    listing: str | None = LISTING
    result: str = RESULT
    calls: list[list[str]] = field(default_factory=list)

    def __call__(self, argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        self.calls.append(list(argv))
        if "--list" in argv:
            if self.listing is None:
                return CommandResult(1, "", "ERROR: Unable to retrieve speedtest.net configuration", 0.1)
            return CommandResult(0, self.listing, "", 0.1)
        return CommandResult(0, self.result, "", 9.0)


def test_config_switch_and_table() -> None:
    cfg = parse_config(HEAD + """
[[path]]
name = "fixed"
iperf3 = "i"
speedtest = true
[[path]]
name = "lte"
access = "4g"
iperf3 = "i"
speedtest = { server_id = "2515", bytes_cap = 120000000, prefer_vietnam = false }
[[path]]
name = "off"
iperf3 = "i"
speedtest = false
""", source="probe.toml")  # fmt: skip
    fixed, lte, off = cfg.paths
    assert fixed.speedtest is not None and fixed.speedtest.prefer_vietnam
    assert fixed.speedtest.server_id is None
    assert lte.speedtest is not None and lte.speedtest.bytes_cap == 120_000_000
    assert off.speedtest is None
    (st,) = [r for r in path_test_runners(cfg, lte) if isinstance(r, SpeedtestRunner)]
    assert st.bytes_cap == 120_000_000 and st.server_id == "2515" and not st.prefer_vietnam
    assert not any(isinstance(r, SpeedtestRunner) for r in path_test_runners(cfg, off))
    with pytest.raises(ConfigError, match="server_id"):
        parse_config(HEAD + '[[path]]\nname = "a"\niperf3 = "i"\nspeedtest = { server_id = "x;rm" }\n',
                     source="probe.toml")  # fmt: skip


def test_server_in_vietnam_is_chosen_before_a_nearer_foreign_one(ctx: TestContext) -> None:
    seam = Scripted()
    runner = SpeedtestRunner(prefer_vietnam=True, run_command=seam, list_command=seam)
    down, up = runner.start_test(ctx)
    assert seam.calls[0] == [runner.command[0], "--list"]
    assert seam.calls[1] == [runner.command[0], "--json", "--server", "2515"]
    assert down.kind is Kind.THROUGHPUT_DOWN and down.download_mbps == pytest.approx(38.2)
    assert up.upload_mbps == pytest.approx(12.1)
    for m in (down, up):
        assert m.raw is not None and m.raw.splitlines()[-1] == (
            "lomsong-speedtest: server 2515 (Viettel IDC, Hanoi, Vietnam) chosen from 3 listed, 2 in Vietnam"
        )


def test_unreadable_server_list_lets_speedtest_choose(ctx: TestContext) -> None:
    seam = Scripted(listing=None)
    runner = SpeedtestRunner(prefer_vietnam=True, run_command=seam, list_command=seam)
    down, _ = runner.start_test(ctx)
    assert seam.calls[1] == [runner.command[0], "--json"]
    assert down.error_kind is None
    assert down.raw is not None and "server list unavailable" in down.raw.splitlines()[-1]


def test_interface_without_address_is_unreachable_without_running(ctx: TestContext) -> None:
    seam = Scripted()
    bound = TestContext(probe_id=ctx.probe_id, interface="nosuchwwan9")
    down, up = SpeedtestRunner(prefer_vietnam=True, run_command=seam, list_command=seam).start_test(bound)
    assert seam.calls == []
    assert down.error_kind is up.error_kind is ErrorKind.NETWORK_UNREACHABLE
    assert down.error_message == "nosuchwwan9 has no IPv4 address"


def test_speedtest_cli_beside_the_interpreter_is_found_without_path() -> None:
    # systemd starts /opt/lomsong/venv/bin/lomsong with a PATH that lacks the venv's bin
    beside = Path(sys.executable).parent / "speedtest-cli"
    if not beside.is_file():
        pytest.skip("speedtest-cli is not installed beside this interpreter")
    assert SpeedtestRunner().command == (str(beside),)
    assert tool_path("speedtest-cli", which=lambda name: None) == str(beside)
    assert tool_path("no-such-tool-xyz", which=lambda name: None) is None
    assert SpeedtestRunner(command=("env", "speedtest-cli")).command == ("env", "speedtest-cli")


def test_interface_address_is_the_source(ctx: TestContext) -> None:
    seam = Scripted()
    bound = TestContext(probe_id=ctx.probe_id, interface="lo")
    runner = SpeedtestRunner(prefer_vietnam=True, run_command=seam, list_command=seam)
    runner.start_test(bound)
    assert seam.calls[0] == [runner.command[0], "--list", "--source", "127.0.0.1"]
    assert seam.calls[1][-2:] == ["--source", "127.0.0.1"]


@pytest.mark.timeout(180)
def test_probe_cycle_runs_speedtest_against_the_standin(
    tmp_path: Path, loopback_standin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    command = json.dumps(list(Standin.command(loopback_standin)))
    config = write_probe_toml(tmp_path, f"""
[[path]]
name = "fixed"
carrier = "fpt"
access = "fixed"
iperf3 = "127.0.0.1:9"
directions = ["down"]
speedtest = {{ command = {command}, bytes_cap = 20000000000 }}
""", probe_id="pi-speedtest")
    assert main(["probe", "run", "--once", "--config", str(config)]) == 1  # the collector is away
    out = capsys.readouterr().out
    assert "Đã đo (measured) 3, lỗi (failed) 1" in out, out  # iperf3 refused; speedtest both ways
    with Spool(tmp_path / "spool.db") as spool:
        records: list[Measurement] = spool.batch(10)
    iperf, down, up = records
    assert iperf.error_kind is ErrorKind.CONNECTION_REFUSED
    assert (down.tool, down.kind, up.kind) == ("speedtest-cli", Kind.THROUGHPUT_DOWN, Kind.THROUGHPUT_UP)
    assert down.error_kind is None and up.error_kind is None, down.error_message
    assert down.download_mbps is not None and down.download_mbps > 0
    assert down.bytes_used is not None and down.bytes_used > 1_000_000
    assert down.raw is not None and down.raw.splitlines()[-1].startswith(
        "lomsong-speedtest: server 1 (Local, Loopback, Vietnam) chosen from 1 listed, 1 in Vietnam"
    )
