"""Ping runner: iputils output recorded here, the runner on recorded output, real loopback ping
and the TCP-connect fallback against real loopback sockets."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Sequence
from pathlib import Path

import pytest

from lomsong.probe.errors import ParseError
from lomsong.probe.record import ErrorKind, Kind
from lomsong.probe.runners.base import CommandResult, TestContext
from lomsong.probe.runners.ping import PingRunner, classify_ping_error, parse_ping, tcp_connect_rtts

DATA = Path(__file__).resolve().parents[1] / "data" / "ping"


class Recorded:
    def __init__(self, stdout: str, stderr: str = "", returncode: int = 0) -> None:
        self.result = CommandResult(returncode, stdout, stderr, 0.8)
        self.argv: list[str] = []

    def __call__(self, argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        self.argv = list(argv)
        return self.result


class Missing:
    def __call__(self, argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        raise FileNotFoundError(2, "No such file or directory", argv[0])


def test_parse_recorded_loopback() -> None:
    r = parse_ping((DATA / "lo_ok.txt").read_text(), source="lo_ok.txt")
    assert (r.transmitted, r.received, r.loss_pct) == (5, 5, 0.0)
    assert (r.min_ms, r.avg_ms, r.max_ms) == (0.022, 0.075, 0.252)
    # replies 0.252 0.035 0.022 0.029 0.037: mean |step| = (0.217+0.013+0.007+0.008)/4
    assert r.jitter_ms == pytest.approx(0.06125)
    v6 = parse_ping((DATA / "v6.txt").read_text(), source="v6.txt")
    assert v6.avg_ms == 0.079 and v6.received == 3


def test_parse_total_loss_has_no_rtt() -> None:
    # iputils prints no rtt line when nothing came back (format of ping_common.c's finish()).
    text = (
        "PING 10.77.0.9 (10.77.0.9) 56(84) bytes of data.\n\n--- 10.77.0.9 ping statistics ---\n"
        "3 packets transmitted, 0 received, 100% packet loss, time 2046ms\n"
    )
    r = parse_ping(text, source="t")
    assert (r.received, r.loss_pct, r.avg_ms, r.jitter_ms) == (0, 100.0, None, None)


@pytest.mark.parametrize("name", ["dnsfail.txt", "nodev.txt", "unreachable_net.txt"])
def test_parse_error_outputs_name_the_source(name: str) -> None:
    with pytest.raises(ParseError, match=name):
        parse_ping((DATA / name).read_text(), source=name)


def test_replies_without_rtt_line_are_an_error() -> None:
    with pytest.raises(ParseError, match="no 'rtt"):
        parse_ping("1 packets transmitted, 1 received, 0% packet loss, time 0ms\n", source="t")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("dnsfail.txt", ErrorKind.DNS_FAILURE),
        ("nodev.txt", ErrorKind.NETWORK_UNREACHABLE),
        ("unreachable_net.txt", ErrorKind.NETWORK_UNREACHABLE),
    ],
)
def test_runner_failures_from_recorded_output(ctx: TestContext, name: str, kind: ErrorKind) -> None:
    runner = PingRunner(host="h", command_runner=Recorded("", (DATA / name).read_text(), 2))
    (m,) = runner.start_test(ctx)
    assert m.kind is Kind.LATENCY and m.error_kind is kind and m.error_message
    assert classify_ping_error("garbage") is ErrorKind.TOOL_ERROR


def test_runner_success_and_argv(ctx: TestContext) -> None:
    recorded = Recorded((DATA / "lo_iface.txt").read_text())
    runner = PingRunner(host="127.0.0.1", count=3, command_runner=recorded)
    (m,) = runner.start_test(TestContext(probe_id="p", interface="lo", now=ctx.now))
    assert recorded.argv == ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-I", "lo", "127.0.0.1"]
    assert (m.tool, m.rtt_ms, m.loss_pct, m.error_kind) == ("ping", 0.025, 0.0, None)
    assert m.bytes_used == 6 * 84 and m.interface == "lo" and m.server == "127.0.0.1"


def test_runner_total_loss_is_a_timeout_with_loss(ctx: TestContext) -> None:
    text = "3 packets transmitted, 0 received, 100% packet loss, time 2046ms\n"
    (m,) = PingRunner(host="h", command_runner=Recorded(text, "", 1)).start_test(ctx)
    assert m.error_kind is ErrorKind.TIMEOUT and m.loss_pct == 100.0 and m.rtt_ms is None


@pytest.fixture
def listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def test_fallback_to_tcp_when_ping_missing(ctx: TestContext, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    with listener:
        runner = PingRunner(host="127.0.0.1", count=4, tcp_port=port, command_runner=Missing())
        (m,) = runner.start_test(ctx)
    assert m.tool == "tcp-connect" and m.server == f"127.0.0.1:{port}"
    assert m.error_kind is None and m.rtt_ms is not None and m.loss_pct == 0.0


def test_fallback_when_not_permitted_counts_refused_as_reply(ctx: TestContext, free_port: int) -> None:
    denied = Recorded("", "ping: socket: Operation not permitted\n", 2)
    runner = PingRunner(host="127.0.0.1", count=3, tcp_port=free_port, command_runner=denied)
    (m,) = runner.start_test(ctx)
    assert m.tool == "tcp-connect" and m.error_kind is None and m.loss_pct == 0.0


def test_tcp_probe_unknown_name_raises() -> None:
    with pytest.raises(OSError):
        tcp_connect_rtts("nonexistent.invalid", 80, count=1, timeout_s=1.0)


def test_fallback_dns_failure_is_recorded(ctx: TestContext) -> None:
    (m,) = PingRunner(host="nonexistent.invalid", command_runner=Missing()).start_test(ctx)
    assert m.tool == "tcp-connect" and m.error_kind is ErrorKind.DNS_FAILURE


@pytest.mark.skipif(shutil.which("ping") is None, reason="iputils ping not installed")
def test_real_ping_on_loopback(ctx: TestContext) -> None:
    (m,) = PingRunner(host="127.0.0.1", count=3).start_test(ctx)
    assert m.error_kind is None, m.error_message
    assert m.tool in ("ping", "tcp-connect") and m.rtt_ms is not None and m.rtt_ms < 50
