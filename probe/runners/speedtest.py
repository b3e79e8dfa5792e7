"""speedtest-cli runner: public speedtest servers (preferring Vietnam), as users experience them.

The parsers live in `probe.runners.speedtest_parse` and are re-exported here. The runner calls
``speedtest-cli --json [--server ID] [--source IP] [--secure]`` with a timeout and turns one run
into two Measurements (`throughput_down`, `throughput_up`). A failed run still yields both, with
an `error_kind`: in a dead spot the failure is the evidence.

`command` is configurable, so tests (and offline benchmarks) can point it at the local stand-in
wrapper instead of the real speedtest.net servers.

Example
-------
>>> runner = SpeedtestRunner(probe_id="pi-ubnd-01", command=("speedtest-cli",), timeout_s=90)
>>> runner.argv()
['speedtest-cli', '--json']
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from probe.errors import ParseError
from probe.record import Access, Carrier, ErrorKind, Kind, Measurement, Source, bounded_raw
from probe.runners.speedtest_parse import (
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
    "result_measurements",
]

_LIST_LINE = re.compile(r"^\s*(\d+)\)\s+(.*)\s+\((.*),\s*([^,()]+)\)\s+\[([\d.]+)\s*km\]\s*$")
_VN_NAMES = frozenset({"vietnam", "viet nam", "việt nam"})


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
            raise ParseError(
                f"not a server line: {line.strip()[:80]!r}", source=source, line=number
            )
        sid, sponsor, name, country, distance = match.groups()
        servers.append(
            ServerInfo(
                sid, sponsor.strip(), name.strip(), country.strip(), distance_km=float(distance)
            )
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


def result_measurements(
    result: SpeedtestResult,
    *,
    probe_id: str,
    source: Source = Source.PROBE,
    carrier: Carrier = Carrier.UNKNOWN,
    access: Access = Access.UNKNOWN,
    interface: str | None = None,
    raw: str | None = None,
    base_id: uuid.UUID | None = None,
    measured_at: datetime | None = None,
) -> list[Measurement]:
    """One Measurement per measured direction; `base_id` makes ids deterministic (imports)."""
    common: dict[str, Any] = {
        "probe_id": probe_id,
        "source": source,
        "measured_at": measured_at or result.measured_at,
        "tool": result.tool,
        "server": result.server_label,
        "interface": interface or result.interface,
        "carrier": carrier,
        "access": access,
        "rtt_ms": result.ping_ms,
        "jitter_ms": result.jitter_ms,
        "loss_pct": result.loss_pct,
        "raw": bounded_raw(raw),
    }
    legs = (
        (
            Kind.THROUGHPUT_DOWN,
            "download_mbps",
            result.download_mbps,
            result.bytes_received,
            result.download_s,
        ),
        (Kind.THROUGHPUT_UP, "upload_mbps", result.upload_mbps, result.bytes_sent, result.upload_s),
    )
    out: list[Measurement] = []
    for kind, name, value, moved, seconds in legs:
        if value is None:
            continue
        ident = uuid.uuid4() if base_id is None else uuid.uuid5(base_id, kind.value)
        fields = {
            **common,
            "id": ident,
            "kind": kind,
            name: value,
            "bytes_used": moved,
            "duration_s": seconds,
        }
        out.append(Measurement(**fields))
    return out


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


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class SpeedtestRunner:
    """Run speedtest-cli once per `run()` and return its Measurements (down, up).

    `command` is the program (and leading arguments) to call; the real default is
    ``("speedtest-cli",)``, tests pass the stand-in wrapper.
    """

    probe_id: str
    command: Sequence[str] = ("speedtest-cli",)
    timeout_s: float = 120.0
    server_id: str | None = None
    source_ip: str | None = None
    secure: bool = False
    interface: str | None = None
    carrier: Carrier = Carrier.UNKNOWN
    access: Access = Access.UNKNOWN
    env: dict[str, str] | None = None
    now: Callable[[], datetime] = field(default=_utc_now)

    def argv(self) -> list[str]:
        args = [*self.command, "--json"]
        if self.server_id is not None:
            args += ["--server", self.server_id]
        if self.source_ip is not None:
            args += ["--source", self.source_ip]
        if self.secure:
            args.append("--secure")
        return args

    def run(self) -> list[Measurement]:
        started = self.now()
        clock_start = time.monotonic()
        try:
            done = subprocess.run(
                self.argv(),
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                env=self.env,
                check=False,
            )
        except FileNotFoundError as exc:
            return self._failed(
                started, ErrorKind.TOOL_MISSING, f"{self.command[0]} not found: {exc}", None
            )
        except subprocess.TimeoutExpired as exc:
            partial = exc.stdout if isinstance(exc.stdout, str) else None
            return self._failed(
                started,
                ErrorKind.TIMEOUT,
                f"speedtest-cli gave no result within {self.timeout_s:g} s",
                partial,
            )
        elapsed_s = time.monotonic() - clock_start
        if done.returncode != 0:
            message = done.stderr.strip() or done.stdout.strip() or f"exit code {done.returncode}"
            return self._failed(
                started, _classify(done.stderr), message[-2000:], done.stdout + done.stderr
            )
        try:
            result = parse_speedtest_cli_json(done.stdout)
        except ParseError as exc:
            return self._failed(started, ErrorKind.PARSE_ERROR, str(exc)[:2000], done.stdout)
        measurements = result_measurements(
            result,
            probe_id=self.probe_id,
            carrier=self.carrier,
            access=self.access,
            interface=self.interface,
            raw=done.stdout,
            measured_at=started,
        )
        if not measurements:
            return self._failed(
                started,
                ErrorKind.TOOL_ERROR,
                f"speedtest-cli measured nothing in {elapsed_s:.1f} s",
                done.stdout,
            )
        return measurements

    def _failed(
        self, started: datetime, kind: ErrorKind, message: str, raw: str | None
    ) -> list[Measurement]:
        return [
            Measurement(
                probe_id=self.probe_id,
                measured_at=started,
                kind=leg,
                tool="speedtest-cli",
                interface=self.interface,
                carrier=self.carrier,
                access=self.access,
                error_kind=kind,
                error_message=message,
                raw=bounded_raw(raw),
            )
            for leg in (Kind.THROUGHPUT_DOWN, Kind.THROUGHPUT_UP)
        ]
