"""A hard byte cap for tools that cannot limit themselves: meter the process, stop it at the cap.

speedtest-cli moves about 50 MB in each direction on a 40 Mbit/s link (hundreds on a fast one)
and has no option to move less; on a metered SIM that is a lot. `ByteCappedRunner` is a
`probe.runners.base.CommandRunner` that runs the command in its own session, reads the bytes it
has moved every `poll_s` (0.1 s) and stops it (SIGTERM to its process group, SIGKILL after
`grace_s`) as soon as the next poll would pass `bytes_cap` (the last poll's bytes taken again, as in
`probe.runners.early_stop`), raising `ByteCapReached` with what it moved. A run that outlives its
timeout is stopped the same way and raises `MeteredTimeout`, a `subprocess.TimeoutExpired` that
also carries the bytes. If the bytes cannot be read, the command is stopped too (`ToolError`):
the cap is not advisory.

Where the bytes come from. Two per-process sources need no root; both were measured here against
the speedtest stand-in (``../shared/tools/speedtest-standin``):

- ``/proc/PID/io`` ``rchar``/``wchar`` count read()/write() calls only. Python's sockets use
  recv()/send(), which they do not count: during a stand-in run that moved 565 MB, ``rchar`` rose
  by 2.7 MB while the interpreter imported its modules and then stayed flat; ``wchar`` ended at
  458 bytes. Useless for speedtest-cli.
- ``ss -tinpH`` shows, per TCP socket of the process, the kernel's ``bytes_received`` and
  ``bytes_sent`` (``bytes_acked`` less the SYN on kernels before 5.5). `SocketMeter` keeps each
  socket it has seen (by its address pair, so a socket the process has closed but the kernel
  still holds keeps counting) at its largest counts and sums them. On a 40 Mbit/s tbf link
  (network namespaces), polled every 0.1 s, it counted 98.5% of speedtest-cli's own payload
  totals in each direction (47.2 of 47.9 MB down, 48.4 of 49.1 MB up); every 0.25 s, 94.5% down,
  as more short connections open and close between two polls. One ``ss`` call took 6-8 ms.

Interface counters (``/sys/class/net/IF/statistics``) would be exact, headers included, but they
count whatever else uses the interface, and a path need not have one of its own.

So the meter is `SocketMeter`. Its blind spots: a connection that opens and closes between two
polls, and what arrives between the last poll and the stop. On the unshaped loopback (about
8 Gbit/s) connections last milliseconds and it saw only half of what moved; on the links we
measure most connections last long enough to be seen. It counts payload, like the other runners'
``bytes_used``; the carrier also bills IP and TCP headers and the ACKs (4.6% more on a full run).

What the cap achieves on that 40 Mbit/s link: uncapped, speedtest-cli moved 97 MB (101 MB on the
interface). With a 5 MB cap (eight runs) it was stopped after 1.1-1.25 s at 4.5-5.0 MB metered,
5.2-5.9 MB on the interface: headers, the first small downloads' connections that came and went
between polls, and what was in flight at the stop. With a 30 MB cap: 29.6-29.8 MB metered,
31.6-32.8 MB on the interface.

The byte source is a seam: `meter` maps a process id to a callable giving the cumulative
`ByteCount`; tests pass scripted counts.

Example
-------
>>> import sys
>>> run = ByteCappedRunner(bytes_cap=1_000_000, meter=lambda pid: lambda: ByteCount(3_000_000, 0))
>>> try:
...     run([sys.executable, "-c", "import time; time.sleep(30)"], timeout_s=60)
... except ByteCapReached as stop:
...     print(stop.moved.total, stop.duration_s < 5)
3000000 True
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from lomsong.probe.errors import ToolError
from lomsong.probe.runners.base import CommandResult, CommandRunner, SubprocessRunner
from lomsong.probe.runners.tcp_acked import TcpSocket, parse_ss

__all__ = [
    "ByteCapReached",
    "ByteCappedRunner",
    "ByteCount",
    "ByteMeter",
    "MeteredTimeout",
    "SocketMeter",
    "process_tree",
]

_SS_TIMEOUT_S: Final = 2.0


@dataclass(frozen=True, slots=True)
class ByteCount:
    """Bytes a process has moved so far, by direction."""

    received: int = 0
    sent: int = 0

    @property
    def total(self) -> int:
        return self.received + self.sent


ByteMeter = Callable[[], ByteCount]
"""Reads the cumulative bytes moved by the process it was made for."""


class ByteCapReached(Exception):
    """The command was stopped at its byte cap; it left no result of its own."""

    def __init__(
        self, *, bytes_cap: int, moved: ByteCount, duration_s: float, stdout: str, stderr: str
    ) -> None:
        super().__init__(
            f"stopped at its byte cap of {bytes_cap} bytes after moving {moved.total} "
            f"({moved.received} received, {moved.sent} sent)"
        )
        self.bytes_cap = bytes_cap
        self.moved = moved
        self.duration_s = duration_s
        self.stdout = stdout
        self.stderr = stderr


class MeteredTimeout(subprocess.TimeoutExpired):
    """`subprocess.TimeoutExpired` that also says what the command moved before it was stopped."""

    def __init__(
        self,
        argv: Sequence[str],
        timeout_s: float,
        *,
        moved: ByteCount,
        duration_s: float,
        stdout: str,
        stderr: str,
    ) -> None:
        super().__init__(list(argv), timeout_s, output=stdout, stderr=stderr)
        self.moved = moved
        self.duration_s = duration_s


def process_tree(pid: int, proc: Path = Path("/proc")) -> set[int]:
    """`pid` and its living descendants (from ``/proc/PID/task/TID/children``)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        if current in found:
            continue
        found.add(current)
        try:
            tasks = list((proc / str(current) / "task").iterdir())
        except OSError:  # gone already
            continue
        for task in tasks:
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


