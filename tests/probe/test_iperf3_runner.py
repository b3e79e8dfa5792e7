"""`Iperf3Runner`: argv, recorded output through the command seam, and a real run on loopback."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lomsong.probe.record import Access, ErrorKind, Kind, Measurement
from lomsong.probe.runners.base import CommandResult, TestContext
from lomsong.probe.runners.iperf3 import Iperf3Runner


@dataclass
class Recorded:
    """A CommandRunner that returns a recorded result (or raises) and remembers the call."""

    result: CommandResult | None = None
    raises: BaseException | None = None
    calls: list[tuple[list[str], float]] = field(default_factory=list)

    def __call__(self, argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        self.calls.append((list(argv), timeout_s))
        if self.raises is not None:
            raise self.raises
        assert self.result is not None
        return self.result


def test_argv_download_bound_to_interface() -> None:
    runner = Iperf3Runner(host="iperf.invalid", port=5202, duration_s=8, reverse=True, congestion="cubic")
    assert runner.argv("wwan0") == [
        "iperf3", "--json", "-c", "iperf.invalid", "-p", "5202", "-t", "8", "-R",
        "--get-server-output", "-C", "cubic", "--bind-dev", "wwan0", "--connect-timeout", "5000",
    ]  # fmt: skip
    assert runner.kind is Kind.THROUGHPUT_DOWN
    assert runner.timeout_s == 8 + 5 + 15


def test_argv_udp_upload_with_byte_cap_and_bind_address() -> None:
    runner = Iperf3Runner(host="h", udp=True, udp_rate="5M", bytes_cap=1_000_000, bind_address="10.0.0.2")
    argv = runner.argv()
    assert argv[argv.index("-u") : argv.index("-u") + 3] == ["-u", "-b", "5M"]
    assert argv[argv.index("-n") + 1] == "1000000" and "-t" not in argv  # one end condition only
    assert argv[argv.index("-B") + 1] == "10.0.0.2"
    assert runner.kind is Kind.UDP_QUALITY


def test_recorded_download(realdata: Path, ctx: TestContext) -> None:
    text = (
        realdata / "iperf3" / "masquerade_iperf3.17.1_tcp_reverse_download_with_server_output.json"
    ).read_text()
    seam = Recorded(CommandResult(0, text, "", 15.2))
    runner = Iperf3Runner(host="192.168.0.45", port=7070, reverse=True, command_runner=seam)
    (m,) = runner.start_test(ctx)
    assert m.kind is Kind.THROUGHPUT_DOWN and m.error_kind is None
    assert m.download_mbps == pytest.approx(9.99664379305386) and m.upload_mbps is None
    assert (m.bytes_used, m.duration_s) == (18743296, 14.999671)
    assert m.rtt_ms == pytest.approx(1.814)
    assert (m.tool_version, m.server, m.probe_id, m.boot_id, m.monotonic_s) == (
        "3.17.1",
        "192.168.0.45:7070",
        "pi-test-01",
        "boot-1",
        42.0,
    )
    assert m.raw == text
    assert Measurement.model_validate_json(m.model_dump_json()) == m


def test_recorded_interrupted_upload_is_evidence(realdata: Path, ctx: TestContext) -> None:
    text = (realdata / "iperf3" / "flxo_iperf3.12_tcp_interrupted.json").read_text()
    runner = Iperf3Runner(host="h", command_runner=Recorded(CommandResult(1, text, "", 5.0)))
    (m,) = runner.start_test(ctx)
    assert m.kind is Kind.THROUGHPUT_UP
    assert m.error_kind is ErrorKind.INTERRUPTED
    assert m.upload_mbps is None and m.bytes_used == 135384440


HAND_WRITTEN = Path(__file__).parent / "data" / "iperf3_json"  # see its PROVENANCE.md


@pytest.mark.parametrize(
    ("name", "reverse", "bytes_used"),
    [
        ("iperf3.9_tcp_upload_received_zero.json", False, 57344),
        ("iperf3.12_tcp_download_empty_end.json", True, 0),
    ],
)
def test_run_without_received_bytes_is_a_failure_keeping_raw(
    ctx: TestContext, name: str, reverse: bool, bytes_used: int
) -> None:
    text = (HAND_WRITTEN / name).read_text()
    runner = Iperf3Runner(
        host="h", reverse=reverse, command_runner=Recorded(CommandResult(0, text, "", 10.1))
    )
    (m,) = runner.start_test(ctx)
    assert m.error_kind is ErrorKind.TOOL_ERROR
    assert (m.download_mbps, m.upload_mbps) == (None, None)
    assert m.error_message is not None and "no rate was measured" in m.error_message
    assert (m.raw, m.bytes_used) == (text, bytes_used)


def test_recorded_udp(realdata: Path, ctx: TestContext) -> None:
    text = (realdata / "iperf3" / "flxo_iperf3.12_udp_1mbps.json").read_text()
    runner = Iperf3Runner(host="h", udp=True, command_runner=Recorded(CommandResult(0, text, "", 2)))
    (m,) = runner.start_test(ctx)
    assert (m.kind, m.jitter_ms, m.loss_pct) == (Kind.UDP_QUALITY, 0.022477844208478922, 0.0)
    assert m.upload_mbps == pytest.approx(1.0482814329173502)


@pytest.mark.parametrize(
    ("raises", "kind"),
    [
        (FileNotFoundError(2, "No such file or directory", "iperf3"), ErrorKind.TOOL_MISSING),
        (subprocess.TimeoutExpired(["iperf3"], 30), ErrorKind.TIMEOUT),
        (RuntimeError("boom"), ErrorKind.TOOL_ERROR),
    ],
)
def test_exceptions_become_measurements(ctx: TestContext, raises: BaseException, kind: ErrorKind) -> None:
    (m,) = Iperf3Runner(host="h", reverse=True, command_runner=Recorded(raises=raises)).start_test(ctx)
    assert (m.kind, m.error_kind, m.server) == (Kind.THROUGHPUT_DOWN, kind, "h:5201")
    assert m.error_message and type(raises).__name__ in m.error_message


def test_garbage_output_is_parse_error_with_raw(ctx: TestContext) -> None:
    seam = Recorded(CommandResult(1, '{"start": {', "", 0.1))
    (m,) = Iperf3Runner(host="h", command_runner=seam).start_test(ctx)
    assert m.error_kind is ErrorKind.PARSE_ERROR and m.raw == '{"start": {'
    assert m.error_message is not None and "iperf3 h:5201" in m.error_message


def test_no_output_uses_stderr(ctx: TestContext) -> None:
    seam = Recorded(
        CommandResult(1, "", "iperf3: error - unable to connect to server: No route to host\n", 0.1)
    )
    (m,) = Iperf3Runner(host="h", command_runner=seam).start_test(ctx)
    assert m.error_kind is ErrorKind.NETWORK_UNREACHABLE


def test_missing_binary_for_real(ctx: TestContext) -> None:
    (m,) = Iperf3Runner(host="127.0.0.1", executable="/nonexistent/iperf3").start_test(ctx)
    assert m.error_kind is ErrorKind.TOOL_MISSING


@pytest.mark.iperf3
@pytest.mark.parametrize("reverse", [True, False], ids=["download", "upload"])
def test_real_iperf3_on_loopback(iperf3_port: int, reverse: bool) -> None:
    ctx = TestContext(probe_id="pi-loop", access=Access.FIXED)
    runner = Iperf3Runner(host="127.0.0.1", port=iperf3_port, duration_s=1, reverse=reverse)
    (m,) = runner.start_test(ctx)
    assert m.error_kind is None, m.error_message
    rate = m.download_mbps if reverse else m.upload_mbps
    assert rate is not None and rate > 0
    assert m.bytes_used is not None and m.bytes_used > 0
    assert m.duration_s is not None and 0.5 < m.duration_s < 5
    assert m.tool_version is not None and m.tool_version.startswith("3.")
    if reverse:  # the -J server sends its JSON back: the sender's RTT
        assert m.rtt_ms is not None and m.rtt_ms > 0
    Measurement.model_validate_json(m.model_dump_json())


@pytest.mark.iperf3
def test_real_iperf3_refused(ctx: TestContext, free_port: int) -> None:
    (m,) = Iperf3Runner(host="127.0.0.1", port=free_port, duration_s=1).start_test(ctx)
    assert m.error_kind is ErrorKind.CONNECTION_REFUSED
    assert m.raw is not None and "Connection refused" in m.raw
