"""What every runner shares: the test context, the failure path and the subprocess seam.

A runner's public `start_test(ctx)` wraps its own `_start_test(ctx, stamp)` (as in m-lab's
murakami): whatever goes wrong inside becomes a `Measurement` with an `error_kind` and a message,
never silence, because a failed test in a dead spot is evidence.

`CommandRunner` is the seam around `subprocess.run`: `SubprocessRunner` runs the real tool with a
timeout; tests pass a recorded `CommandResult` instead where no real network is the point.

Example
-------
>>> from lomsong.probe.record import ClockState
>>> ctx = TestContext(probe_id="pi-ubnd-01", clock_state=lambda: ClockState.SYNCED,
...                   boot_id=lambda: "b1", monotonic_s=lambda: 12.0)
>>> ctx.stamp().clock
<ClockState.SYNCED: 'synced'>
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from lomsong.probe import clock
from lomsong.probe.errors import ParseError
from lomsong.probe.record import (
    MESSAGE_MAX_CHARS,
    Access,
    Carrier,
    ClockState,
    ErrorKind,
    Kind,
    Measurement,
    PositionSource,
    Setting,
)

__all__ = [
    "CommandResult",
    "CommandRunner",
    "Runner",
    "Stamp",
    "SubprocessRunner",
    "TestContext",
    "error_kind_for",
    "tool_path",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Stamp:
    """When a test started, by the wall clock (with its quality) and by the monotonic clock."""

    measured_at: datetime
    clock: ClockState
    boot_id: str | None
    monotonic_s: float


@dataclass(frozen=True, slots=True)
class TestContext:
    """Who measures, over which path, and where; clock readers are injectable for tests."""

    probe_id: str
    interface: str | None = None
    carrier: Carrier = Carrier.UNKNOWN
    access: Access = Access.UNKNOWN
    plan_down_mbps: float | None = None
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    position_source: PositionSource = PositionSource.NONE
    site_id: str | None = None
    setting: Setting = Setting.UNKNOWN
    clock_state: Callable[[], ClockState] = clock.current_clock_state
    boot_id: Callable[[], str | None] = clock.boot_id
    monotonic_s: Callable[[], float] = clock.monotonic_s
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    __test__ = False  # not a pytest test class, despite the name

    def stamp(self) -> Stamp:
        """Read the clocks at the start of a test."""
        return Stamp(
            measured_at=self.now(),
            clock=self.clock_state(),
            boot_id=self.boot_id(),
            monotonic_s=self.monotonic_s(),
        )

    def measurement(self, stamp: Stamp, *, kind: Kind, tool: str, **fields: Any) -> Measurement:
        """Build a `Measurement` carrying this context, the stamp and the given result fields."""
        base: dict[str, Any] = {
            "probe_id": self.probe_id,
            "measured_at": stamp.measured_at,
            "clock": stamp.clock,
            "boot_id": stamp.boot_id,
            "monotonic_s": stamp.monotonic_s,
            "kind": kind,
            "tool": tool,
            "interface": self.interface,
            "carrier": self.carrier,
            "access": self.access,
            "plan_down_mbps": self.plan_down_mbps,
            "lat": self.lat,
            "lon": self.lon,
            "accuracy_m": self.accuracy_m,
            "position_source": self.position_source,
            "site_id": self.site_id,
            "setting": self.setting,
        }
        base.update(fields)
        return Measurement(**base)


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a finished command left behind."""

    returncode: int
    stdout: str
    stderr: str
    duration_s: float


class CommandRunner(Protocol):
    """Runs one command. Raises `FileNotFoundError` when the program is missing and
    `subprocess.TimeoutExpired` when it outlives `timeout_s`."""

    def __call__(self, argv: Sequence[str], *, timeout_s: float) -> CommandResult: ...


def tool_path(name: str, which: Callable[[str], str | None] = shutil.which) -> str | None:
    """Where the program `name` is: beside this Python first, then on PATH.

    A tool installed with lomsong (speedtest-cli comes with the ``probe`` extra) lives in the
    virtualenv's ``bin``, which is not on PATH when systemd starts ``/opt/lomsong/venv/bin/lomsong``.
    """
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return which(name)


class SubprocessRunner:
    """The real `CommandRunner`: `subprocess.run` with captured text output and a timeout."""

    def __call__(self, argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        started = time.monotonic()
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout_s, check=False)
        return CommandResult(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def error_kind_for(exc: BaseException) -> ErrorKind:
    """Map an exception escaping a runner to the error kind its Measurement carries.

    >>> error_kind_for(FileNotFoundError(2, "No such file", "iperf3"))
    <ErrorKind.TOOL_MISSING: 'tool_missing'>
    """
    if isinstance(exc, FileNotFoundError):
        return ErrorKind.TOOL_MISSING
    if isinstance(exc, subprocess.TimeoutExpired | TimeoutError):
        return ErrorKind.TIMEOUT
    if isinstance(exc, ParseError):
        return ErrorKind.PARSE_ERROR
    return ErrorKind.TOOL_ERROR


def _message(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text[:MESSAGE_MAX_CHARS]


class Runner(ABC):
    """Base of every runner. Subclasses set `tool`, `kind` and `server`, implement `_start_test`."""

    tool: str
    kind: Kind
    server: str | None = None

    def start_test(self, ctx: TestContext) -> list[Measurement]:
        """Run the test; every failure comes back as a Measurement with `error_kind` set."""
        stamp = ctx.stamp()
        try:
            return self._start_test(ctx, stamp)
        except Exception as exc:  # any failure is evidence: record it, never lose it
            logger.warning("%s test failed: %s", self.tool, exc, exc_info=True)
            return [self.failure(ctx, stamp, error_kind_for(exc), _message(exc))]

    @abstractmethod
    def _start_test(self, ctx: TestContext, stamp: Stamp) -> list[Measurement]:
        """Measure once and return the Measurement(s); may raise."""

    def failure(
        self,
        ctx: TestContext,
        stamp: Stamp,
        error_kind: ErrorKind,
        message: str,
        **fields: Any,
    ) -> Measurement:
        """A Measurement for a failed test of this runner's kind."""
        return ctx.measurement(
            stamp,
            kind=self.kind,
            tool=self.tool,
            server=self.server,
            error_kind=error_kind,
            error_message=message[:MESSAGE_MAX_CHARS],
            **fields,
        )
