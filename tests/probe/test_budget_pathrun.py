"""Budgets (local day and month, persisted) and one path's run: budget refusal recorded, radio
and position merged, a crashing runner does not stop the others."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lomsong.probe.budget import Ledger, Usage, budget_path, refusal
from lomsong.probe.config import parse_config
from lomsong.probe.location.fix import Fix
from lomsong.probe.pathrun import measure_path, path_test_runners, usage_lines
from lomsong.probe.plan import BudgetSettings
from lomsong.probe.radio.reader import RadioReading
from lomsong.probe.radio.snapshot import RadioSnapshot
from lomsong.probe.record import Carrier, ErrorKind, Kind, Measurement, PositionSource
from lomsong.probe.runners.base import CommandResult, Runner, Stamp, TestContext

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
IPERF_OK = Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata" / "iperf3"


def test_day_and_month_follow_local_time(tmp_path: Path) -> None:
    path = budget_path(tmp_path / "spool.sqlite3")
    assert path.name == "probe-budget.sqlite3"
    with Ledger(path, HANOI) as ledger:
        ledger.charge("p", "t", 100, datetime(2026, 10, 31, 16, 59, tzinfo=UTC))  # 23:59 31 Oct
        ledger.charge("p", "t", 30, datetime(2026, 10, 31, 17, 1, tzinfo=UTC))  # 00:01 1 Nov
        ledger.charge("p", "t", 0, datetime(2026, 11, 1, tzinfo=UTC))
    with Ledger(path, HANOI) as ledger:  # persisted
        assert ledger.usage("p", datetime(2026, 11, 1, 2, tzinfo=UTC)) == Usage(30, 30)
        assert ledger.usage("p", datetime(2026, 10, 31, 10, tzinfo=UTC)) == Usage(100, 100)
        assert ledger.estimate("p", "t", None) == 100 and ledger.estimate("p", "t", 7) == 7
        assert ledger.estimate("p", "other", None) == 0
    assert refusal(Usage(0, 95), 10, BudgetSettings(monthly_bytes=100)) is not None
    assert refusal(Usage(0, 0), 10, None) is None


class Fixed(Runner):
    tool = "fake"
    kind = Kind.THROUGHPUT_DOWN
    bytes_cap = 40

    def __init__(self, crash: bool = False) -> None:
        self.crash = crash
        self.runs = 0

    def start_test(self, ctx: TestContext) -> list[Measurement]:
        if self.crash:
            raise RuntimeError("bug in runner")
        return super().start_test(ctx)

    def _start_test(self, ctx: TestContext, stamp: Stamp) -> list[Measurement]:
        self.runs += 1
        return [ctx.measurement(stamp, kind=self.kind, tool=self.tool, download_mbps=20.0, bytes_used=40)]


CONFIG = """
[probe]
id = "pi-1"
[collector]
url = "http://c.invalid"
token = "s3cret-token"
[checks]
ping_targets = ["1.1.1.1"]
dns_names = ["dichvucong.gov.vn"]
web_urls = ["https://dichvucong.gov.vn/"]
udp = true
dns_path = "fpt"
[[path]]
name = "viettel"
interface = "wwan0"
iperf3 = "i.invalid"
carrier = "viettel"
budget = { daily_bytes = 100 }
modem = { mmcli_index = 0 }
[[path]]
name = "fpt"
interface = "eth0"
iperf3 = "i.invalid"
"""


def test_runners_per_path() -> None:
    cfg = parse_config(CONFIG, source="t")
    kinds = [[r.kind.value for r in path_test_runners(cfg, p)] for p in cfg.paths]
    assert kinds[0] == ["throughput_down", "throughput_up", "latency", "udp_quality", "web_page"]
    assert kinds[1][-1] == "dns"


def test_budget_refusal_radio_and_position(tmp_path: Path, ctx: TestContext) -> None:
    cfg = parse_config(CONFIG, source="t")
    path = cfg.paths[0]
    runner, crashing = Fixed(), Fixed(crash=True)
    radio = RadioReading(RadioSnapshot(tool="mmcli", rsrp_dbm=-112.0, carrier=Carrier.VIETTEL), "{}", None)
    fix = Fix(time=None, lat=21.03, lon=105.85, accuracy_m=5.0, source=PositionSource.GPS)
    runs: list[list[Measurement]] = []
    with Ledger(tmp_path / "b.sqlite3", HANOI) as ledger:
        for _ in range(3):
            runs.append(measure_path(
                cfg, path, ledger=ledger, runners=[runner, crashing], radio=lambda p: radio,
                locate=lambda: fix, ctx=ctx,
            ))  # fmt: skip
        lines = usage_lines(cfg, ledger, ctx.now())
    assert runner.runs == 2  # 40 + 40 spent; a third would pass the 100-byte day
    first, crash = runs[0]
    assert first.error_kind is None and first.rsrp_dbm == -112.0 and first.lat == 21.03
    assert first.position_source is PositionSource.GPS
    assert crash.error_kind is ErrorKind.TOOL_ERROR and "bug in runner" in (crash.error_message or "")
    refused = runs[2][0]
    assert refused.error_kind is ErrorKind.BUDGET_EXHAUSTED and "daily budget: 80 + 40 > 100" in (
        refused.error_message or ""
    )
    assert "0.0/0 MB" in lines[0] and "fpt" in lines[1]


def test_modem_error_is_recorded_and_tests_still_run(tmp_path: Path, ctx: TestContext) -> None:
    cfg = parse_config(CONFIG, source="t")
    broken = RadioReading(None, None, "ToolError: mmcli -m 0: couldn't find modem")
    with Ledger(tmp_path / "b.sqlite3", HANOI) as ledger:
        out = measure_path(
            cfg, cfg.paths[1], ledger=ledger, runners=[Fixed()], radio=lambda p: broken, ctx=ctx
        )
    assert [m.kind for m in out] == [Kind.RADIO_SNAPSHOT, Kind.THROUGHPUT_DOWN]
    assert out[0].error_kind is ErrorKind.MODEM_ERROR and out[1].error_kind is None


def test_iperf3_path_cost_is_learnt(tmp_path: Path, ctx: TestContext) -> None:
    text = IPERF_OK / "openwisp_iperf3.9_tcp_openwrt.json"
    if not text.exists():
        pytest.skip(f"{text} absent")
    cfg = parse_config(CONFIG.replace("budget = { daily_bytes = 100 }", ""), source="t")

    def recorded(argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        return CommandResult(0, text.read_text(), "", 10.0)

    with Ledger(tmp_path / "b.sqlite3", HANOI) as ledger:
        (m,) = measure_path(cfg, cfg.paths[1], ledger=ledger, runners=path_test_runners(
            cfg, cfg.paths[1], recorded)[1:2], ctx=ctx)  # fmt: skip
        assert m.bytes_used and ledger.usage("fpt", ctx.now()).day_bytes == m.bytes_used
