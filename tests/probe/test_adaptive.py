"""Early-stopping throughput test: text parser, stopping rule, runner (recorded and real)."""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lomsong.probe.config import parse_config
from lomsong.probe.errors import ParseError
from lomsong.probe.pathrun import path_runners
from lomsong.probe.record import ErrorKind, Kind
from lomsong.probe.runners.adaptive import AdaptiveIperf3Runner, LiveSubprocessRunner
from lomsong.probe.runners.base import CommandResult, SubprocessRunner, TestContext
from lomsong.probe.runners.early_stop import StopReason, StopRule, decide, estimate, t_quantile_975
from lomsong.probe.runners.iperf3 import Iperf3Runner
from lomsong.probe.runners.iperf3_text import Interval, parse_iperf3_text, parse_line
from tests.probe.conftest import FakeClock

DATA = Path(__file__).parent / "data" / "iperf3_text"
TBF40_GOODPUT_MBPS = 40 * 1448 / 1514


def recorded(name: str) -> str:
    return (DATA / name).read_text()


PID = 4242


@dataclass
class AckedSs:
    """Answers like ``ss`` for process PID: its data socket's acknowledged bytes grow at
    `rate_mbps` from 0.1 s on (`rate_mbps` None: no socket of PID shows)."""

    clock: FakeClock
    rate_mbps: float | None = TBF40_GOODPUT_MBPS
    calls: int = 0

    def __call__(self, argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        self.calls += 1
        if self.rate_mbps is None:
            return CommandResult(0, "", "", 0.0)
        acked = int(max(0.0, self.clock.t - 0.1) * self.rate_mbps * 1e6 / 8) + 100_000
        text = (
            f'ESTAB 0 900000 10.77.0.2:40122 10.77.0.1:5201 users:(("iperf3",pid={PID},fd=5))\n'
            f"\t cubic rtt:2.1/0.3 bytes_sent:{acked + 900_000} bytes_acked:{acked}\n"
        )
        return CommandResult(0, text, "", 0.0)


@dataclass
class Replay:
    """A LiveCommandRunner replaying recorded output line by line, stopping where asked."""

    text: str
    calls: list[list[str]] = field(default_factory=list)
    fed: int = 0
    clock: FakeClock | None = None  # advanced 0.2 s per interval line, with on_tick called after each

    def __call__(
        self,
        argv: Sequence[str],
        *,
        on_line: Callable[[str], bool],
        timeout_s: float,
        on_tick: Callable[[int], bool] | None = None,
    ) -> CommandResult:
        self.calls.append(list(argv))
        lines = []
        for line in self.text.splitlines():
            lines.append(line)
            if on_line(line):
                break
            if self.clock is not None and on_tick is not None and parse_line(line) is not None:
                self.clock.t += 0.2
                if on_tick(PID):
                    break
        self.fed = len(lines)
        return CommandResult(0, "\n".join(lines) + "\n", "", 0.0)


def steady(rate_mbps: float, seconds: float, wobble: float = 0.0) -> list[Interval]:
    """0.2 s intervals at `rate_mbps`, swinging +-`wobble` (a fraction) over a 1.4 s period."""
    out = []
    for i in range(round(seconds / 0.2)):
        rate = rate_mbps * 1e6 * (1 + wobble * math.sin(2 * math.pi * i / 7))
        out.append(Interval(round(i * 0.2, 2), round((i + 1) * 0.2, 2), round(rate * 0.2 / 8), rate))
    return out


def first_stop(intervals: list[Interval], rule: StopRule) -> tuple[float, StopReason | None]:
    for k in range(1, len(intervals) + 1):
        decision = decide(intervals[:k], rule)
        if decision.stop:
            return intervals[k - 1].end_s, decision.reason
    return intervals[-1].end_s, None


# --- parser on recorded output ---------------------------------------------------------------


def test_full_download_recording() -> None:
    run = parse_iperf3_text(recorded("tbf40_download_8s.txt"), source="t")
    assert len(run.intervals) == 40 and run.error is None
    assert run.intervals[2] == Interval(0.4, 0.6, 935 * 1024, 38_274_000.0)
    assert run.receiver is not None and run.receiver.rate_bps == 38_077_000.0
    assert run.sender is not None and run.bytes_moved == run.sender.bytes == round(37.1 * 1024**2)
    assert run.duration_s == 8.0


def test_interrupted_download_keeps_the_receiver_side() -> None:
    run = parse_iperf3_text(recorded("tbf40_download_sigint.txt"), source="t")
    assert run.error == "interrupt - the client has terminated"
    assert run.error_kind is ErrorKind.INTERRUPTED
    assert run.sender is not None and run.sender.bytes == 0
    assert run.bytes_moved == round(7.76 * 1024**2) and run.duration_s == 1.7
    assert run.intervals[-1] == Interval(1.6, 1.7, 421 * 1024, 36_221_000.0)


def test_interrupted_upload_keeps_the_sender_side() -> None:
    run = parse_iperf3_text(recorded("tbf40_upload_sigint.txt"), source="t")
    assert run.receiver is not None and run.receiver.bytes == 0
    assert run.bytes_moved == round(8.49 * 1024**2)
    assert run.intervals[-1].bytes == 0  # the partial interval cut by the interrupt


def test_refused_is_an_error_without_intervals() -> None:
    run = parse_iperf3_text(recorded("refused.txt"), source="t")
    assert run.intervals == () and run.error_kind is ErrorKind.CONNECTION_REFUSED
    assert run.bytes_moved == 0 and run.duration_s is None


def test_omitted_intervals_are_kept_apart_and_counted_ones_restart_at_zero() -> None:
    run = parse_iperf3_text(recorded("loopback20_upload_omit1.txt"), source="t")  # iperf3 -O 1
    assert run.omitted == (
        Interval(0.0, 0.5, round(1.25 * 1024**2), 20_968_000.0),
        Interval(0.5, 1.0, round(1.25 * 1024**2), 20_972_000.0),
    )
    assert [(i.start_s, i.end_s) for i in run.intervals] == [(0.0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 2.0)]
    assert run.receiver is not None and run.receiver.rate_bps == 19_919_000.0
    assert run.duration_s == 2.0 and run.error is None
    # The summary leaves the omitted second out; the link carried it.
    assert run.bytes_moved == round(4.75 * 1024**2) + 2 * round(1.25 * 1024**2)


def test_parse_line_units_and_non_intervals() -> None:
    line = "[  5]   1.00-1.20   sec  2.29 MBytes  95.9 Mbits/sec    0   1.02 MBytes"
    assert parse_line(line) == Interval(1.0, 1.2, round(2.29 * 1024**2), 95.9e6)
    assert parse_line("[SUM]   0.00-0.20   sec   983 KBytes  40234 Kbits/sec") is None
    assert parse_line("[  5]   0.00-1.70   sec  0.00 Bytes  0.00 Kbits/sec     sender") is None
    assert parse_line("Connecting to host 10.77.0.1, port 5201") is None
    assert parse_line("[  5]   0.50-1.00   sec  1.25 MBytes  20968 Kbits/sec          (omitted)") is None


def test_garbage_and_time_travel_are_parse_errors() -> None:
    with pytest.raises(ParseError, match=r"^iperf3 x: no iperf3 interval"):
        parse_iperf3_text("<html>proxy error</html>", source="iperf3 x")
    backwards = (
        "[  5]   0.40-0.60   sec   936 KBytes  38327 Kbits/sec\n"
        "[  5]   0.20-0.40   sec   9 KBytes  38 Kbits/sec"
    )
    with pytest.raises(ParseError, match=r"^t:2: interval 0.20-0.40 s goes back in time"):
        parse_iperf3_text(backwards, source="t")


# --- the stopping rule on synthetic interval sequences ------------------------------------------


def test_stable_stream_far_from_threshold_stops_early() -> None:
    end_s, reason = first_stop(steady(60, 5, wobble=0.01), StopRule(threshold_mbps=40))
    assert reason is StopReason.STABLE and end_s == pytest.approx(1.6)


def test_rate_near_threshold_runs_longer() -> None:
    rule = StopRule(threshold_mbps=40, max_duration_s=5)
    far_s, _ = first_stop(steady(36, 5, wobble=0.02), rule)
    near_s, near = first_stop(steady(39.8, 5, wobble=0.02), rule)
    closer_s, closer = first_stop(steady(39.95, 5, wobble=0.02), rule)
    assert far_s == pytest.approx(1.6) and near_s >= far_s + 0.4, (far_s, near_s, near)
    assert closer is StopReason.MAX_DURATION and closer_s == pytest.approx(5.0)


def test_noisy_stream_is_never_stable() -> None:
    end_s, reason = first_stop(steady(20, 3, wobble=0.2), StopRule(threshold_mbps=40, max_duration_s=3))
    assert reason is StopReason.MAX_DURATION and end_s == pytest.approx(3.0)


def test_byte_cap_stops_before_it_is_passed() -> None:
    intervals = steady(40, 5, wobble=0.3)  # never stable: only the cap can stop it
    end_s, reason = first_stop(intervals, StopRule(threshold_mbps=40, bytes_cap=3_000_000))
    assert reason is StopReason.BYTE_CAP
    moved = sum(i.bytes for i in intervals if i.end_s <= end_s + 1e-9)
    last = next(i for i in intervals if abs(i.end_s - end_s) < 1e-9)
    assert moved <= 3_000_000 < moved + last.bytes


def test_without_threshold_stability_suffices() -> None:
    end_s, reason = first_stop(steady(40, 5, wobble=0.005), StopRule())
    assert reason is StopReason.STABLE and end_s == pytest.approx(1.6)


def test_estimate_stands_for_a_fixed_10_s_test_start_up_included() -> None:
    # TCP start-up: 0.6 s at a quarter of the rate, then 2 s at 40 Mbit/s.
    ramp = [Interval(i / 5, (i + 1) / 5, 250_000, 10e6) for i in range(3)]
    intervals = ramp + [Interval(0.6 + i / 5, 0.8 + i / 5, 1_000_000, 40e6) for i in range(10)]
    est = estimate(intervals, StopRule())
    assert est is not None and est.window_mbps == pytest.approx(40.0)
    assert est.mbps == pytest.approx((0.6 * 10 + 9.4 * 40) / 10)  # what a 10 s test would report
    plain = estimate(intervals, StopRule(reference_s=None))
    assert plain is not None and plain.mbps == pytest.approx(40.0)
    with pytest.raises(ValueError, match="reference_s"):
        StopRule(reference_s=0)


def test_rule_validation_and_quantiles() -> None:
    with pytest.raises(ValueError, match="max_rel_half_width"):
        StopRule(max_rel_half_width=0)
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_quantile_975(0)
    assert t_quantile_975(200) == pytest.approx(1.972)


# --- the runner through the live seam -------------------------------------------------------------


def test_recorded_download_stops_early_with_estimate(ctx: TestContext) -> None:
    seam = Replay(recorded("tbf40_download_8s.txt"))
    runner = AdaptiveIperf3Runner(
        host="10.77.0.1", reverse=True, rule=StopRule(threshold_mbps=40), command_runner=seam
    )
    (m,) = runner.start_test(ctx)
    assert m.kind is Kind.THROUGHPUT_DOWN and m.error_kind is None
    assert m.download_mbps == pytest.approx(TBF40_GOODPUT_MBPS, rel=0.01)
    run = parse_iperf3_text(recorded("tbf40_download_8s.txt"), source="t")
    assert m.duration_s == 1.6 and m.bytes_used == sum(i.bytes for i in run.intervals[:8])  # no summary
    assert m.raw is not None and m.raw.splitlines()[-1].startswith("lomsong-adaptive: stop=stable")
    assert seam.calls[0][-2:] == ["--connect-timeout", "5000"] and "-R" in seam.calls[0]


def test_recorded_upload_on_sender_counts_uses_the_longer_window(ctx: TestContext) -> None:
    seam = Replay(recorded("tbf40_upload_8s.txt"))
    runner = AdaptiveIperf3Runner(
        host="10.77.0.1", rule=StopRule(threshold_mbps=40, max_duration_s=3.0), command_runner=seam,
        read_acked=False,
    )  # fmt: skip
    (m,) = runner.start_test(ctx)
    assert m.kind is Kind.THROUGHPUT_UP and m.upload_mbps is not None
    assert m.duration_s is not None and m.duration_s >= 2.6
    assert m.upload_mbps == pytest.approx(TBF40_GOODPUT_MBPS, rel=0.03)
    assert m.raw is not None and " source=sender " in m.raw.splitlines()[-1]


def test_upload_judged_on_acknowledged_bytes_stops_sooner(ctx: TestContext) -> None:
    clock = FakeClock()
    seam = Replay(recorded("tbf40_upload_8s.txt"), clock=clock)
    ss = AckedSs(clock, rate_mbps=37.0)
    runner = AdaptiveIperf3Runner(
        host="10.77.0.1", rule=StopRule(threshold_mbps=40), command_runner=seam, ss_runner=ss,
        clock=clock,
    )  # fmt: skip
    (m,) = runner.start_test(ctx)
    assert ss.calls >= 5
    assert m.error_kind is None and m.upload_mbps == pytest.approx(37.0, rel=1e-3)  # not the sender's
    trailer = m.raw.splitlines()[-1] if m.raw else ""
    assert trailer.startswith("lomsong-adaptive: stop=stable source=acked "), trailer
    assert seam.fed < 13  # stopped within 2.4 s of intervals; the sender's counts need >= 2.6 s
    fed = [parse_line(line) for line in recorded("tbf40_upload_8s.txt").splitlines()[: seam.fed]]
    assert m.bytes_used == sum(i.bytes for i in fed if i is not None)  # the sender's count


def test_upload_falls_back_to_sender_counts_without_ss(ctx: TestContext) -> None:
    clock = FakeClock()
    for ss_kwargs in ({"executable_missing": True}, {"no_socket": True}):
        seam = Replay(recorded("tbf40_upload_8s.txt"), clock=clock)
        ss = AckedSs(clock, rate_mbps=None)
        runner = AdaptiveIperf3Runner(
            host="10.77.0.1", rule=StopRule(threshold_mbps=40, max_duration_s=3.0),
            command_runner=seam, ss_runner=ss, clock=clock,
        )  # fmt: skip
        if "executable_missing" in ss_kwargs:
            runner = dataclasses.replace(
                runner, ss_runner=SubprocessRunner(), ss_executable="/nonexistent/ss"
            )
        (m,) = runner.start_test(ctx)
        trailer = m.raw.splitlines()[-1] if m.raw else ""
        assert " source=sender " in trailer, trailer
        assert ("ss_failed=" in trailer) == ("executable_missing" in ss_kwargs), trailer
        assert m.upload_mbps == pytest.approx(TBF40_GOODPUT_MBPS, rel=0.03)
        assert m.duration_s is not None and m.duration_s >= 2.6


def test_tool_error_becomes_error_measurement(ctx: TestContext) -> None:
    runner = AdaptiveIperf3Runner(
        host="127.0.0.1", reverse=True, command_runner=Replay(recorded("refused.txt"))
    )
    (m,) = runner.start_test(ctx)
    assert m.error_kind is ErrorKind.CONNECTION_REFUSED and m.download_mbps is None
    assert m.error_message == "error - unable to connect to server: Connection refused"
    assert m.bytes_used == 0 and m.server == "127.0.0.1:5201"


def test_stalled_download_is_a_failure_not_a_zero(ctx: TestContext) -> None:
    text = recorded("handwritten_stalled_download.txt")
    runner = AdaptiveIperf3Runner(host="10.77.0.1", reverse=True, command_runner=Replay(text))
    (m,) = runner.start_test(ctx)
    assert m.error_kind is ErrorKind.TOOL_ERROR and m.download_mbps is None
    assert m.error_message == "no bytes arrived in 0.60-2.60 s: no rate was measured"
    assert m.bytes_used == 0 and m.raw is not None and m.raw.startswith(text.splitlines()[0])
    assert m.raw.splitlines()[-1].startswith("lomsong-adaptive: stop=max_duration source=receiver ")
    # Bytes in the first 0.2 s, then nothing: still no rate, not a tiny one.
    first = "0.00-0.20   sec  0.00 Bytes  0.00 Kbits/sec"
    started = text.replace(first, "0.00-0.20   sec   128 KBytes  5243 Kbits/sec")
    assert started != text
    runner = AdaptiveIperf3Runner(host="10.77.0.1", reverse=True, command_runner=Replay(started))
    (m,) = runner.start_test(ctx)
    assert m.error_kind is ErrorKind.TOOL_ERROR and m.download_mbps is None and m.bytes_used == 128 * 1024


def test_garbage_output_becomes_parse_error(ctx: TestContext) -> None:
    runner = AdaptiveIperf3Runner(host="h", command_runner=Replay("Segmentation fault"))
    (m,) = runner.start_test(ctx)
    assert m.error_kind is ErrorKind.PARSE_ERROR and "not iperf3 text output" in (m.error_message or "")
    assert m.raw == "Segmentation fault\n"


def test_argv_with_byte_cap_and_interface() -> None:
    runner = AdaptiveIperf3Runner(host="h", rule=StopRule(bytes_cap=5_000_000), congestion="cubic")
    argv = runner.argv("wwan1")
    assert argv[argv.index("-n") + 1] == "5000000" and "-t" not in argv
    assert argv[argv.index("--bind-dev") + 1] == "wwan1" and argv[argv.index("-C") + 1] == "cubic"


def test_missing_binary_for_real(ctx: TestContext) -> None:
    runner = AdaptiveIperf3Runner(host="127.0.0.1", executable="/nonexistent/iperf3")
    (m,) = runner.start_test(ctx)
    assert m.error_kind is ErrorKind.TOOL_MISSING


def test_config_picks_adaptive_for_mobile_paths() -> None:
    cfg = parse_config(
        """
[probe]
id = "pi-1"
[collector]
url = "http://collector.invalid"
token = "s3cret-token"
[[path]]
name = "viettel-4g"
access = "4g"
iperf3 = "iperf.invalid"
[[path]]
name = "fpt"
access = "fixed"
iperf3 = "iperf.invalid"
[[path]]
name = "forced"
access = "4g"
method = "fixed"
iperf3 = "iperf.invalid"
""",
        source="probe.toml",
    )
    down, up = path_runners(cfg.paths[0])
    assert isinstance(down, AdaptiveIperf3Runner) and isinstance(up, AdaptiveIperf3Runner)
    assert down.rule.threshold_mbps == 40.0 and up.rule.threshold_mbps is None
    assert down.rule.max_duration_s == 2.5
    assert all(isinstance(r, Iperf3Runner) for r in path_runners(cfg.paths[1]) + path_runners(cfg.paths[2]))


# --- real runs ------------------------------------------------------------------------------------


@pytest.mark.iperf3
def test_real_adaptive_run_on_loopback_stops_before_max(iperf3_port: int, ctx: TestContext) -> None:
    rule = StopRule(max_duration_s=8, bytes_cap=300_000_000)
    runner = AdaptiveIperf3Runner(host="127.0.0.1", port=iperf3_port, reverse=True, rule=rule)
    (m,) = runner.start_test(ctx)
    assert m.error_kind is None, m.error_message
    assert m.duration_s is not None and m.duration_s < 8
    assert m.bytes_used is not None and 0 < m.bytes_used <= 300_000_000
    assert m.download_mbps is not None and m.download_mbps > 0


SHAPED_LINK = Path(__file__).resolve().parents[2] / ".." / "shared" / "tools" / "shaped-link"


@pytest.fixture
def shaped_40() -> Iterator[None]:
    if os.geteuid() != 0 or not SHAPED_LINK.exists() or shutil.which("ip") is None:
        pytest.skip("needs root, ip and ../shared/tools/shaped-link")
    try:
        subprocess.run([str(SHAPED_LINK), "up", "40"], check=True, capture_output=True, timeout=30)
        server = subprocess.Popen(
            ["ip", "netns", "exec", "ls_srv", "iperf3", "-s", "-B", "10.77.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10  # the client must not race the server's listen()
        while not subprocess.run(["ip", "netns", "exec", "ls_srv", "ss", "-Hltn", "sport = :5201"],
                                 capture_output=True, text=True, timeout=5).stdout.strip():
            if time.monotonic() > deadline:
                raise RuntimeError("iperf3 server in ls_srv did not start listening")
            time.sleep(0.05)
        try:
            yield
        finally:
            server.terminate()
            server.wait(timeout=10)
    finally:
        subprocess.run([str(SHAPED_LINK), "down"], capture_output=True, timeout=30)


IN_CLI = ["ip", "netns", "exec", "ls_cli"]


def in_cli(
    argv: Sequence[str],
    *,
    on_line: Callable[[str], bool],
    timeout_s: float,
    on_tick: Callable[[int], bool] | None = None,
) -> CommandResult:
    return LiveSubprocessRunner()([*IN_CLI, *argv], on_line=on_line, timeout_s=timeout_s, on_tick=on_tick)


def ss_in_cli(argv: Sequence[str], *, timeout_s: float) -> CommandResult:
    return SubprocessRunner()([*IN_CLI, *argv], timeout_s=timeout_s)


@pytest.mark.netns
@pytest.mark.timeout(40)
def test_netns_tbf40_estimates_within_5_percent(shaped_40: None, ctx: TestContext) -> None:
    for reverse in (True, False):
        runner = AdaptiveIperf3Runner(
            host="10.77.0.1",
            reverse=reverse,
            rule=StopRule(threshold_mbps=40),
            connect_timeout_ms=3000,
            command_runner=in_cli,
            ss_runner=ss_in_cli,
        )
        (m,) = runner.start_test(ctx)
        assert m.error_kind is None, m.error_message
        rate = m.download_mbps if reverse else m.upload_mbps
        assert rate == pytest.approx(TBF40_GOODPUT_MBPS, rel=0.05)
        assert m.duration_s is not None and m.duration_s <= 2.6
        source = "receiver" if reverse else "acked"
        assert m.raw is not None and f" source={source} " in m.raw.splitlines()[-1], m.raw


def _hold_server(port: int, seconds: float) -> subprocess.Popen[bytes]:
    """Another client's test, under way (its data stream established) when this returns."""
    other = subprocess.Popen(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", f"{seconds:g}",
                              "-b", "10M"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 10
    while len(subprocess.run(["ss", "-Htn", "state", "established", f"( dport = :{port} )"],
                             capture_output=True, text=True, timeout=5).stdout.splitlines()) < 2:
        if other.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the other iperf3 client did not start its test")
        time.sleep(0.02)
    return other


@pytest.mark.iperf3
def test_busy_server_is_retried_then_measured(iperf3_server_port: int, ctx: TestContext) -> None:
    # Another client holds the one-test-at-a-time server for about 1.5 s.
    other = _hold_server(iperf3_server_port, seconds=1.5)
    try:
        slept: list[float] = []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            time.sleep(seconds)

        runner = AdaptiveIperf3Runner(host="127.0.0.1", port=iperf3_server_port, reverse=True,
                                      busy_delays_s=(0.2, 2.5), sleep=sleep)  # fmt: skip
        (m,) = runner.start_test(ctx)
    finally:
        other.wait(timeout=10)
    assert m.error_kind is None and m.download_mbps is not None, m.raw
    assert slept in ([0.2], [0.2, 2.5])  # busy at least once (twice unless the machine is slow)
    waits = ", ".join(f"{s:g} s" for s in slept)
    assert m.raw is not None and m.raw.endswith(f"lomsong-retry: server busy, retried after {waits}")


@pytest.mark.iperf3
def test_busy_server_after_every_retry_is_a_server_busy_record(
    iperf3_server_port: int, ctx: TestContext
) -> None:
    other = _hold_server(iperf3_server_port, seconds=3)
    try:
        runner = Iperf3Runner(host="127.0.0.1", port=iperf3_server_port, duration_s=1,
                              busy_delays_s=(0.1, 0.1))  # fmt: skip
        (m,) = runner.start_test(ctx)
    finally:
        other.wait(timeout=10)
    assert m.error_kind is ErrorKind.SERVER_BUSY
    assert m.raw is not None and m.raw.endswith("retried after 0.1 s, 0.1 s")
