"""Latency, jitter and loss: iputils ``ping``, or TCP-connect times when ping cannot run.

`parse_ping` reads iputils output (``ping -c N -i 0.2 -W 2 [-I iface] host``): the per-reply
``time=`` values, the ``N packets transmitted, M received, X% packet loss`` line and the
``rtt min/avg/max/mdev`` line. Jitter is the mean absolute difference of consecutive replies
(RFC 3550's idea without its smoothing), not ``mdev``, which measures spread around the mean.

When ``ping`` is missing, or the kernel refuses it an ICMP socket (no CAP_NET_RAW and
``net.ipv4.ping_group_range`` excludes the user), the runner falls back to timing TCP connects
to `tcp_port` in Python (tool ``tcp-connect``): a refused connect still gives a round trip,
a timeout counts as a lost probe.

Example
-------
>>> r = parse_ping("3 packets transmitted, 2 received, 33.3333% packet loss, time 405ms\\n"
...                "rtt min/avg/max/mdev = 20.1/25.0/29.9/4.9 ms\\n", source="t")
>>> r.loss_pct, r.avg_ms
(33.3333, 25.0)
"""

from __future__ import annotations

import itertools
import re
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from lomsong.probe.errors import ParseError
from lomsong.probe.record import ErrorKind, Kind, Measurement, bounded_raw
from lomsong.probe.runners.base import CommandRunner, Runner, Stamp, SubprocessRunner, TestContext

__all__ = ["PingResult", "PingRunner", "classify_ping_error", "parse_ping", "tcp_connect_rtts"]

_REPLY: Final = re.compile(r"\btime[=<]([\d.]+) ?ms")
_SUMMARY: Final = re.compile(
    r"(\d+) packets transmitted, (\d+) (?:packets )?received,.*?([\d.]+)% packet loss"
)
_RTT: Final = re.compile(
    r"(?:rtt|round-trip) min/avg/max/(?:mdev|stddev) = ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+)"
)
_NOT_PERMITTED: Final = ("operation not permitted", "permission denied", "lacking privilege")
_ERRORS: Final[tuple[tuple[str, ErrorKind], ...]] = (
    ("name or service not known", ErrorKind.DNS_FAILURE),
    ("temporary failure in name resolution", ErrorKind.DNS_FAILURE),
    ("no address associated", ErrorKind.DNS_FAILURE),
    ("network is unreachable", ErrorKind.NETWORK_UNREACHABLE),
    ("no route to host", ErrorKind.NETWORK_UNREACHABLE),
    ("no such device", ErrorKind.NETWORK_UNREACHABLE),
    ("cannot assign requested address", ErrorKind.NETWORK_UNREACHABLE),
)
ICMP_PACKET_BYTES: Final = 84  # 56 data + 8 ICMP + 20 IPv4 header, each way


@dataclass(frozen=True, slots=True)
class PingResult:
    transmitted: int
    received: int
    loss_pct: float
    min_ms: float | None
    avg_ms: float | None
    max_ms: float | None
    jitter_ms: float | None


def classify_ping_error(text: str) -> ErrorKind:
    """The error kind of ping's complaint (`tool_error` when not recognised).

    >>> classify_ping_error("ping: connect: Network is unreachable")
    <ErrorKind.NETWORK_UNREACHABLE: 'network_unreachable'>
    """
    lowered = text.lower()
    return next((kind for needle, kind in _ERRORS if needle in lowered), ErrorKind.TOOL_ERROR)


def _jitter_ms(times_ms: Sequence[float]) -> float | None:
    if len(times_ms) < 2:
        return None
    steps = [abs(b - a) for a, b in itertools.pairwise(times_ms)]
    return sum(steps) / len(steps)


def parse_ping(text: str, *, source: str) -> PingResult:
    """Read iputils ping output; raises `ParseError` naming `source` when there is no summary."""
    summary = _SUMMARY.search(text)
    if summary is None:
        raise ParseError("no 'packets transmitted' summary line", source=source)
    transmitted, received = int(summary.group(1)), int(summary.group(2))
    rtt = _RTT.search(text)
    lo, avg, hi = (float(rtt.group(i)) for i in (1, 2, 3)) if rtt else (None, None, None)
    if received and rtt is None:
        raise ParseError(f"{received} replies but no 'rtt min/avg/max' line", source=source)
    replies = [float(m.group(1)) for m in _REPLY.finditer(text)]
    return PingResult(
        transmitted=transmitted,
        received=received,
        loss_pct=float(summary.group(3)),
        min_ms=lo,
        avg_ms=avg,
        max_ms=hi,
        jitter_ms=_jitter_ms(replies),
    )


def _bound_socket(family: int, interface: str | None) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    if interface is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
    return sock


