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

Uploads are judged on what the server acknowledged, not on what iperf3 wrote: while the test
runs, `probe.runners.tcp_acked.AckedSampler` reads the data socket's ``bytes_acked`` from ``ss``
every interval, and those intervals feed the stopping rule (the sender's counts run ahead of the
goodput as the socket buffer grows). The sender's intervals still enforce the byte cap and the
maximum duration, and take over, with a 2 s window, when ``ss`` is unavailable.

The Measurement carries the estimate (`probe.runners.early_stop`, rule 3: what a fixed 10 s
test would report, its start-up included) as the rate, ``bytes_used`` from iperf3's summary (the
larger of its sender and receiver totals; the sum of the intervals when there is no summary) and
``duration_s`` from the summary (else the last interval's end). A test stopped (by its byte cap)
before the warm-up ended reports the rate over all its intervals, ramp included. `raw` keeps the
tool's output with one last line, ``lomsong-adaptive: ...``, stating why the test stopped, the
estimate's source (``receiver``, ``acked`` or ``sender``), its interval and the congestion
control asked for (``cc=``).

Example
-------
>>> from lomsong.probe.runners.early_stop import StopRule
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

from lomsong.probe.errors import ParseError
from lomsong.probe.record import ErrorKind, Kind, Measurement, bounded_raw
from lomsong.probe.runners.base import (
    CommandResult,
    CommandRunner,
    Runner,
    Stamp,
    SubprocessRunner,
    TestContext,
)
from lomsong.probe.runners.early_stop import (
    UPLOAD_MIN_WINDOW_S,
    Decision,
    Estimate,
    StopReason,
    StopRule,
    decide,
    estimate,
    limit_reached,
)
from lomsong.probe.runners.iperf3 import BUSY_DELAYS_S, classify_iperf3_error, retry_when_busy
from lomsong.probe.runners.iperf3_text import Interval, parse_iperf3_text, parse_line
from lomsong.probe.runners.tcp_acked import AckedSampler

__all__ = ["AdaptiveIperf3Runner", "LiveCommandRunner", "LiveSubprocessRunner"]

_STOP_GRACE_S: Final = 5.0
_ACKED_GRACE_S: Final = 1.0
_TIMEOUT_MARGIN_S: Final = 10.0


class LiveCommandRunner(Protocol):
    """Runs one command, handing each output line to `on_line` and, every few tens of
    milliseconds, the process id to `on_tick`; when either returns True the command is asked to
    stop (SIGINT) and its remaining output is still collected. Raises `FileNotFoundError` when
    the program is missing."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        on_line: Callable[[str], bool],
        timeout_s: float,
        on_tick: Callable[[int], bool] | None = None,
    ) -> CommandResult: ...


class LiveSubprocessRunner:
    """The real `LiveCommandRunner`: a process whose merged output is read as it comes.

    After `timeout_s` (or once `on_line` asked) the process gets SIGINT; if it has not exited
    `_STOP_GRACE_S` later, it is killed. The result's stderr is empty (merged into stdout).
    """

    def __call__(
        self,
        argv: Sequence[str],
        *,
        on_line: Callable[[str], bool],
        timeout_s: float,
        on_tick: Callable[[int], bool] | None = None,
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
                ready = sel.select(timeout=0.05)
                if on_tick is not None and stop_at is None and on_tick(proc.pid):
                    stop_at = self._interrupt(proc, time.monotonic())
                if not ready:
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
    read_acked: bool = True
    ss_executable: str = "ss"
    ss_runner: CommandRunner = field(default_factory=SubprocessRunner)
    clock: Callable[[], float] = time.monotonic
    busy_delays_s: tuple[float, ...] = BUSY_DELAYS_S
    sleep: Callable[[float], None] = time.sleep
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
        return retry_when_busy(lambda: self._attempt(ctx, stamp), self.busy_delays_s, self.sleep)

    def _attempt(self, ctx: TestContext, stamp: Stamp) -> list[Measurement]:
        watch = _Watch(self.rule, self.effective_rule, self._sampler(), uploads=not self.reverse)
        done = self.command_runner(
            self.argv(ctx.interface), on_line=watch.on_line, timeout_s=self.timeout_s,
            on_tick=None if watch.sampler is None else watch.on_tick,
        )  # fmt: skip
        try:
            run = parse_iperf3_text(done.stdout, source=f"iperf3 {self.server}")
        except ParseError as exc:
            return [self.failure(ctx, stamp, ErrorKind.PARSE_ERROR, str(exc), raw=bounded_raw(done.stdout))]
        source, decision, est = watch.result(run.intervals)
        trailer = _trailer(source, decision.reason, est, watch, self.congestion or "system")
        raw = bounded_raw(done.stdout.rstrip("\n") + "\n" + trailer)
        if est is None or not run.intervals:
            message = run.error or done.stdout.strip()[-300:] or f"iperf3 exited with {done.returncode}"
            kind = run.error_kind or classify_iperf3_error(message)
            return [self.failure(ctx, stamp, kind, message, bytes_used=run.bytes_moved, raw=raw)]
        if est.window_mbps <= 0:  # a stalled test is a failure, never a measured (near) 0 Mbit/s
            window = f"{est.window_start_s:.2f}-{est.window_end_s:.2f} s"
            message = f"no bytes arrived in {window}: no rate was measured"
            kind = ErrorKind.TOOL_ERROR
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

    def _sampler(self) -> AckedSampler | None:
        if self.reverse or not self.read_acked:
            return None
        return AckedSampler(
            port=self.port, period_s=self.interval_s, executable=self.ss_executable,
            command_runner=self.ss_runner, clock=self.clock,
        )  # fmt: skip


class _Watch:
    """Follows one test: the intervals iperf3 reports (the receiver's for a download, the
    sender's for an upload) and, for uploads, the receiver-acknowledged intervals of an
    `AckedSampler`; says when to stop and what the estimate is.

    With a sampler, the acknowledged bytes decide "stable and clear" (with `rule`: they are not
    bursty, so the upload window need not be longer), while the reported intervals still enforce
    the byte cap and the maximum duration. The sender's counts take over (with `reported_rule`,
    the longer upload window) when ``ss`` fails or has shown no data socket once iperf3 has
    reported `_ACKED_GRACE_S` of test.
    """

    def __init__(
        self, rule: StopRule, reported_rule: StopRule, sampler: AckedSampler | None, *, uploads: bool
    ) -> None:
        self.rule, self.reported_rule, self.sampler, self.uploads = rule, reported_rule, sampler, uploads
        # The cap counts what iperf3 wrote (the reported intervals), not what was acknowledged.
        self.acked_rule = replace(rule, bytes_cap=None)
        self.reported: list[Interval] = []
        self.reported_decision = Decision(False, None, None)
        self.acked_decision = Decision(False, None, None)

    @property
    def acked(self) -> bool:
        """Whether the acknowledged bytes are (still) the estimate's source."""
        sampler = self.sampler
        if sampler is None or sampler.failed is not None:
            return False
        started = bool(sampler.intervals)
        return started or not self.reported or self.reported[-1].end_s < _ACKED_GRACE_S

    def on_line(self, line: str) -> bool:
        interval = parse_line(line)
        if interval is None:
            return False
        self.reported.append(interval)
        if not self.acked:
            self.reported_decision = decide(self.reported, self.reported_rule)
            return self.reported_decision.stop
        limit = limit_reached(self.reported, self.rule)
        if limit is not None:
            self.reported_decision = Decision(True, limit, None)
        return limit is not None

    def on_tick(self, pid: int) -> bool:
        if self.sampler is None or not self.sampler.poll(pid) or not self.acked:
            return False
        self.acked_decision = decide(self.sampler.intervals, self.acked_rule)
        return self.acked_decision.stop

    def result(self, reported: Sequence[Interval]) -> tuple[str, Decision, Estimate | None]:
        """(source, decision, estimate) once the tool has ended; `reported`: the parsed run's."""
        intervals: Sequence[Interval]
        if self.acked and self.sampler is not None and self.sampler.intervals:
            intervals, rule = self.sampler.intervals, self.acked_rule
            made, source = self.acked_decision, "acked"
        else:
            intervals, rule, made = reported, self.reported_rule, self.reported_decision
            source = "sender" if self.uploads else "receiver"
        decision = made if made.stop else decide(intervals, rule)
        if not decision.stop and self.reported_decision.stop:  # the cap or the clock ended it
            decision = replace(decision, stop=True, reason=self.reported_decision.reason)
        est = decision.estimate or estimate(intervals, replace(rule, warmup_s=0.0))
        return source, decision, est


def _trailer(
    source: str, stop: StopReason | None, est: Estimate | None, watch: _Watch, congestion: str
) -> str:
    reason = "tool_ended" if stop is None else stop.value
    note = f" cc={congestion}"
    if watch.sampler is not None and watch.sampler.failed is not None:
        note += f" ss_failed={watch.sampler.failed!r}"
    if est is None:
        return f"lomsong-adaptive: stop={reason} source={source} no estimate{note}"
    rel = est.rel_half_width
    width = "n/a" if rel is None else f"{100 * rel:.2f}%"
    return (
        f"lomsong-adaptive: stop={reason} source={source} "
        f"window={est.window_start_s:.2f}-{est.window_end_s:.2f}s "
        f"n={est.n_intervals} estimate={est.mbps:.3f} Mbit/s window_mean={est.window_mbps:.3f} Mbit/s "
        f"half-width={width}{note}"
    )
