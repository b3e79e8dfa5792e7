"""Measurement servers for a city: how many iperf3 servers keep ``server_busy`` rare.

A discrete-event simulation of a city's throughput tests against a pool of N one-test-at-a-time
iperf3 servers. Each probe runs its paths one after the other, each path at the times
`probe.scheduler.next_test_at` draws (48 tests a day, uniform spacing, the quiet and peak hours of
``probe/probe.example.toml``: quiet 23:00-05:30, at least 3 tests in 19:00-22:00); each run is a
download then an upload. A test holds its server for the test's length plus `SETUP_S` (iperf3's
control exchange before and after the data); a busy server answers after `REFUSE_S`. Tests
look for a free server with the probe's own `probe.runners.pool.PoolWalk`; "today" is the
layout before pools: each probe names one server (probes spread evenly over the N servers) and
retries it after 1 s and 3 s (`probe.runners.iperf3.BUSY_DELAYS_S`).

Reported per N, for the tests that start on the second simulated day (local time): the offered
load (server time asked for over N servers' time while tests run, quiet hours excluded), the share
of tests that met a busy server at least once, the share recorded ``server_busy`` with the pool
and with today's layout, and the mean wait for a free server. Then the smallest N whose
``server_busy`` share stays under the target.

Measured here (seed 1, 12 tries in rounds of 4; "today": one server per probe, 2 retries):

- 3 mobile paths per probe, quiet hours 23:00-05:30 (about 355,000 tests a day): N = 8: 52.0%
  server_busy (today 56.6%); 16: 15.0% (31.8%); 24: 1.33% (19.7%); 26: 0.68%, the smallest under
  1%; 30: 0.18%. Without quiet hours (358,000 a day), 20 servers: 0.47%.
- the fixed line too, on the same pool (472,000 tests a day, 10 s tests): 56 servers: 0.79%.
- With random choice a try meets a busy server about as often as the pool is busy (60% at 26).

The city benchmark (``benchmarks/city.py``, issue 16 item 7) calls `pool_table` and `smallest_pool`;
``benchmarks/server_pool_loopback.py`` checks the simulation against real iperf3 servers.

    python benchmarks/server_pool.py [--probes 1260] [--servers 8-24] [--scenario mobile|all]
                                     [--target 0.01] [--seed 1] [--loopback-s 120]
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Final, Protocol
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lomsong.probe.plan import ScheduleSettings, parse_window  # noqa: E402
from lomsong.probe.runners.iperf3 import BUSY_DELAYS_S  # noqa: E402
from lomsong.probe.runners.pool import BusyPolicy, PoolWalk, Server  # noqa: E402
from lomsong.probe.scheduler import PeakCount, next_test_at  # noqa: E402

__all__ = ["CityLoad", "PathLoad", "PoolRow", "Tally", "pool_table", "simulate", "smallest_pool"]

MOBILE_TEST_S: Final = 2.5  # an early-stopping test's longest run (adaptive_max_s)
FIXED_TEST_S: Final = 10.0
SETUP_S: Final = 0.3  # control connection, parameters, data connection, results: ~4-6 RTTs
REFUSE_S: Final = 0.1  # connect, read "busy": ~2 RTTs on a mobile path


class FastSchedule(ScheduleSettings):
    """`ScheduleSettings` whose windows and zone are parsed once (the simulation asks millions of times)."""

    @cached_property
    def zone(self) -> ZoneInfo:  # type: ignore[override]
        return ZoneInfo(self.timezone)

    @cached_property
    def quiet_window(self) -> tuple[time, time] | None:  # type: ignore[override]
        return None if self.quiet_hours is None else parse_window(self.quiet_hours)

    @cached_property
    def peak_window(self) -> tuple[time, time]:  # type: ignore[override]
        return parse_window(self.peak_hours)


SCHEDULE: Final = FastSchedule(quiet_hours="23:00-05:30", peak_hours="19:00-22:00", peak_min_tests=3)
# The simulation starts at 20:00 local on day 0 and counts the tests starting on day 1.
EPOCH: Final = datetime(2026, 11, 1, 13, 0, tzinfo=UTC)
DAY_S: Final = 86_400.0
WINDOW: Final = (4 * 3600.0, 4 * 3600.0 + DAY_S)


class Walk(Protocol):
    def next(self) -> tuple[Server, float] | None: ...

    def busy(self, server: Server) -> None: ...


WalkFor = Callable[[int, random.Random], Walk]


class TodayRetry:
    """Before pools: the probe's one server, tried again after each of `BUSY_DELAYS_S`."""

    def __init__(self, server: Server) -> None:
        self.server, self.tries = server, 0

    def next(self) -> tuple[Server, float] | None:
        if self.tries > len(BUSY_DELAYS_S):
            return None
        wait_s = 0.0 if self.tries == 0 else BUSY_DELAYS_S[self.tries - 1]
        self.tries += 1
        return self.server, wait_s

    def busy(self, server: Server) -> None:
        """Nothing to remember: the same server is tried again."""


