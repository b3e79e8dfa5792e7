"""Receiver-acknowledged bytes from ``ss``: parser on captured output, sampler with a fake clock."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lomsong.probe.runners.base import CommandResult
from lomsong.probe.runners.tcp_acked import AckedSampler, parse_ss
from tests.probe.conftest import FakeClock

DATA = Path(__file__).parent / "data" / "ss"


def ss_line(pid: int, local_port: int, acked: int, *, peer: str = "10.77.0.1:5201") -> str:
    return (
        f"ESTAB 0 1200000 10.77.0.2:{local_port} {peer} users:((\"iperf3\",pid={pid},fd=5))\n"
        f"\t cubic rtt:21.1/0.3 bytes_sent:{acked + 90_000} bytes_acked:{acked} segs_out:900\n"
    )


@dataclass
class FakeSs:
    """Answers like ``ss``: the data socket has acknowledged `rate_bps` since `start`, plus the
    control connection (a few hundred bytes) and another process's upload to the same port."""

    clock: FakeClock
    rate_bps: float = 38e6
    start: float = 0.1
    argvs: list[list[str]] = field(default_factory=list)

    def __call__(self, argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        self.argvs.append(list(argv))
        acked = int(max(0.0, self.clock.t - self.start) * self.rate_bps / 8)
        text = (
            ss_line(4242, 40120, 164)
            + ss_line(4242, 40122, acked)
            + ss_line(777, 40200, 10 * acked + 1)  # somebody else's test: not ours
        )
        return CommandResult(0, text, "", 0.006)


def test_parse_real_capture_with_and_without_header() -> None:
    for name in ("iperf3_upload_loopback.txt", "iperf3_upload_loopback_header.txt"):
        sockets = parse_ss((DATA / name).read_text())
        assert len(sockets) == 2, name
        control, data = sockets
        assert control.pids == data.pids == (12138,)
        assert control.bytes_acked == 164 and control.bytes_received == 4
        assert data.bytes_acked is not None and data.bytes_acked > 1_000_000_000
        assert data.bytes_sent is not None and data.bytes_sent + 1 >= data.bytes_acked  # +1: the SYN
        assert data.peer == "127.0.0.1:5296" and data.local.startswith("127.0.0.1:")


def test_delivered_bytes_count_selectively_acknowledged_segments() -> None:
    control, data = parse_ss((DATA / "iperf3_upload_lossy_sacked.txt").read_text())  # 1% loss, a hole
    assert (control.sacked, control.bytes_delivered) == (0, 183)
    assert (data.bytes_acked, data.sacked, data.mss) == (1136718, 50, 1448)
    assert data.bytes_delivered == 1136718 + 50 * 1448


def test_sampler_counts_what_arrived_beyond_a_hole() -> None:
    clock = FakeClock()
    lines = [(0.0, 100_000, 0), (0.2, 150_000, 30), (0.4, 150_000, 60), (0.6, 300_000 + 60 * 1448, 0)]
    answers = iter(lines)

    def ss(argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        at, acked, sacked = next(answers)
        clock.t = at
        text = (
            'ESTAB 0 0 10.77.0.2:40122 10.77.0.1:5201 users:(("iperf3",pid=4242,fd=5))\n'
            f"\t bbr mss:1448 rcvmss:536 advmss:1448 bytes_acked:{acked} sacked:{sacked}\n"
        )
        return CommandResult(0, text, "", 0.0)

    sampler = AckedSampler(port=5201, period_s=0.1, command_runner=ss, clock=clock)
    for at, _, _ in lines:
        clock.t = at
        sampler.poll(4242)
    # The cumulative ACK stalls at 150 000 while 30 then 60 segments arrive beyond the hole.
    assert [i.bytes for i in sampler.intervals] == [50_000 + 30 * 1448, 30 * 1448, 150_000]


def test_parse_tolerates_missing_counters_and_noise() -> None:
    text = "garbage line\nESTAB 0 0 10.0.0.2:1 10.0.0.1:5201\n\t cubic rtt:1/1\n\t\n"
    (only,) = parse_ss(text)
    assert only.pids == () and only.bytes_acked is None and only.bytes_sent is None
    assert parse_ss("") == []


def test_sampler_follows_the_busiest_socket_of_its_process() -> None:
    clock = FakeClock()
    ss = FakeSs(clock)
    sampler = AckedSampler(port=5201, period_s=0.25, command_runner=ss, clock=clock)
    added = []
    for step in range(1, 16):
        clock.t = step * 0.125
        added.append(sampler.poll(4242))
    assert ss.argvs[0] == ["ss", "-tinpH", "( dport = :5201 )"]
    assert len(ss.argvs) == 8  # every other poll: the period is two steps
    assert sum(added) == len(sampler.intervals) >= 5
    for interval in sampler.intervals:
        assert interval.rate_bps == pytest.approx(38e6, rel=1e-6)
        assert interval.seconds == pytest.approx(0.25)
    assert sampler.intervals[0].start_s == 0.0 and sampler.failed is None


def test_sampler_times_the_intervals_from_the_data_sockets_first_sighting() -> None:
    clock = FakeClock()
    ss = FakeSs(clock, start=0.5)  # the data socket shows at once, its bytes flow from 0.5 s
    sampler = AckedSampler(port=5201, period_s=0.2, command_runner=ss, clock=clock)
    for step in range(1, 41):
        clock.t = step * 0.025
        sampler.poll(4242)
    # Sampled every 50 ms from 0.025 s until the data stream shows (at 0.525 s), then every 0.2 s.
    assert len(ss.argvs) == 11 + 2
    first = sampler.intervals[0]
    assert (first.start_s, first.bytes) == (0.0, 0)  # the silent start counts, from 0.025 s on
    assert sum(i.seconds for i in sampler.intervals) == pytest.approx(0.95 - 0.025)
    assert sum(i.bytes for i in sampler.intervals) == int(0.45 * 38e6 / 8)


def test_sampler_waits_for_the_data_stream_to_start() -> None:
    clock = FakeClock()
    sampler = AckedSampler(port=5201, command_runner=FakeSs(clock, start=1.0), clock=clock)
    for step in range(1, 6):
        clock.t = step * 0.2
        sampler.poll(4242)
    assert sampler.intervals == []  # only the control connection has moved bytes


def test_sampler_failure_is_remembered() -> None:
    sampler = AckedSampler(port=5201, executable="/nonexistent/ss")
    assert sampler.poll(1) is False
    assert sampler.failed is not None and "FileNotFoundError" in sampler.failed
    assert sampler.poll(1) is False

    def broken(argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        return CommandResult(1, "", "Cannot open netlink socket", 0.0)

    sampler = AckedSampler(port=5201, command_runner=broken)
    assert sampler.poll(1) is False
    assert sampler.failed is not None and "netlink" in sampler.failed


@pytest.mark.iperf3
def test_sampler_on_a_real_loopback_upload(iperf3_port: int) -> None:
    if shutil.which("ss") is None:
        pytest.skip("needs ss (iproute2)")
    proc = subprocess.Popen(
        ["iperf3", "-c", "127.0.0.1", "-p", str(iperf3_port), "-t", "2", "-b", "200M"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sampler = AckedSampler(port=iperf3_port)
    try:
        while proc.poll() is None:
            sampler.poll(proc.pid)
    finally:
        proc.wait(timeout=10)
    assert sampler.failed is None
    assert len(sampler.intervals) >= 4
    window = [i for i in sampler.intervals if i.start_s >= 0.4]
    rate = sum(i.bytes for i in window) * 8 / sum(i.seconds for i in window)
    assert rate == pytest.approx(200e6, rel=0.15)  # iperf3 -b paces the sender at 200 Mbit/s
