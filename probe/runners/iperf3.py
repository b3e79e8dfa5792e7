"""iperf3 runner: a pure parser for `iperf3 --json` output and a thin, timed subprocess call.

The rate reported is always what *arrived* (`end.sum_received`), in both directions: for a
download (`-R`) the client is the receiver; for an upload the client's report still carries the
server's receive total. The sender's total counts bytes handed to the kernel, some of which may
still sit in buffers or be lost when the test ends, so it overstates a slow or lossy link.

Example
-------
>>> runner = Iperf3Runner(host="iperf.ubnd.example", port=5201, duration_s=10, reverse=True)
>>> runner.argv()[:8]
['iperf3', '--json', '-c', 'iperf.ubnd.example', '-p', '5201', '-t', '10']
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from lomsong.probe.errors import ParseError
from lomsong.probe.record import ErrorKind, Kind, Measurement, bounded_raw
from lomsong.probe.runners.base import CommandRunner, Runner, Stamp, SubprocessRunner, TestContext

__all__ = [
    "BUSY_DELAYS_S",
    "Iperf3Result",
    "Iperf3Runner",
    "classify_iperf3_error",
    "parse_iperf3",
    "retry_when_busy",
]

# Substrings of iperf3's error texts (iperf_error.c), most specific first.
_ERROR_PATTERNS: Final[tuple[tuple[str, ErrorKind], ...]] = (
    ("server is busy", ErrorKind.SERVER_BUSY),
    ("connection refused", ErrorKind.CONNECTION_REFUSED),
    ("timed out", ErrorKind.TIMEOUT),
    ("name or service not known", ErrorKind.DNS_FAILURE),
    ("temporary failure in name resolution", ErrorKind.DNS_FAILURE),
    ("no address associated", ErrorKind.DNS_FAILURE),
    ("network is unreachable", ErrorKind.NETWORK_UNREACHABLE),
    ("no route to host", ErrorKind.NETWORK_UNREACHABLE),
    ("cannot assign requested address", ErrorKind.NETWORK_UNREACHABLE),
    ("no such device", ErrorKind.NETWORK_UNREACHABLE),
    ("interrupt", ErrorKind.INTERRUPTED),
    ("has terminated", ErrorKind.INTERRUPTED),
    ("control socket has closed", ErrorKind.INTERRUPTED),
    ("connection reset", ErrorKind.INTERRUPTED),
    ("unable to receive", ErrorKind.INTERRUPTED),
    ("unable to send", ErrorKind.INTERRUPTED),
)
_USEC_PER_MS: Final = 1000.0
# The first iperf3 release whose UDP output has end.sum_received (the receiver's totals).
_UDP_RECEIVER_SUMS: Final = (3, 11)
_TIMEOUT_MARGIN_S: Final = 15.0


def classify_iperf3_error(message: str) -> ErrorKind:
    """Name the error kind of an iperf3 ``"error"`` text (`tool_error` when not recognised).

    >>> classify_iperf3_error("error - unable to connect to server: Connection refused")
    <ErrorKind.CONNECTION_REFUSED: 'connection_refused'>
    """
    lowered = message.lower()
    for needle, kind in _ERROR_PATTERNS:
        if needle in lowered:
            return kind
    return ErrorKind.TOOL_ERROR


@dataclass(frozen=True, slots=True)
class Iperf3Result:
    """The numbers of one iperf3 run; rates are None when the run produced none."""

    tool_version: str | None
    protocol: str | None
    reverse: bool
    num_streams: int | None
    received_bps: float | None
    sent_bps: float | None
    bytes_moved: int
    duration_s: float | None
    retransmits: int | None = None
    mean_rtt_ms: float | None = None
    jitter_ms: float | None = None
    lost_percent: float | None = None
    server: str | None = None
    error: str | None = None
    error_kind: ErrorKind | None = field(default=None)

    @property
    def received_mbps(self) -> float | None:
        return None if self.received_bps is None else self.received_bps / 1e6


def _obj(value: Any, where: str, source: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParseError(f"{where} is {type(value).__name__}, expected an object", source=source)
    return value


def _num(block: dict[str, Any], key: str, where: str, source: str) -> float | None:
    value = block.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParseError(f"{where}.{key} is {value!r}, expected a number", source=source)
    return float(value)


def _mean_rtt_ms(end: dict[str, Any], source: str) -> float | None:
    """Mean of the sender streams' `mean_rtt` (microseconds); zeros mean "not measured here"."""
    rtts = []
    for i, stream in enumerate(end.get("streams") or []):
        sender = _obj(_obj(stream, f"end.streams[{i}]", source).get("sender"), "sender", source)
        rtt = _num(sender, "mean_rtt", f"end.streams[{i}].sender", source)
        if rtt is not None and rtt > 0:
            rtts.append(rtt)
    return sum(rtts) / len(rtts) / _USEC_PER_MS if rtts else None


