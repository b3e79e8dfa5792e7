"""What the receiver has acknowledged: an upload's goodput read from the kernel, not the sender.

An iperf3 client that uploads counts a byte when it writes it into its socket buffer. The buffer
fills in chunks as it drains and grows while TCP autotunes it, so the sender's interval counts
run ahead of what reached the server: recorded here on a 40 Mbit/s link with 20 ms delay and
0.5% loss, a 3-second upload's sender-side rate was 7% above the goodput, and one verdict in three
against 40 Mbit/s was wrong. The kernel knows the truth: ``bytes_acked`` in ``ss -ti`` is what the
server's TCP has acknowledged, i.e. what it received in order, and ``sacked`` (with ``mss``) what
it received beyond a hole left by a loss (`TcpSocket.bytes_delivered`).

`AckedSampler` polls ``ss -tinpH '( dport = :PORT )'`` (6 ms on this machine) every `period_s`
while the test runs, keeps the socket of the iperf3 process with the most acknowledged bytes (the
data stream; the control connection has moved a few hundred bytes), and turns successive samples
of its delivered bytes into `Interval`\\ s, timed from the socket's first sighting, which feed the same
stopping rule (`probe.runners.early_stop`) as iperf3's own intervals. A sample's time is the
midpoint of the ``ss`` call. `ss` runs in the caller's network namespace, like iperf3 itself; it
needs no root to see the caller's own processes.

`parse_ss` is pure. When ``ss`` is missing, fails, or never shows the process's data socket, the
sampler gives nothing and the caller falls back to the sender's counts (and says so).

Example
-------
>>> text = '''ESTAB 0 0 10.77.0.2:40122 10.77.0.1:5201 users:(("iperf3",pid=4242,fd=5))
... \\t cubic rtt:21.2/0.4 bytes_sent:9120000 bytes_acked:9000001 segs_out:6300'''
>>> [(s.pids, s.peer, s.bytes_acked) for s in parse_ss(text)]
[((4242,), '10.77.0.1:5201', 9000001)]
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from lomsong.probe.runners.base import CommandRunner, SubprocessRunner
from lomsong.probe.runners.iperf3_text import Interval

__all__ = ["AckedSampler", "TcpSocket", "parse_ss"]

_STATES: Final = frozenset(
    {"ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "CLOSE-WAIT",
     "LAST-ACK", "CLOSING", "UNCONN", "LISTEN", "CLOSED"}
)  # fmt: skip
_PID: Final = re.compile(r"pid=(\d+)")
_COUNTER: Final = re.compile(r"\b(bytes_sent|bytes_acked|bytes_received|sacked|mss):(\d+)\b")
_SS_TIMEOUT_S: Final = 2.0
_SEEK_PERIOD_S: Final = 0.05
_MAX_SEEK_SAMPLES: Final = 400


@dataclass(frozen=True, slots=True)
class TcpSocket:
    """One TCP socket as ``ss -tinp`` shows it (counters None when the kernel did not print them)."""

    state: str
    local: str
    peer: str
    pids: tuple[int, ...]
    bytes_sent: int | None
    bytes_acked: int | None
    bytes_received: int | None
    sacked: int = 0
    mss: int | None = None

    @property
    def bytes_delivered(self) -> int | None:
        """What the peer has received, in order or not: the cumulatively acknowledged bytes plus
        the segments it acknowledged selectively (SACK) beyond a hole, ``sacked`` x ``mss``.

        After a loss the cumulative ACK stalls for a round trip (more while a queue inflates
        it) and then jumps, while the peer kept receiving: ``bytes_acked`` alone moves in lumps
        as large as a round trip's worth of data, which a window of a second or two cannot
        average out on a lossy link with long round trips.
        """
        if self.bytes_acked is None:
            return None
        return self.bytes_acked + self.sacked * (self.mss or 0)


def parse_ss(text: str) -> list[TcpSocket]:
    """Sockets in ``ss -tinp[H]`` output: a line per socket, its details on the indented line(s).

    A header line (without ``-H``) and lines that are neither are skipped; a socket without
    counters is kept with None (ss prints ``bytes_acked`` only once something was sent).
    """
    sockets: list[TcpSocket] = []
    head: list[str] | None = None
    details: list[str] = []

    def flush() -> None:
        if head is None:
            return
        counters = {name: int(value) for name, value in _COUNTER.findall(" ".join(details))}
        pids = tuple(int(p) for p in _PID.findall(" ".join(head[5:])))
        sockets.append(TcpSocket(
            head[0], head[3], head[4], pids,
            counters.get("bytes_sent"), counters.get("bytes_acked"), counters.get("bytes_received"),
            counters.get("sacked", 0), counters.get("mss"),
        ))  # fmt: skip

    for line in text.splitlines():
        if not line.strip():
            continue
        words = line.split()
        if not line[0].isspace() and words[0] in _STATES and len(words) >= 5:
            flush()
            head, details = words, []
        elif line[0].isspace() and head is not None:
            details.append(line)
    flush()
    return sockets


@dataclass
class AckedSampler:
    """Acknowledged bytes of process `pid`'s data socket to `port`, as intervals (module docstring).

    `poll(pid)` is cheap to call often: it samples only when `period_s` has passed since the last
    sample (every 50 ms until the data socket has shown, so that its first sighting, the origin
    of the intervals, falls near the test's start), and returns True when it added an interval.
    After a failure of ``ss`` itself, `failed` says why and polling stops.
    """

    port: int
    period_s: float = 0.2
    executable: str = "ss"
    command_runner: CommandRunner = field(default_factory=SubprocessRunner)
    clock: Callable[[], float] = time.monotonic
    intervals: list[Interval] = field(default_factory=list, init=False)
    failed: str | None = field(default=None, init=False)
    _origin: float | None = field(default=None, init=False)
    _last: tuple[float, int] | None = field(default=None, init=False)
    _socket: str | None = field(default=None, init=False)
    _seen: dict[str, list[tuple[float, int]]] = field(default_factory=dict, init=False)
    _next_at: float = field(default=0.0, init=False)

    def argv(self) -> list[str]:
        return [self.executable, "-tinpH", f"( dport = :{self.port} )"]

    def poll(self, pid: int) -> bool:
        before = self.clock()
        if self.failed is not None or before < self._next_at:
            return False
        try:
            done = self.command_runner(self.argv(), timeout_s=_SS_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as exc:
            self.failed = f"{self.executable}: {type(exc).__name__}: {exc}"
            return False
        at = (before + self.clock()) / 2
        if done.returncode != 0:
            self.failed = f"{self.executable} exited with {done.returncode}: {done.stderr.strip()[:200]}"
            return False
        added = self._sample(at, [s for s in parse_ss(done.stdout) if pid in s.pids])
        # Until the data socket is known, look often: its first sighting is the test's origin.
        self._next_at = before + (self.period_s if self._socket is not None else _SEEK_PERIOD_S)
        return added

    def _sample(self, at: float, mine: Sequence[TcpSocket]) -> bool:
        if self._socket is None:
            for s in mine:
                seen = self._seen.setdefault(s.local, [])
                if len(seen) < _MAX_SEEK_SAMPLES:
                    seen.append((at, s.bytes_delivered or 0))
            # The data stream is the socket that has moved the most; the control connection
            # stays at a few hundred bytes. Wait until one has clearly started (64 KiB).
            busiest = max(mine, key=lambda s: s.bytes_acked or 0, default=None)
            if busiest is None or (busiest.bytes_acked or 0) < 65_536:
                return False
            self._socket = busiest.local
            first, *rest = self._seen.pop(busiest.local)
            self._seen.clear()
            self._origin, self._last = first[0], first
            return any([self._add(*sample) for sample in rest])
        delivered = next((s.bytes_delivered for s in mine if s.local == self._socket), None)
        return delivered is not None and self._add(at, delivered)

    def _add(self, at: float, delivered: int) -> bool:
        assert self._origin is not None and self._last is not None
        last_at, last = self._last
        if at <= last_at or delivered < last:
            return False
        self._last = (at, delivered)
        moved = delivered - last
        self.intervals.append(
            Interval(last_at - self._origin, at - self._origin, moved, moved * 8 / (at - last_at))
        )
        return True