def tcp_connect_rtts(
    host: str,
    port: int,
    *,
    count: int,
    timeout_s: float,
    interface: str | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float | None]:
    """Time `count` TCP handshakes (ms; None for a probe that timed out).

    A refused connection still completed a round trip (SYN, RST), so it counts as a reply.
    Raises `OSError` when the name does not resolve or the network is unreachable.
    """
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    out: list[float | None] = []
    for _ in range(count):
        with _bound_socket(family, interface) as sock:
            sock.settimeout(timeout_s)
            started = clock()
            try:
                sock.connect(address)
            except ConnectionRefusedError:
                pass
            except TimeoutError:
                out.append(None)
                continue
            out.append((clock() - started) * 1000)
    return out


@dataclass
class PingRunner(Runner):
    """ICMP ping to `host` (bound to the path's interface), TCP-connect RTT as a fallback."""

    host: str
    count: int = 10
    interval_s: float = 0.2
    reply_timeout_s: int = 2
    tcp_port: int = 443
    executable: str = "ping"
    command_runner: CommandRunner = field(default_factory=SubprocessRunner)
    tcp_prober: Callable[..., list[float | None]] = tcp_connect_rtts
    tool: str = field(default="ping", init=False)
    kind: Kind = field(default=Kind.LATENCY, init=False)

    @property
    def server(self) -> str:  # type: ignore[override]
        return self.host

    def argv(self, interface: str | None = None) -> list[str]:
        argv = [self.executable, "-n", "-c", str(self.count), "-i", str(self.interval_s)]
        argv += ["-W", str(self.reply_timeout_s)]
        if interface is not None:
            argv += ["-I", interface]
        return [*argv, self.host]

    @property
    def timeout_s(self) -> float:
        return self.count * self.interval_s + self.reply_timeout_s + 10

    def _start_test(self, ctx: TestContext, stamp: Stamp) -> list[Measurement]:
        try:
            done = self.command_runner(self.argv(ctx.interface), timeout_s=self.timeout_s)
        except FileNotFoundError:
            return [self._tcp(ctx, stamp, "ping is not installed")]
        output = f"{done.stdout}\n{done.stderr}".strip()
        if any(n in output.lower() for n in _NOT_PERMITTED) and "packets transmitted" not in output:
            return [self._tcp(ctx, stamp, done.stderr.strip())]
        try:
            result = parse_ping(done.stdout, source=f"ping {self.host}")
        except ParseError as exc:
            kind = classify_ping_error(output)
            message = done.stderr.strip() if kind is not ErrorKind.TOOL_ERROR else str(exc)
            return [self.failure(ctx, stamp, kind, message or output, raw=bounded_raw(output))]
        fields = {
            "rtt_ms": result.avg_ms,
            "jitter_ms": result.jitter_ms,
            "loss_pct": result.loss_pct,
            "bytes_used": (result.transmitted + result.received) * ICMP_PACKET_BYTES,
            "duration_s": done.duration_s,
            "raw": bounded_raw(output),
        }
        if result.received == 0:
            return [self.failure(ctx, stamp, ErrorKind.TIMEOUT, "no echo reply", **fields)]
        return [ctx.measurement(stamp, kind=self.kind, tool=self.tool, server=self.server, **fields)]

    def _tcp(self, ctx: TestContext, stamp: Stamp, why: str) -> Measurement:
        started = time.monotonic()
        server = f"{self.host}:{self.tcp_port}"
        note = f"ICMP unavailable ({why}); TCP connect to port {self.tcp_port}"
        try:
            rtts = self.tcp_prober(
                self.host, self.tcp_port, count=self.count,
                timeout_s=float(self.reply_timeout_s), interface=ctx.interface,
            )  # fmt: skip
        except OSError as exc:
            kind = classify_ping_error(str(exc))
            return ctx.measurement(
                stamp, kind=self.kind, tool="tcp-connect", server=server,
                error_kind=kind, error_message=f"{note}: {exc}",
            )  # fmt: skip
        replies = [r for r in rtts if r is not None]
        fields = {
            "loss_pct": 100.0 * (len(rtts) - len(replies)) / len(rtts),
            "jitter_ms": _jitter_ms(replies),
            "duration_s": time.monotonic() - started,
            "bytes_used": len(rtts) * 3 * 60,  # SYN, SYN-ACK (or RST), RST/FIN: ~60 bytes each
        }
        if not replies:
            return ctx.measurement(
                stamp, kind=self.kind, tool="tcp-connect", server=server,
                error_kind=ErrorKind.TIMEOUT, error_message=f"{note}: no answer", **fields,
            )  # fmt: skip
        return ctx.measurement(
            stamp, kind=self.kind, tool="tcp-connect", server=server,
            rtt_ms=sum(replies) / len(replies), **fields,
        )  # fmt: skip