class PathLoad(Protocol):
    """One path of a probe: its tests' server time per run, and when its runs are due."""

    durations_s: tuple[float, ...]

    def first(self, rng: random.Random) -> float: ...

    def next_start(self, ended_s: float, rng: random.Random) -> float: ...


@dataclass
class Tally:
    """What the tests starting in the window met; `asked_s`: the server time they asked for."""

    tests: int = 0
    met_busy: int = 0
    server_busy: int = 0
    wait_s: float = 0.0
    asked_s: float = 0.0

    def share(self, count: int) -> float:
        return count / self.tests if self.tests else 0.0


@dataclass(slots=True)
class _Run:
    """A probe's test under way: which path and direction, its walk, when it was due."""

    path: int = 0
    direction: int = 0
    walk: Walk | None = None
    due_s: float = 0.0
    met_busy: bool = False


def simulate(
    probes: Sequence[Sequence[PathLoad]], walk_for: WalkFor, *, window: tuple[float, float],
    refuse_s: float = REFUSE_S, rng: random.Random,
) -> Tally:  # fmt: skip
    """Run every probe's paths until the window ends; tally the tests due inside it."""
    tally = Tally()
    busy_until: dict[Server, float] = {}
    next_at = [[path.first(rng) for path in paths] for paths in probes]
    runs = [_Run() for _ in probes]
    heap: list[tuple[float, int, int, Server | None]] = []  # (time, order, probe, server tried)
    order = 0

    def push(t: float, p: int, server: Server | None) -> None:
        nonlocal order
        order += 1
        heapq.heappush(heap, (t, order, p, server))

    def begin_test(p: int, t: float) -> None:
        run = runs[p]
        run.walk, run.due_s, run.met_busy = walk_for(p, rng), t, False
        step = run.walk.next()
        assert step is not None
        push(t + step[1], p, step[0])

    def end_test(p: int, t: float) -> None:
        run = runs[p]
        path = probes[p][run.path]
        if run.direction + 1 < len(path.durations_s):
            run.direction += 1
            begin_test(p, t)
            return
        next_at[p][run.path] = path.next_start(t, rng)
        push(max(t, min(next_at[p])), p, None)

    for p in range(len(probes)):
        push(min(next_at[p]), p, None)
    while heap:
        t, _, p, server = heapq.heappop(heap)
        if t >= window[1]:
            break
        run = runs[p]
        if server is None:  # the probe starts its most overdue path
            run.path, run.direction = min(range(len(next_at[p])), key=next_at[p].__getitem__), 0
            begin_test(p, t)
            continue
        assert run.walk is not None
        hold_s = probes[p][run.path].durations_s[run.direction]
        counted = window[0] <= run.due_s < window[1]
        if busy_until.get(server, 0.0) > t:
            run.walk.busy(server)
            run.met_busy = True
            step = run.walk.next()
            if step is not None:
                push(t + refuse_s + step[1], p, step[0])
                continue
            if counted:
                tally.tests += 1
                tally.met_busy += 1
                tally.server_busy += 1
                tally.asked_s += hold_s
            end_test(p, t + refuse_s)
            continue
        busy_until[server] = t + hold_s
        if counted:
            tally.tests += 1
            tally.met_busy += run.met_busy
            tally.wait_s += t - run.due_s
            tally.asked_s += hold_s
        end_test(p, t + hold_s)
    return tally


