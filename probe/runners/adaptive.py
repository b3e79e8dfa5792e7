"""Early-stopping iperf3 throughput test: watch the live intervals, stop once the answer is clear.

iperf3 runs in text mode (``-i 0.2 -f k --forceflush``, stdout and stderr merged, in order); each
interval line goes through `probe.runners.iperf3_text.parse_line` and the stopping rule of
`probe.runners.early_stop` (read its docstring for the rule itself). When the rule says stop, the
process gets SIGINT: iperf3 then prints its summary (the client's own side only), tells the server
``the client has terminated`` and exits; a persistent server (``iperf3 -s``) goes back to
listening. iperf3 3.12 refuses ``-t`` together with ``-n``: with a byte cap the tool gets ``-n CAP``
(iperf3 enforces it exactly) and the maximum duration is ours; without one it gets ``-t MAX``.
Writes are 16 KiB (``-l 16K``): a sender counts bytes as its socket buffer drains, in chunks, and
smaller writes make the upload's interval rates less lumpy.

The Measurement carries the window estimate as the rate, ``bytes_used`` from iperf3's summary (the
larger of its sender and receiver totals; the sum of the intervals when there is no summary) and
``duration_s`` from the summary (else the last interval's end). A test stopped (by its byte cap)
before the warm-up ended reports the rate over all its intervals, ramp included. `raw` keeps the
tool's output with one last line, ``lomsong-adaptive: ...``, stating why the test stopped and the
estimate's interval.

Example
-------
>>> from probe.runners.early_stop import StopRule
>>> runner = AdaptiveIperf3Runner(host="iperf.invalid", reverse=True, rule=StopRule(threshold_mbps=40))
>>> runner.argv()[:10]
['iperf3', '-c', 'iperf.invalid', '-p', '5201', '-i', '0.2', '-f', 'k', '--forceflush']
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Protocol

from probe.errors import ParseError
from probe.record import ErrorKind, Kind, Measurement, bounded_raw
from probe.runners.base import CommandResult, Runner, Stamp, TestContext
from probe.runners.early_stop import (
    UPLOAD_MIN_WINDOW_S,
    Decision,
    Estimate,
    StopReason,
    StopRule,
    decide,
    estimate,
)
from probe.runners.iperf3 import classify_iperf3_error
from probe.runners.iperf3_text import Interval, parse_iperf3_text, parse_line

__all__ = ["AdaptiveIperf3Runner", "LiveCommandRunner", "LiveSubprocessRunner"]

_STOP_GRACE_S: Final = 5.0
_TIMEOUT_MARGIN_S: Final = 10.0


class LiveCommandRunner(Protocol):
    """Runs one command, handing each output line to `on_line`; when it returns True the command
    is asked to stop (SIGINT) and its remaining output is still collected. Raises
    `FileNotFoundError` when the program is missing."""

    def __call__(
        self, argv: Sequence[str], *, on_line: Callable[[str], bool], timeout_s: float
    ) -> CommandResult: ...


class LiveSubprocessRunner:
    """The real `LiveCommandRunner`: a process whose merged output is read as it comes.

    After `timeout_s` (or once `on_line` asked) the process gets SIGINT; if it has not exited
    `_STOP_GRACE_S` later, it is killed. The result's stderr is empty (merged into stdout).
    """

    def __call__(
        self, argv: Sequence[str], *, on_line: Callable[[str], bool], timeout_s: float
    ) -> CommandResult:
        started = time.monotonic()
        proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        chunks: list[bytes] = []
        pending = b""
        stop_at: float | None = None
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                now = time.monotonic()
                if stop_at is None and now - started >= timeout_s:
                    stop_at = self._interrupt(proc, now)
                if stop_at is not None and now - stop_at >= _STOP_GRACE_S:
                    proc.kill()
                    break
                if not sel.select(timeout=0.05):
                    continue
                data = os.read(fd, 65536)
                if not data:
                    break
                chunks.append(data)
                *lines, pending = (pending + data).split(b"\n")
                for line in lines:
                    if on_line(line.decode("utf-8", "replace")) and stop_at is None:
                        stop_at = self._interrupt(proc, time.monotonic())
        proc.stdout.close()
        returncode = proc.wait(timeout=_STOP_GRACE_S)
        text = b"".join(chunks).decode("utf-8", "replace")
        return CommandResult(returncode, text, "", time.monotonic() - started)

    @staticmethod
    def _interrupt(proc: subprocess.Popen[bytes], now: float) -> float:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        return now


@dataclass
class AdaptiveIperf3Runner(Runner):
    """A TCP iperf3 test that stops by `rule`, bound to one interface (one modem)."""

    host: str
    port: int = 5201
    reverse: bool = False
    rule: StopRule = field(default_factory=StopRule)
    interval_s: float = 0.2
    congestion: str | None = None
    bind_address: str | None = None
    connect_timeout_ms: int = 5000
    executable: str = "iperf3"
    command_runner: LiveCommandRunner = field(default_factory=LiveSubprocessRunner)
    tool: str = field(default="iperf3", init=False)

    @property
    def kind(self) -> Kind:  # type: ignore[override]
        return Kind.THROUGHPUT_DOWN if self.reverse else Kind.THROUGHPUT_UP

    @property
    def server(self) -> str:  # type: ignore[override]
        return f"{self.host}:{self.port}"

    def argv(self, interface: str | None = None) -> list[str]:
        """The command line (text mode, live intervals); see the module docstring."""
        argv = [self.executable, "-c", self.host, "-p", str(self.port)]
        argv += ["-i", f"{self.interval_s:g}", "-f", "k", "--forceflush", "-l", "16K"]
        if self.rule.bytes_cap is None:
            argv += ["-t", f"{max(1, round(self.rule.max_duration_s + 0.5))}"]
        else:
            argv += ["-n", str(self.rule.bytes_cap)]
        if self.reverse:
            argv.append("-R")
        if self.congestion is not None:
            argv += ["-C", self.congestion]
        if interface is not None:
            argv += ["--bind-dev", interface]
        elif self.bind_address is not None:
            argv += ["-B", self.bind_address]
        return [*argv, "--connect-timeout", str(self.connect_timeout_ms)]

    @property
    def timeout_s(self) -> float:
        """When the process is interrupted whatever it printed."""
        return self.rule.max_duration_s + self.connect_timeout_ms / 1000 + _TIMEOUT_MARGIN_S

    @property
    def effective_rule(self) -> StopRule:
        """`rule`, with the longer minimum window of uploads (see `probe.runners.early_stop`)."""
        if self.reverse or self.rule.min_window_s >= UPLOAD_MIN_WINDOW_S:
            return self.rule
        return replace(self.rule, min_window_s=UPLOAD_MIN_WINDOW_S)

    def _start_test(self, ctx: TestContext, stamp: Stamp) -> list[Measurement]:
        rule = self.effective_rule
        intervals: list[Interval] = []
        last: list[Decision] = [Decision(False, None, None)]

        def on_line(line: str) -> bool:
            interval = parse_line(line)
            if interval is None:
                return False
            intervals.append(interval)
            last[0] = decide(intervals, rule)
            return last[0].stop

        done = self.command_runner(self.argv(ctx.interface), on_line=on_line, timeout_s=self.timeout_s)
        try:
            run = parse_iperf3_text(done.stdout, source=f"iperf3 {self.server}")
        except ParseError as exc:
            return [self.failure(ctx, stamp, ErrorKind.PARSE_ERROR, str(exc), raw=bounded_raw(done.stdout))]
        decision = last[0] if last[0].stop else decide(run.intervals, rule)
        est = decision.estimate or estimate(run.intervals, replace(rule, warmup_s=0.0))
        trailer = _trailer(decision.reason, est)
        raw = bounded_raw(done.stdout.rstrip("\n") + "\n" + trailer)
        if est is None or not run.intervals:
            message = run.error or done.stdout.strip()[-300:] or f"iperf3 exited with {done.returncode}"
            kind = run.error_kind or classify_iperf3_error(message)
            return [self.failure(ctx, stamp, kind, message, bytes_used=run.bytes_moved, raw=raw)]
        # An interrupt we asked for is the normal end; any other error stays on the record.
        error = None if run.error is not None and run.error.startswith("interrupt") else run.error
        return [
            ctx.measurement(
                stamp,
                kind=self.kind,
                tool=self.tool,
                download_mbps=est.mbps if self.reverse else None,
                upload_mbps=None if self.reverse else est.mbps,
                bytes_used=run.bytes_moved,
                duration_s=run.duration_s,
                error_kind=None if error is None else (run.error_kind or ErrorKind.TOOL_ERROR),
                error_message=error,
                server=self.server,
                raw=raw,
            )
        ]


def _trailer(stop: StopReason | None, est: Estimate | None) -> str:
    reason = "tool_ended" if stop is None else stop.value
    if est is None:
        return f"lomsong-adaptive: stop={reason} no estimate"
    rel = est.rel_half_width
    width = "n/a" if rel is None else f"{100 * rel:.2f}%"
    return (
        f"lomsong-adaptive: stop={reason} window={est.window_start_s:.2f}-{est.window_end_s:.2f}s "
        f"n={est.n_intervals} estimate={est.mbps:.3f} Mbit/s half-width={width}"
    )