@dataclass
class SocketMeter:
    """Bytes moved by the TCP sockets of process `pid` and its descendants, read with ``ss``.

    Each call runs ``ss -tinpH``; a socket owned by the process tree is remembered by its address
    pair, and its largest counts so far are summed (module docstring). `ss_command` is the
    program and its leading arguments, e.g. ``("ip", "netns", "exec", "NAME", "ss")`` for a
    process in another network namespace. Raises `ToolError` when ``ss`` cannot be run.
    """

    pid: int
    ss_command: Sequence[str] = ("ss",)
    command_runner: CommandRunner = field(default_factory=SubprocessRunner)
    proc: Path = Path("/proc")
    _seen: dict[tuple[str, str], ByteCount] = field(default_factory=dict, init=False, repr=False)

    def __call__(self) -> ByteCount:
        pids = process_tree(self.pid, self.proc)
        argv = [*self.ss_command, "-tinpH"]
        try:
            done = self.command_runner(argv, timeout_s=_SS_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as exc:
            raise ToolError(f"byte meter: {' '.join(argv)}: {type(exc).__name__}: {exc}") from exc
        if done.returncode != 0:
            raise ToolError(
                f"byte meter: {' '.join(argv)} exited with {done.returncode}: {done.stderr.strip()[:200]}"
            )
        for sock in parse_ss(done.stdout):
            key = (sock.local, sock.peer)
            if key in self._seen or pids.intersection(sock.pids):
                self._seen[key] = _larger(self._seen.get(key, ByteCount()), _counts(sock))
        return ByteCount(
            sum(c.received for c in self._seen.values()), sum(c.sent for c in self._seen.values())
        )


def _counts(sock: TcpSocket) -> ByteCount:
    # ss leaves out a zero counter; bytes_acked counts the SYN as one byte.
    sent = sock.bytes_sent if sock.bytes_sent is not None else max(0, (sock.bytes_acked or 0) - 1)
    return ByteCount(sock.bytes_received or 0, sent)


def _larger(a: ByteCount, b: ByteCount) -> ByteCount:
    return ByteCount(max(a.received, b.received), max(a.sent, b.sent))


@dataclass(frozen=True)
class ByteCappedRunner:
    """A `CommandRunner` that stops its command at `bytes_cap` bytes (module docstring).

    Raises `ByteCapReached` at the cap, `MeteredTimeout` after `timeout_s`, `FileNotFoundError`
    when the program is missing and `ToolError` when the meter fails (the command is stopped
    first in each case).
    """

    bytes_cap: int
    poll_s: float = 0.1
    grace_s: float = 5.0
    meter: Callable[[int], ByteMeter] = SocketMeter

    def __post_init__(self) -> None:
        if self.bytes_cap < 1:
            raise ValueError(f"bytes_cap must be at least 1, got {self.bytes_cap}")

    def __call__(self, argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        started = time.monotonic()
        proc = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: the stop reaches its children too
        )
        moved = ByteCount()
        try:
            read = self.meter(proc.pid)
            while True:
                try:
                    out, err = proc.communicate(timeout=self.poll_s)
                    return CommandResult(proc.returncode, out, err, time.monotonic() - started)
                except subprocess.TimeoutExpired:
                    pass
                before, moved = moved, _larger(moved, read())
                if moved.total + (moved.total - before.total) > self.bytes_cap:
                    out, err = self._stop(proc)
                    moved = self._final(read, moved)
                    raise ByteCapReached(
                        bytes_cap=self.bytes_cap,
                        moved=moved,
                        duration_s=time.monotonic() - started,
                        stdout=out,
                        stderr=err,
                    )
                if time.monotonic() - started >= timeout_s:
                    out, err = self._stop(proc)
                    moved = self._final(read, moved)
                    raise MeteredTimeout(
                        argv,
                        timeout_s,
                        moved=moved,
                        duration_s=time.monotonic() - started,
                        stdout=out,
                        stderr=err,
                    )
        finally:
            if proc.poll() is None:  # the meter failed, or we were interrupted: never leave it running
                self._stop(proc)

    def _stop(self, proc: subprocess.Popen[str]) -> tuple[str, str]:
        """SIGTERM to the process group, SIGKILL after `grace_s`; what it printed."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                return proc.communicate(timeout=self.grace_s)
            except subprocess.TimeoutExpired:
                continue
        # Dead, but a descendant that left the group still holds the pipes: give up the output.
        proc.kill()
        proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        return "", ""

    @staticmethod
    def _final(read: ByteMeter, moved: ByteCount) -> ByteCount:
        """One last reading after the stop: sockets the kernel is still closing have grown."""
        try:
            return _larger(moved, read())
        except ToolError:
            return moved