class CityPath:
    """A probe's path as `probe.scheduler.Scheduler` runs it: due at `next_test_at`'s draws."""

    def __init__(self, durations_s: tuple[float, ...], schedule: ScheduleSettings, per_day: float) -> None:
        self.durations_s, self.schedule, self.per_day = durations_s, schedule, per_day
        self.peak = PeakCount()
        self.due = EPOCH

    def _draw(self, at: datetime, rng: random.Random) -> float:
        self.due = next_test_at(at, self.schedule, self.per_day, self.peak, rng)
        return (self.due - EPOCH).total_seconds()

    def first(self, rng: random.Random) -> float:
        return self._draw(EPOCH, rng)

    def next_start(self, ended_s: float, rng: random.Random) -> float:
        self.peak.note(self.due, self.schedule)
        return self._draw(EPOCH + timedelta(seconds=ended_s), rng)


@dataclass(frozen=True)
class CityLoad:
    """The city: `probes` probes, each with `mobile_paths` mobile paths and `fixed_paths` fixed
    lines, `tests_per_day` runs per path (a download and an upload each)."""

    probes: int = 1260
    mobile_paths: int = 3
    fixed_paths: int = 1
    tests_per_day: float = 48.0
    mobile_test_s: float = MOBILE_TEST_S
    fixed_test_s: float = FIXED_TEST_S
    setup_s: float = SETUP_S
    schedule: ScheduleSettings = SCHEDULE

    def build(self) -> list[list[PathLoad]]:
        mobile = (self.mobile_test_s + self.setup_s,) * 2
        fixed = (self.fixed_test_s + self.setup_s,) * 2
        return [
            [CityPath(mobile, self.schedule, self.tests_per_day) for _ in range(self.mobile_paths)]
            + [CityPath(fixed, self.schedule, self.tests_per_day) for _ in range(self.fixed_paths)]
            for _ in range(self.probes)
        ]

    @property
    def active_s(self) -> float:
        """Seconds a day outside the quiet hours."""
        quiet = self.schedule.quiet_window
        if quiet is None:
            return DAY_S
        start, end = (t.hour * 3600 + t.minute * 60 for t in quiet)
        return DAY_S - (end - start) % DAY_S


@dataclass(frozen=True)
class PoolRow:
    servers: int
    tests: int
    offered_load: float
    met_busy: float
    server_busy: float
    today_server_busy: float | None
    mean_wait_s: float


def pool_walks(servers: tuple[Server, ...], policy: BusyPolicy) -> WalkFor:
    """Each test walks the whole pool (`PoolWalk`)."""
    return lambda p, rng: PoolWalk(servers, policy, rng)


def today_walks(servers: tuple[Server, ...]) -> WalkFor:
    """Probe p always uses server p mod N, retried after 1 s and 3 s."""
    return lambda p, rng: TodayRetry(servers[p % len(servers)])


def pool_table(
    city: CityLoad, sizes: Sequence[int], *, policy: BusyPolicy | None = None, seed: int = 1,
    today: bool = True,
) -> list[PoolRow]:  # fmt: skip
    """One row per pool size: the pool's figures and (with `today`) today's ``server_busy`` share."""
    rows = []
    for n in sizes:
        servers = tuple(Server("pool", 5201 + i) for i in range(n))
        pool = simulate(city.build(), pool_walks(servers, policy or BusyPolicy()), window=WINDOW,
                        rng=random.Random(seed))  # fmt: skip
        before = (
            simulate(city.build(), today_walks(servers), window=WINDOW, rng=random.Random(seed))
            if today
            else None
        )
        rows.append(PoolRow(
            servers=n, tests=pool.tests, offered_load=pool.asked_s / (n * city.active_s),
            met_busy=pool.share(pool.met_busy), server_busy=pool.share(pool.server_busy),
            today_server_busy=None if before is None else before.share(before.server_busy),
            mean_wait_s=pool.wait_s / max(1, pool.tests - pool.server_busy),
        ))  # fmt: skip
    return rows


