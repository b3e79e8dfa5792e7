"""speedtest-cli runner: public speedtest servers (preferring Vietnam), as users experience them.

The parsers live in `probe.runners.speedtest_parse` and are re-exported here. The runner (a
`probe.runners.base.Runner`) calls ``speedtest-cli --json [--server ID] [--source IP]
[--secure]`` with a timeout and turns one run into two Measurements (`throughput_down`,
`throughput_up`). A failed run still yields both, with an `error_kind`: in a dead spot the
failure is the evidence.

speedtest-cli cannot limit what it moves (about 50 MB each way on a 40 Mbit/s link). With
`bytes_cap` set, the run goes through `probe.runners.capped.ByteCappedRunner`, which meters the
process's sockets and stops it at the cap; speedtest-cli then prints nothing, and both
Measurements are failures of kind ``interrupted`` (the tool was cut short, as when iperf3 is
interrupted: about our test, not evidence against the network) carrying the bytes it moved (down:
received, up: sent) and the run's length as `duration_s`. A timed-out capped run records its bytes
the same way. The cap covers the whole run, both directions, as the data budget counts it.

`command` is configurable, so tests (and offline benchmarks) can point it at the local stand-in
wrapper instead of the real speedtest.net servers.

Example
-------
>>> runner = SpeedtestRunner(server_id="17758", timeout_s=90, bytes_cap=20_000_000)
>>> runner.argv()[1:]  # argv[0]: the speedtest-cli installed with lomsong, else the one on PATH
['--json', '--server', '17758']
>>> type(runner.run_command).__name__
'ByteCappedRunner'
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lomsong.probe.errors import ParseError, ToolError
from lomsong.probe.netif import interface_ipv4
from lomsong.probe.record import ErrorKind, Kind, Measurement, bounded_raw
from lomsong.probe.runners.base import CommandRunner, Runner, Stamp, SubprocessRunner, TestContext, tool_path
from lomsong.probe.runners.capped import ByteCappedRunner, ByteCapReached, ByteCount, MeteredTimeout
from lomsong.probe.runners.speedtest_parse import (
    SpeedtestResult,
    parse_ookla_cli_json,
    parse_speedtest_cli_csv,
    parse_speedtest_cli_json,
)

__all__ = [
    "ServerInfo",
    "SpeedtestResult",
    "SpeedtestRunner",
    "choose_servers_vn",
    "parse_ookla_cli_json",
    "parse_server_list",
    "parse_speedtest_cli_csv",
    "parse_speedtest_cli_json",
    "result_legs",
]

_LIST_LINE = re.compile(r"^\s*(\d+)\)\s+(.*)\s+\((.*),\s*([^,()]+)\)\s+\[([\d.]+)\s*km\]\s*$")
_VN_NAMES = frozenset({"vietnam", "viet nam", "việt nam"})
_LIST_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """A speedtest server as listed by ``speedtest-cli --list`` (or its JSON server block)."""

    server_id: str
    sponsor: str
    name: str
    country: str
    cc: str | None = None
    distance_km: float | None = None

    @property
    def in_vietnam(self) -> bool:
        return (self.cc or "").upper() == "VN" or self.country.strip().lower() in _VN_NAMES


def parse_server_list(text: str, source: str = "speedtest-cli --list") -> list[ServerInfo]:
    """Parse ``speedtest-cli --list`` lines such as ``1) Local (Loopback, Vietnam) [0.00 km]``.

    The "Retrieving ..." banner is ignored; any other unexpected line raises `ParseError`.
    """
    servers: list[ServerInfo] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("Retrieving"):
            continue
        match = _LIST_LINE.match(line)
        if match is None:
            raise ParseError(f"not a server line: {line.strip()[:80]!r}", source=source, line=number)
        sid, sponsor, name, country, distance = match.groups()
        servers.append(
            ServerInfo(sid, sponsor.strip(), name.strip(), country.strip(), distance_km=float(distance))
        )
    return servers


def choose_servers_vn(servers: Iterable[ServerInfo], *, limit: int = 5) -> list[ServerInfo]:
    """Servers in Vietnam first (nearest first), then the rest by distance; at most `limit`.

    >>> s = [ServerInfo("9", "X", "Tokyo", "Japan", "JP", 3.0),
    ...      ServerInfo("1", "V", "Hanoi", "Vietnam", None, 9.0)]
    >>> [x.server_id for x in choose_servers_vn(s)]
    ['1', '9']
    """
    far = float("inf")
    ranked = sorted(
        servers,
        key=lambda s: (not s.in_vietnam, s.distance_km if s.distance_km is not None else far),
    )
    return ranked[:limit]


def result_legs(result: SpeedtestResult) -> list[tuple[Kind, dict[str, Any]]]:
    """Measurement fields per measured direction (down, up); a skipped direction is left out."""
    common: dict[str, Any] = {
        "tool": result.tool,
        "server": result.server_label,
        "rtt_ms": result.ping_ms,
        "jitter_ms": result.jitter_ms,
        "loss_pct": result.loss_pct,
    }
    legs: list[tuple[Kind, dict[str, Any]]] = []
    if result.download_mbps is not None:
        legs.append(
            (
                Kind.THROUGHPUT_DOWN,
                {
                    **common,
                    "download_mbps": result.download_mbps,
                    "bytes_used": result.bytes_received,
                    "duration_s": result.download_s,
                },
            )
        )
    if result.upload_mbps is not None:
        legs.append(
            (
                Kind.THROUGHPUT_UP,
                {
                    **common,
                    "upload_mbps": result.upload_mbps,
                    "bytes_used": result.bytes_sent,
                    "duration_s": result.upload_s,
                },
            )
        )
    return legs


_STDERR_KINDS: tuple[tuple[str, ErrorKind], ...] = (
    ("Name or service not known", ErrorKind.DNS_FAILURE),
    ("Temporary failure in name resolution", ErrorKind.DNS_FAILURE),
    ("Network is unreachable", ErrorKind.NETWORK_UNREACHABLE),
    ("Connection refused", ErrorKind.CONNECTION_REFUSED),
    ("timed out", ErrorKind.TIMEOUT),
    ("CERTIFICATE_VERIFY_FAILED", ErrorKind.TLS_FAILURE),
    ("HTTP Error", ErrorKind.HTTP_ERROR),
)


def _classify(stderr: str) -> ErrorKind:
    for needle, kind in _STDERR_KINDS:
        if needle in stderr:
            return kind
    return ErrorKind.TOOL_ERROR


class SpeedtestRunner(Runner):
    """``speedtest-cli --json`` once per `start_test`: a down and an up Measurement.

    `command` is the program and its leading arguments (default ``("speedtest-cli",)``); tests
    pass the offline stand-in, e.g. ``("env", "SPEEDTEST_BASE=http://127.0.0.1:8099", python,
    "run_speedtest_cli.py")``. `run_command` is the subprocess seam from `probe.runners.base`;
    by default a `ByteCappedRunner` when `bytes_cap` is set (an injected `run_command` enforces
    its own cap, if any: `bytes_cap` then only tells the data budget what a run may cost).
    A failed run gives both directions with the same `error_kind`.
    """

    tool = "speedtest-cli"
    kind = Kind.THROUGHPUT_DOWN

    def __init__(
        self,
        *,
        command: Sequence[str] = ("speedtest-cli",),
        timeout_s: float = 120.0,
        server_id: str | None = None,
        source_ip: str | None = None,
        secure: bool = False,
        bytes_cap: int | None = None,
        prefer_vietnam: bool = False,
        run_command: CommandRunner | None = None,
        list_command: CommandRunner | None = None,
    ) -> None:
        command = tuple(command)
        if command[:1] == ("speedtest-cli",):  # the one installed with lomsong, else PATH's
            command = (tool_path("speedtest-cli") or "speedtest-cli", *command[1:])
        self.command = command
        self.timeout_s = timeout_s
        self.server_id = server_id
        self.source_ip = source_ip
        self.secure = secure
        self.bytes_cap = bytes_cap
        self.prefer_vietnam = prefer_vietnam
        if run_command is None:
            run_command = SubprocessRunner() if bytes_cap is None else ByteCappedRunner(bytes_cap)
        self.run_command: CommandRunner = run_command
        self.list_command: CommandRunner = list_command or SubprocessRunner()

    def argv(self, *, server_id: str | None = None, source_ip: str | None = None) -> list[str]:
        """The command line; `server_id` and `source_ip` default to the runner's own."""
        args = [*self.command, "--json"]
        if (server := server_id or self.server_id) is not None:
            args += ["--server", server]
        if (source := source_ip or self.source_ip) is not None:
            args += ["--source", source]
        if self.secure:
            args.append("--secure")
        return args

    def choose_server(self, source_ip: str | None) -> tuple[str | None, str]:
        """The server to test against when none is configured: the nearest in Vietnam from
        ``speedtest-cli --list`` (else the nearest listed), and a line saying why. When the list
        cannot be read, None: speedtest-cli then picks by its own latency test."""
        argv = [*self.command, "--list", *(["--source", source_ip] if source_ip else [])]
        try:
            done = self.list_command(argv, timeout_s=min(self.timeout_s, _LIST_TIMEOUT_S))
            if done.returncode != 0:
                raise ToolError(done.stderr.strip()[-300:] or f"exit code {done.returncode}")
            servers = parse_server_list(done.stdout)
        except (OSError, subprocess.SubprocessError, ToolError, ParseError) as exc:
            return None, f"lomsong-speedtest: server list unavailable ({exc}); speedtest-cli chose"
        best = choose_servers_vn(servers, limit=1)
        if not best:
            return None, "lomsong-speedtest: empty server list; speedtest-cli chose"
        pick = best[0]
        in_vn = sum(s.in_vietnam for s in servers)
        return pick.server_id, (
            f"lomsong-speedtest: server {pick.server_id} ({pick.sponsor}, {pick.name}, {pick.country}) "
            f"chosen from {len(servers)} listed, {in_vn} in Vietnam"
        )

    def _start_test(self, ctx: TestContext, stamp: Stamp) -> list[Measurement]:
        source_ip = self.source_ip
        if source_ip is None and ctx.interface is not None:
            source_ip = interface_ipv4(ctx.interface)
            if source_ip is None:  # a modem without a data session: that is the finding
                return self._failed(ctx, stamp, ErrorKind.NETWORK_UNREACHABLE,
                                    f"{ctx.interface} has no IPv4 address")  # fmt: skip
        server_id, note = self.server_id, ""
        if server_id is None and self.prefer_vietnam:
            server_id, note = self.choose_server(source_ip)
        results = self._run(ctx, stamp, self.argv(server_id=server_id, source_ip=source_ip))
        if not note:
            return results
        return [m.model_copy(update={"raw": bounded_raw(f"{m.raw or ''}\n{note}".lstrip("\n"))})
                for m in results]  # fmt: skip

    def _run(self, ctx: TestContext, stamp: Stamp, argv: list[str]) -> list[Measurement]:
        try:
            done = self.run_command(argv, timeout_s=self.timeout_s)
        except FileNotFoundError as exc:
            return self._failed(ctx, stamp, ErrorKind.TOOL_MISSING, f"{self.command[0]} not found: {exc}")
        except ByteCapReached as stop:
            message = f"speedtest-cli {stop}, in {stop.duration_s:.1f} s; no result"
            raw = bounded_raw(f"{stop.stdout}{stop.stderr}lomsong-capped: {message}")
            return self._failed(
                ctx,
                stamp,
                ErrorKind.INTERRUPTED,
                message,
                moved=stop.moved,
                duration_s=stop.duration_s,
                raw=raw,
            )
        except MeteredTimeout as late:
            return self._failed(
                ctx,
                stamp,
                ErrorKind.TIMEOUT,
                f"speedtest-cli gave no result within {self.timeout_s:g} s",
                moved=late.moved,
                duration_s=late.duration_s,
            )
        except subprocess.TimeoutExpired:
            return self._failed(
                ctx, stamp, ErrorKind.TIMEOUT, f"speedtest-cli gave no result within {self.timeout_s:g} s"
            )
        except ToolError as exc:  # the byte meter failed: the run was stopped rather than left uncapped
            return self._failed(ctx, stamp, ErrorKind.TOOL_ERROR, f"speedtest-cli stopped: {exc}")
        if done.returncode != 0:
            message = done.stderr.strip() or done.stdout.strip() or f"exit code {done.returncode}"
            return self._failed(
                ctx,
                stamp,
                _classify(done.stderr),
                message[-2000:],
                raw=bounded_raw(done.stdout + done.stderr),
            )
        try:
            result = parse_speedtest_cli_json(done.stdout)
        except ParseError as exc:
            return self._failed(ctx, stamp, ErrorKind.PARSE_ERROR, str(exc), raw=bounded_raw(done.stdout))
        legs = result_legs(result)
        if not legs:
            return self._failed(
                ctx,
                stamp,
                ErrorKind.TOOL_ERROR,
                "speedtest-cli measured nothing",
                raw=bounded_raw(done.stdout),
            )
        return [
            ctx.measurement(stamp, kind=kind, raw=bounded_raw(done.stdout), **fields) for kind, fields in legs
        ]

    def _failed(
        self,
        ctx: TestContext,
        stamp: Stamp,
        kind: ErrorKind,
        message: str,
        *,
        moved: ByteCount | None = None,
        **fields: Any,
    ) -> list[Measurement]:
        """Both legs failed; with `moved`, the down leg carries the bytes received, the up leg those sent."""
        down, up = (None, None) if moved is None else (moved.received, moved.sent)
        return [
            ctx.measurement(
                stamp,
                kind=leg,
                tool=self.tool,
                error_kind=kind,
                error_message=message[:2000],
                bytes_used=bytes_used,
                **fields,
            )
            for leg, bytes_used in ((Kind.THROUGHPUT_DOWN, down), (Kind.THROUGHPUT_UP, up))
        ]