def _version(text: str | None) -> tuple[int, ...] | None:
    """``"3.17.1"`` -> ``(3, 17, 1)``; None when absent or not dotted numbers.

    >>> _version("3.9"), _version("3.10.1+dfsg"), _version(None)
    ((3, 9), (3, 10, 1), None)
    """
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    return None if m is None else tuple(int(g) for g in m.groups() if g is not None)


def _udp_received(
    end: dict[str, Any], version: tuple[int, ...] | None, source: str
) -> tuple[dict[str, Any], str, float | None, float | None]:
    """(receiver block, its name, received bytes, received bit/s) of a UDP run.

    iperf3 3.11 added ``end.sum_received`` (the receiver's bytes, rate, jitter and loss) to UDP
    output. Before it (3.10.1 and older), ``end.sum`` is the only total and mixes both sides:
    ``bytes`` and ``bits_per_second`` are the *sender's* (its ``total_sent``, the offered load),
    while ``jitter_ms``, ``lost_packets``, ``packets`` and ``lost_percent`` are the receiver's.
    What arrived is then the sender's bytes times the share of datagrams the receiver did not
    count as lost (iperf3's datagrams all have the same size), over the block's seconds.
    """
    received = _obj(end.get("sum_received"), "end.sum_received", source)
    if received or (version is not None and version >= _UDP_RECEIVER_SUMS):
        where = "end.sum_received"
        return (
            received,
            where,
            _num(received, "bytes", where, source),
            _num(received, "bits_per_second", where, source),
        )
    udp_sum = _obj(end.get("sum"), "end.sum", source)
    sent_bytes = _num(udp_sum, "bytes", "end.sum", source)
    packets = _num(udp_sum, "packets", "end.sum", source)
    lost = _num(udp_sum, "lost_packets", "end.sum", source)
    seconds = _num(udp_sum, "seconds", "end.sum", source)
    if sent_bytes is None or not packets or lost is None or not seconds:
        return udp_sum, "end.sum", None, None
    nbytes = sent_bytes * max(packets - lost, 0.0) / packets
    return udp_sum, "end.sum", nbytes, nbytes * 8 / seconds


