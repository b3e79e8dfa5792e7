"""``lomsong probe run``: test every path forever, randomly spaced, and upload after each test.

Spacing (`next_test_at`, pure): a path with `tests_per_day` gets a mean gap of *active seconds
per day / tests_per_day* (quiet hours excluded), drawn uniformly in 0.5-1.5x the mean (or from an
exponential, a Poisson process), so a fleet of probes never fires at once. A draw landing in the
quiet hours moves to their end plus a random offset. Peak-hour coverage: until a path has had
`peak_min_tests` tests in today's peak window (default 19:00-22:00 local), no gap may exceed the
time left in the window divided by the tests still owed, so the quota is always met.

The loop (`Scheduler.run`) takes its clock and its waiting from the caller: tests drive it with a
fake clock and no real sleep; the CLI waits on an `Event` set by SIGTERM/SIGINT, so a stop request
ends the wait at once (a test under way finishes first, bounded by its own timeout). A path's
failure never stops the others; uploads back off exponentially while the collector is away.

Example
-------
>>> import random
>>> from datetime import UTC, datetime
>>> from lomsong.probe.plan import ScheduleSettings
>>> s = ScheduleSettings(quiet_hours="23:00-06:00", peak_min_tests=0)
>>> now = datetime(2026, 11, 2, 16, 30, tzinfo=UTC)  # 23:30 in Hanoi: quiet
>>> at = next_test_at(now, s, 48, PeakCount(), random.Random(1))
>>> at.astimezone(s.zone).hour
6
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from lomsong.probe.config import PathSettings, ProbeConfig
from lomsong.probe.plan import ScheduleSettings
from lomsong.probe.record import Measurement
from lomsong.probe.spool import Spool
from lomsong.probe.uploader import UploadReport

if TYPE_CHECKING:
    from lomsong.probe.retest import RetestPlanner

__all__ = ["PeakCount", "Scheduler", "in_window", "next_test_at"]

logger = logging.getLogger(__name__)

_MIN_GAP_S = 30.0


def in_window(moment: time, window: tuple[time, time]) -> bool:
    """True when `moment` lies in [start, end), the window possibly wrapping past midnight.

    >>> in_window(time(23, 30), (time(23, 0), time(6, 0)))
    True
    """
    start, end = window
    return start <= moment < end if start < end else moment >= start or moment < end


def _seconds(window: tuple[time, time]) -> float:
    start, end = (t.hour * 3600 + t.minute * 60 + t.second for t in window)
    return float((end - start) % 86_400)


def _window_on(day: date, window: tuple[time, time], zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, window[0], tzinfo=zone)
    end = datetime.combine(day, window[1], tzinfo=zone)
    return start, end if end > start else end + timedelta(days=1)


@dataclass
class PeakCount:
    """Tests a path had in the peak window of local day `day`."""

    day: date | None = None
    done: int = 0

    def note(self, at: datetime, schedule: ScheduleSettings) -> None:
        local = at.astimezone(schedule.zone)
        if not in_window(local.time(), schedule.peak_window):
            return
        if local.date() != self.day:
            self.day, self.done = local.date(), 0
        self.done += 1


def next_test_at(
    now: datetime, schedule: ScheduleSettings, tests_per_day: float, peak: PeakCount, rng: random.Random
) -> datetime:
    """When a path tested at `now` should test next (see the module docstring)."""
    zone = schedule.zone
    quiet = schedule.quiet_window
    mean_s = (86_400.0 - (_seconds(quiet) if quiet else 0.0)) / tests_per_day
    if schedule.spacing == "exponential":
        gap_s = max(_MIN_GAP_S, rng.expovariate(1.0 / mean_s))
    else:
        gap_s = max(_MIN_GAP_S, mean_s * rng.uniform(0.5, 1.5))
    candidate = now + timedelta(seconds=gap_s)
    local = now.astimezone(zone)
    for day in (local.date(), local.date() + timedelta(days=1)):
        start, end = _window_on(day, schedule.peak_window, zone)
        done = peak.done if peak.day == day else 0
        owed = schedule.peak_min_tests - done
        if owed <= 0 or now >= end:
            continue
        slot = (end - max(now, start)) / owed
        if now >= start:
            candidate = min(candidate, now + slot * rng.uniform(0.5, 1.0))
        elif candidate > start:
            candidate = start + slot * rng.uniform(0.0, 1.0)
        break
    if quiet is not None:
        moment = candidate.astimezone(zone)
        if in_window(moment.time(), quiet):
            quiet_day = moment.date() if moment.time() >= quiet[0] else moment.date() - timedelta(days=1)
            _, quiet_end = _window_on(quiet_day, quiet, zone)
            candidate = quiet_end + timedelta(seconds=rng.uniform(0, min(mean_s, 3600.0)))
    return candidate


@dataclass
class _PathState:
    path: PathSettings
    next_at: datetime  # the next test of the normal schedule
    peak: PeakCount = field(default_factory=PeakCount)
    last_at: datetime | None = None  # the last test, normal or extra
    factor: float = 1.0  # spreads re-test gaps (0.9-1.1), drawn after each test


@dataclass
class Scheduler:
    """Runs paths when due, spools their results, uploads; see the module docstring.

    `wait(seconds)` returns True when a stop was requested (then the loop ends). With `retest`
    (the collector's re-test requests, `probe.retest`), a path whose carrier is asked to test more
    often gets extra tests between its normal ones; the normal schedule itself is unchanged.
    """

    cfg: ProbeConfig
    spool: Spool
    measure: Callable[[PathSettings], list[Measurement]]
    upload: Callable[[], UploadReport]
    now: Callable[[], datetime]
    wait: Callable[[float], bool]
    after_upload: Callable[[UploadReport], None] | None = None
    rng: random.Random = field(default_factory=random.Random)
    retest: RetestPlanner | None = None
    tests_run: int = 0
    extra_tests: int = 0
    upload_failures: int = 0
    _upload_not_before: datetime | None = None

    def _states(self) -> list[_PathState]:
        start = self.now()
        schedule = self.cfg.schedule
        states = []
        for path in self.cfg.paths:
            per_day = path.tests_per_day or schedule.tests_per_day
            peak = PeakCount()
            states.append(_PathState(path, next_test_at(start, schedule, per_day, peak, self.rng), peak,
                                     last_at=start))
        return states

    def _due(self, states: list[_PathState], now: datetime) -> tuple[_PathState, datetime, bool]:
        """The path to test next, when, and whether it is an extra (re-test) test."""
        best: tuple[_PathState, datetime, bool] | None = None
        for state in states:
            at, extra = state.next_at, False
            if self.retest is not None and state.last_at is not None:
                more = self.retest.next_extra(state.path, state.last_at, state.factor, now)
                if more is not None and more < at:
                    at, extra = more, True
            if best is None or at < best[1]:
                best = (state, at, extra)
        assert best is not None
        return best

    def run(self) -> int:
        """Loop until `wait` reports a stop; returns the number of path runs done."""
        states = self._states()
        if not states:
            raise ValueError("no [[path]] configured: nothing to schedule")
        schedule = self.cfg.schedule
        while True:
            now = self.now()
            refresh_s = None
            if self.retest is not None:
                self.retest.refresh(now)
                refresh_s = self.retest.refresh_in_s(now)
            state, due, extra = self._due(states, now)
            wait_s = max(0.0, (due - now).total_seconds())
            if self.wait(wait_s if refresh_s is None else min(wait_s, refresh_s)):
                return self.tests_run
            if self.now() < due:
                continue  # woken early (clock step, or time to ask for re-tests): look again
            self._run_path(state.path)
            ran_at = self.now()
            if extra and self.retest is not None:
                self.retest.note_extra(state.path, ran_at)
                self.extra_tests += 1
            else:
                state.peak.note(state.next_at, schedule)
                per_day = state.path.tests_per_day or schedule.tests_per_day
                state.next_at = next_test_at(ran_at, schedule, per_day, state.peak, self.rng)
            state.last_at = ran_at
            if self.retest is not None:
                state.factor = self.rng.uniform(0.9, 1.1)
            self._upload(ran_at)

    def _run_path(self, path: PathSettings) -> None:
        self.tests_run += 1
        try:
            results = self.measure(path)
        except Exception:  # one path's trouble never stops the others
            logger.exception("path %s failed", path.name)
            return
        self.spool.add_many(results)

    def _upload(self, at: datetime) -> None:
        if self._upload_not_before is not None and at < self._upload_not_before:
            return
        try:
            report = self.upload()
        except Exception as exc:
            logger.exception("upload failed")
            report = UploadReport(stopped="error", message=f"{type(exc).__name__}: {exc}")
        if report.ok:
            self.upload_failures, self._upload_not_before = 0, None
        else:
            self.upload_failures += 1
            cap = self.cfg.schedule.upload_backoff_cap_s
            delay = min(cap, 60.0 * 2 ** (self.upload_failures - 1)) * self.rng.uniform(0.5, 1.0)
            self._upload_not_before = at + timedelta(seconds=delay)
            logger.warning(
                "upload stopped (%s): %s; next try in %.0f s", report.stopped, report.message, delay
            )
        if self.after_upload is not None:
            try:
                self.after_upload(report)
            except Exception:
                logger.exception("status report failed")