def smallest_pool(rows: Sequence[PoolRow], target: float) -> int | None:
    """The fewest servers whose ``server_busy`` share is below `target` (None: no row is)."""
    return min((r.servers for r in rows if r.server_busy < target), default=None)


def format_table(rows: Sequence[PoolRow]) -> str:
    lines = [
        "| N | tests/day | offered load | met a busy server | server_busy (pool) | server_busy (today) "
        "| mean wait |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        today = "-" if r.today_server_busy is None else f"{100 * r.today_server_busy:.2f}%"
        lines.append(
            f"| {r.servers} | {r.tests:,} | {r.offered_load:.2f} | {100 * r.met_busy:.2f}% | "
            f"{100 * r.server_busy:.3f}% | {today} | {r.mean_wait_s:.2f} s |"
        )
    return "\n".join(lines)


def _sizes(text: str) -> list[int]:
    if "-" in text:
        first, _, rest = text.partition("-")
        last, _, step = rest.partition(":")
        return list(range(int(first), int(last) + 1, int(step or 1)))
    return [int(x) for x in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--probes", type=int, default=1260)
    parser.add_argument("--scenario", choices=("mobile", "all"), default="mobile",
                        help="mobile: the 3 mobile paths on the pool; all: the fixed line too")  # fmt: skip
    parser.add_argument("--servers", type=_sizes, default=_sizes("8-24:2"), help="e.g. 8-24:2 or 8,12,16")
    parser.add_argument("--target", type=float, default=0.01, help="largest server_busy share accepted")
    parser.add_argument("--quiet-hours", default=SCHEDULE.quiet_hours, help='e.g. 23:00-05:30, or "none"')
    parser.add_argument("--tries", type=int, default=BusyPolicy().tries)
    parser.add_argument("--round-size", type=int, default=BusyPolicy().round_size)
    parser.add_argument("--no-today", action="store_true", help="skip the one-server-per-probe column")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--loopback-s", type=float, default=0.0,
                        help="also check the simulation against real iperf3 servers (seconds)")  # fmt: skip
    args = parser.parse_args(argv)
    quiet = None if args.quiet_hours == "none" else args.quiet_hours
    schedule = FastSchedule(
        quiet_hours=quiet, peak_hours=SCHEDULE.peak_hours, peak_min_tests=SCHEDULE.peak_min_tests
    )
    city = CityLoad(probes=args.probes, fixed_paths=0 if args.scenario == "mobile" else 1, schedule=schedule)
    policy = BusyPolicy(tries=args.tries, round_size=args.round_size)
    rows = pool_table(city, args.servers, policy=policy, seed=args.seed, today=not args.no_today)
    print(f"{args.probes} probes, {city.mobile_paths} mobile + {city.fixed_paths} fixed paths, "
          f"{city.tests_per_day:g} runs/day each (down + up), tests of {city.mobile_test_s:g} s / "
          f"{city.fixed_test_s:g} s + {city.setup_s:g} s set-up, quiet hours {quiet or 'none'}, "
          f"{policy.tries} tries in rounds of {policy.round_size}")  # fmt: skip
    print(format_table(rows))
    best = smallest_pool(rows, args.target)
    found = best if best else "none of these sizes"
    print(f"smallest pool with server_busy < {100 * args.target:g}%: {found}")
    if args.loopback_s > 0:
        from benchmarks.server_pool_loopback import check

        return 0 if check(seconds=args.loopback_s).ok else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