def parse_iperf3(text: str, *, source: str) -> Iperf3Result:
    """Read one `iperf3 --json` document.

    TCP rate: `end.sum_received` (what arrived, see the module docstring). UDP: the receiver's
    figures, which sit in a different place per version (see `_udp_received`): `end.sum_received`
    for rate, jitter and loss from iperf3 3.11 on; before it, jitter and loss from `end.sum` and the
    rate from `end.sum`'s sender total scaled by the datagrams that arrived. `bytes_moved` is the
    larger of the sent and received totals: one flow counted once, as close as iperf3 gets to what
    the test cost on a metered SIM. The mean RTT averages the sender streams; for a download the
    sender is the server, whose numbers come with ``--get-server-output``.

    A run never yields a measured zero: an interrupted run keeps its partial numbers and its error;
    a run with only an error has none; a run without an error whose receiver reports no bytes (or
    no results at all, e.g. an empty `end`) gets ``error_kind`` `tool_error` and an `error` saying
    what was missing, and no rate. Raises `ParseError` naming `source` for text that is not such
    JSON.

    >>> parse_iperf3('{"start": {"version": "iperf 3.12"}, "end": {}, '
    ...              '"error": "the server is busy running a test. try again later"}',
    ...              source="t").error_kind
    <ErrorKind.SERVER_BUSY: 'server_busy'>
    >>> r = parse_iperf3('{"start": {"version": "iperf 3.12"}, "end": {}}', source="t")
    >>> r.error_kind, r.received_bps
    (<ErrorKind.TOOL_ERROR: 'tool_error'>, None)
    >>> r.error
    'iperf3 reported no error, but its end block is empty: no rate was measured'
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not JSON ({exc.msg})", source=source, line=exc.lineno) from exc
    doc = _obj(doc, "document", source)
    if "start" not in doc and "error" not in doc:
        raise ParseError("no 'start' or 'error' key: not iperf3 --json output", source=source)
    start = _obj(doc.get("start"), "start", source)
    end = _obj(doc.get("end"), "end", source)
    test_start = _obj(start.get("test_start"), "start.test_start", source)
    if test_start.get("bidir"):
        raise ParseError("start.test_start.bidir: bidirectional tests are not supported", source=source)
    error = doc.get("error")
    if error is not None and not isinstance(error, str):
        raise ParseError(f"error is {error!r}, expected text", source=source)
    version_text = start.get("version")
    version_text = re.sub(r"^iperf\s*", "", version_text) if isinstance(version_text, str) else None
    connecting = _obj(start.get("connecting_to"), "start.connecting_to", source)
    protocol = test_start.get("protocol")
    udp = protocol == "UDP"

    sent = _obj(end.get("sum_sent"), "end.sum_sent", source)
    udp_sum = _obj(end.get("sum"), "end.sum", source)
    if udp:
        rate_block, rate_where, received_bytes, received_bps = _udp_received(
            end, _version(version_text), source
        )
    else:
        rate_block, rate_where = _obj(end.get("sum_received"), "end.sum_received", source), "end.sum_received"
        received_bytes = _num(rate_block, "bytes", rate_where, source)
        received_bps = _num(rate_block, "bits_per_second", rate_where, source)
    duration_s = _num(rate_block, "seconds", rate_where, source)
    sent_bytes = _num(sent, "bytes", "end.sum_sent", source) or _num(udp_sum, "bytes", "end.sum", source)
    error_kind = None if error is None else classify_iperf3_error(error)
    if not received_bytes:
        # Nothing arrived, or the receiver's report never came back: no rate, whatever iperf3
        # printed as bits_per_second. Without an error of iperf3's own, say what was missing.
        received_bps = None
        duration_s = _num(sent, "seconds", "end.sum_sent", source) or duration_s
        if error is None:
            moved = f" (the sender sent {sent_bytes:.0f} bytes)" if sent_bytes else ""
            missing = f"{rate_where} has no bytes{moved}" if end else "its end block is empty"
            error = f"iperf3 reported no error, but {missing}: no rate was measured"
            error_kind = ErrorKind.TOOL_ERROR
    totals = [sent_bytes or 0.0, received_bytes or 0.0]
    retransmits = _num(sent, "retransmits", "end.sum_sent", source)
    rtt_ms = _mean_rtt_ms(end, source)
    if rtt_ms is None and isinstance(doc.get("server_output_json"), dict):
        server_end = _obj(doc["server_output_json"].get("end"), "server_output_json.end", source)
        rtt_ms = _mean_rtt_ms(server_end, source)
    host, port = connecting.get("host"), connecting.get("port")
    return Iperf3Result(
        tool_version=version_text,
        protocol=protocol if isinstance(protocol, str) else None,
        reverse=bool(test_start.get("reverse", 0)),
        num_streams=int(test_start["num_streams"]) if "num_streams" in test_start else None,
        received_bps=received_bps,
        sent_bps=_num(sent or udp_sum, "bits_per_second", "end.sum_sent", source),
        bytes_moved=round(max(totals)),
        duration_s=duration_s,
        retransmits=None if retransmits is None else int(retransmits),
        mean_rtt_ms=rtt_ms,
        jitter_ms=_num(rate_block, "jitter_ms", rate_where, source) if udp and received_bytes else None,
        lost_percent=_num(rate_block, "lost_percent", rate_where, source) if udp and received_bytes else None,
        server=f"{host}:{port}" if host is not None and port is not None else None,
        error=error,
        error_kind=error_kind,
    )


BUSY_DELAYS_S: Final = (1.0, 3.0)


def retry_when_busy(
    attempt: Callable[[], list[Measurement]],
    delays_s: Sequence[float] = BUSY_DELAYS_S,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Measurement]:
    """Run `attempt` again after each of `delays_s` while the server answers "busy".

    An iperf3 server runs one test at a time: a ward's server shared by several probes, or one
    still closing the test a probe has just stopped, refuses the next with ``the server is busy
    running a test``. Giving up at once would record a failure of the network that is none.
    The last attempt's records are returned, with a ``lomsong-retry: ...`` line in `raw` when
    there were retries.

    >>> answers = [ErrorKind.SERVER_BUSY, None]
    >>> from lomsong.probe.runners.base import TestContext
    >>> ctx = TestContext(probe_id="pi-1")
    >>> def attempt():
    ...     return [ctx.measurement(ctx.stamp(), kind=Kind.THROUGHPUT_DOWN, tool="iperf3",
    ...                             error_kind=answers.pop(0), download_mbps=38.0)]
    >>> (m,) = retry_when_busy(attempt, sleep=lambda s: None)
    >>> m.error_kind, m.raw
    (None, 'lomsong-retry: server busy, retried after 1 s')
    """
    waited: list[float] = []
    results = attempt()
    for delay in delays_s:
        if not any(m.error_kind is ErrorKind.SERVER_BUSY for m in results):
            break
        sleep(delay)
        waited.append(delay)
        results = attempt()
    if not waited:
        return results
    note = "lomsong-retry: server busy, retried after " + ", ".join(f"{d:g} s" for d in waited)
    return [m.model_copy(update={"raw": bounded_raw(f"{m.raw}\n{note}" if m.raw else note)})
            for m in results]  # fmt: skip


@dataclass
class Iperf3Runner(Runner):
    """One iperf3 test against a ward-run server, bound to one interface (one modem)."""

    host: str
    port: int = 5201
    duration_s: int = 10
    reverse: bool = False
    udp: bool = False
    udp_rate: str = "10M"
    congestion: str | None = None
    bind_address: str | None = None
    bytes_cap: int | None = None
    connect_timeout_ms: int = 5000
    executable: str = "iperf3"
    command_runner: CommandRunner = field(default_factory=SubprocessRunner)
    busy_delays_s: tuple[float, ...] = BUSY_DELAYS_S
    sleep: Callable[[float], None] = time.sleep
    tool: str = field(default="iperf3", init=False)

    @property
    def kind(self) -> Kind:  # type: ignore[override]
        if self.udp:
            return Kind.UDP_QUALITY
        return Kind.THROUGHPUT_DOWN if self.reverse else Kind.THROUGHPUT_UP

    @property
    def server(self) -> str:  # type: ignore[override]
        return f"{self.host}:{self.port}"

    def argv(self, interface: str | None = None) -> list[str]:
        """The command line; binds to `interface` (SO_BINDTODEVICE) or to `bind_address`."""
        argv = [self.executable, "--json", "-c", self.host, "-p", str(self.port)]
        # iperf3 accepts one end condition only: a byte cap replaces the duration, which then
        # bounds the run through the subprocess timeout.
        if self.bytes_cap is None:
            argv += ["-t", str(self.duration_s)]
        else:
            argv += ["-n", str(self.bytes_cap)]
        if self.reverse:
            argv.append("-R")
            if not self.udp:
                argv.append("--get-server-output")  # the server is the sender: it knows the RTT
        if self.udp:
            argv += ["-u", "-b", self.udp_rate]
        elif self.congestion is not None:
            argv += ["-C", self.congestion]
        if interface is not None:
            argv += ["--bind-dev", interface]
        elif self.bind_address is not None:
            argv += ["-B", self.bind_address]
        argv += ["--connect-timeout", str(self.connect_timeout_ms)]
        return argv

    @property
    def timeout_s(self) -> float:
        return self.duration_s + self.connect_timeout_ms / 1000 + _TIMEOUT_MARGIN_S

    def _start_test(self, ctx: TestContext, stamp: Stamp) -> list[Measurement]:
        return retry_when_busy(lambda: self._attempt(ctx, stamp), self.busy_delays_s, self.sleep)

    def _attempt(self, ctx: TestContext, stamp: Stamp) -> list[Measurement]:
        done = self.command_runner(self.argv(ctx.interface), timeout_s=self.timeout_s)
        raw = bounded_raw(done.stdout)
        if not done.stdout.strip():
            message = done.stderr.strip() or f"iperf3 exited with {done.returncode} and no output"
            return [self.failure(ctx, stamp, classify_iperf3_error(message), message)]
        try:
            result = parse_iperf3(done.stdout, source=f"iperf3 {self.server}")
        except ParseError as exc:
            return [self.failure(ctx, stamp, ErrorKind.PARSE_ERROR, str(exc), raw=raw)]
        return [self.to_measurement(result, ctx, stamp, raw=raw)]

    def to_measurement(
        self, result: Iperf3Result, ctx: TestContext, stamp: Stamp, *, raw: str | None
    ) -> Measurement:
        """The Measurement for a parsed run of this runner."""
        mbps = result.received_mbps
        return ctx.measurement(
            stamp,
            kind=self.kind,
            tool=self.tool,
            tool_version=result.tool_version,
            server=self.server,
            download_mbps=mbps if self.reverse else None,
            upload_mbps=None if self.reverse else mbps,
            rtt_ms=result.mean_rtt_ms,
            jitter_ms=result.jitter_ms,
            loss_pct=result.lost_percent,
            bytes_used=result.bytes_moved,
            duration_s=result.duration_s,
            error_kind=result.error_kind,
            error_message=result.error,
            raw=raw,
        )
