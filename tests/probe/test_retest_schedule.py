"""Re-test requests on the probe: fetched when online, applied to the named carrier's path inside
the window and within the daily cap, kept across a restart, dropped when they end or the collector
stays silent too long. The scheduler runs on a fake clock (no real sleep)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import httpx
import pytest

from lomsong.probe.config import ProbeConfig, parse_config
from lomsong.probe.record import Measurement
from lomsong.probe.retest import RetestPlanner, parse_schedule, retest_state_path
from lomsong.probe.scheduler import Scheduler
from lomsong.probe.spool import Spool
from lomsong.probe.uploader import CollectorClient, UploadReport

CONFIG = """
[probe]
id = "pi-1"
[collector]
url = "http://c.invalid"
token = "s3cret-token"
[schedule]
tests_per_day = 48
peak_min_tests = 0
{quiet}
[retest]
max_extra_per_day = {cap}
refresh_s = 900
offline_keep_h = {keep}
[[path]]
name = "viettel-4g"
carrier = "viettel"
access = "4g"
iperf3 = "i.invalid"
[[path]]
name = "vnpt-4g"
carrier = "vnpt"
access = "4g"
iperf3 = "i.invalid"
"""
START = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 08:00 in Hanoi
WINDOW = (START + timedelta(hours=2), START + timedelta(hours=6))


def _cfg(cap: int = 100, keep: float = 24, quiet: str = "") -> ProbeConfig:
    return parse_config(CONFIG.format(cap=cap, keep=keep, quiet=quiet), source="t")


def _body(*, carrier: str = "viettel", window: tuple[datetime, datetime] = WINDOW, every_min: int = 10,
          cap: int = 72) -> dict[str, object]:
    return {"generated_at": START.isoformat(), "retests": [{
        "case_id": 3, "carrier": carrier, "access": "4g", "starts_at": window[0].isoformat(),
        "ends_at": window[1].isoformat(), "every_min": every_min, "max_extra_per_day": cap}]}


class FakeClock:
    def __init__(self, start: datetime, stop_after: datetime) -> None:
        self.t, self.stop_after = start, stop_after

    def now(self) -> datetime:
        return self.t

    def wait(self, seconds: float) -> bool:
        assert seconds >= 0
        self.t += timedelta(seconds=seconds)
        return self.t >= self.stop_after


class Collector:
    """Answers the schedule (or nothing, while `online` is False) and counts the questions."""

    def __init__(self, body: object) -> None:
        self.body, self.online, self.asked = body, True, 0

    def __call__(self) -> object:
        self.asked += 1
        return self.body if self.online else None


def _run(cfg: ProbeConfig, tmp_path: Path, make: Callable[..., Measurement], fetch: Callable[[], object],
         *, start: datetime = START, hours: float = 10,
         seed: int = 5) -> tuple[list[tuple[str, datetime]], Scheduler]:
    clock = FakeClock(start, start + timedelta(hours=hours))
    runs: list[tuple[str, datetime]] = []

    def measure(path: object) -> list[Measurement]:
        runs.append((getattr(path, "name", ""), clock.now()))
        clock.t += timedelta(seconds=20)  # a test takes time
        return [make(measured_at=clock.now(), probe_id="pi-1")]

    planner = RetestPlanner(cfg.retest, cfg.schedule, retest_state_path(tmp_path / "s.sqlite3"), fetch)
    with Spool(tmp_path / "s.sqlite3") as spool:
        scheduler = Scheduler(cfg, spool, measure, UploadReport, clock.now, clock.wait,
                              rng=random.Random(seed), retest=planner)
        scheduler.run()
    return runs, scheduler


def _gaps_min(runs: list[tuple[str, datetime]], name: str, since: datetime,
              until: datetime) -> list[float]:
    times = [at for n, at in runs if n == name and since <= at < until]
    return [(b - a).total_seconds() / 60 for a, b in pairwise(times)]


def test_extra_tests_happen_in_the_window_on_the_carriers_path_and_stop_after(
        tmp_path: Path, make_measurement: Callable[..., Measurement]) -> None:
    collector = Collector(_body())
    runs, scheduler = _run(_cfg(), tmp_path, make_measurement, collector)
    start, end = WINDOW
    inside = _gaps_min(runs, "viettel-4g", start, end)
    assert len(inside) >= 20 and max(inside) <= 11.5  # every 10 min (x 0.9-1.1, plus the test's 20 s)
    before = _gaps_min(runs, "viettel-4g", START, start)
    after = _gaps_min(runs, "viettel-4g", end + timedelta(minutes=45), START + timedelta(hours=10))
    assert before and after and min(before + after) >= 14.9  # the normal 15-45 min gaps
    assert min(_gaps_min(runs, "vnpt-4g", START, START + timedelta(hours=10))) >= 14.9  # another carrier
    in_window = sum(start <= at < end for n, at in runs if n == "viettel-4g")
    assert 20 <= scheduler.extra_tests <= in_window
    assert collector.asked >= 10 * 4  # asked about every 15 min while running


def test_the_daily_cap_bounds_the_extra_tests_and_survives_a_restart(
        tmp_path: Path, make_measurement: Callable[..., Measurement]) -> None:
    cfg = _cfg(cap=6)
    collector = Collector(_body())
    _, scheduler = _run(cfg, tmp_path, make_measurement, collector, hours=3)
    assert scheduler.extra_tests == 6  # the probe's cap, not the collector's 72
    state = json.loads(retest_state_path(tmp_path / "s.sqlite3").read_text("utf-8"))
    assert state["extra"] == {"viettel-4g": 6} and len(state["requests"]) == 1
    # A restart with the collector unreachable: the kept request and today's count still hold.
    collector.online = False
    _, again = _run(cfg, tmp_path, make_measurement, collector, start=START + timedelta(hours=3),
                    hours=3)
    assert again.extra_tests == 0  # the cap was already spent today
    planner = RetestPlanner(cfg.retest, cfg.schedule, retest_state_path(tmp_path / "s.sqlite3"))
    assert [r.case_id for r in planner.requests] == [3]
    # The next local day has a fresh allowance, still from the kept request (offline, < 24 h).
    next_day = _cfg(cap=6)
    window = (START, START + timedelta(days=2))
    collector = Collector(_body(window=window))
    _run(next_day, tmp_path, make_measurement, collector, hours=1)  # fetches the longer window
    collector.online = False
    tomorrow = START + timedelta(hours=17)  # 00:00 in Hanoi on the next day
    _, day2 = _run(next_day, tmp_path, make_measurement, collector, start=tomorrow, hours=3)
    assert day2.extra_tests == 6


def test_a_collector_silent_too_long_means_the_normal_schedule(
        tmp_path: Path, make_measurement: Callable[..., Measurement]) -> None:
    cfg = _cfg(keep=1)
    window = (START, START + timedelta(days=2))
    collector = Collector(_body(window=window))
    _, online = _run(cfg, tmp_path, make_measurement, collector, hours=1)
    assert online.extra_tests >= 3
    collector.online = False
    runs, offline = _run(cfg, tmp_path, make_measurement, collector, start=START + timedelta(hours=1),
                         hours=4)
    late = _gaps_min(runs, "viettel-4g", START + timedelta(hours=2, minutes=45), START + timedelta(hours=5))
    assert late and min(late) >= 14.9  # more than 1 h without an answer: back to normal
    assert offline.extra_tests <= 6  # only within the hour after the last answer


def test_no_answer_ever_and_a_cancelled_request_mean_no_extra_tests(
        tmp_path: Path, make_measurement: Callable[..., Measurement]) -> None:
    silent = Collector(None)
    _, scheduler = _run(_cfg(), tmp_path / "a", make_measurement, silent, hours=6)
    assert scheduler.extra_tests == 0 and silent.asked >= 20
    collector = Collector(_body())
    _run(_cfg(), tmp_path / "b", make_measurement, collector, hours=2.5)
    collector.body = {"retests": []}  # the case was judged: the collector cancels
    runs, scheduler = _run(_cfg(), tmp_path / "b", make_measurement, collector,
                           start=START + timedelta(hours=2.5), hours=3)
    assert scheduler.extra_tests == 0
    assert min(_gaps_min(runs, "viettel-4g", START, START + timedelta(hours=6))) >= 14.9


def test_quiet_hours_have_no_extra_tests(
        tmp_path: Path, make_measurement: Callable[..., Measurement]) -> None:
    cfg = _cfg(quiet='quiet_hours = "09:00-12:00"')  # 02:00-05:00 UTC: most of the window
    runs, _ = _run(cfg, tmp_path, make_measurement, Collector(_body()), hours=10)
    quiet = [at for _, at in runs if START + timedelta(hours=1) <= at < START + timedelta(hours=4)]
    assert quiet == []
    inside = _gaps_min(runs, "viettel-4g", START + timedelta(hours=4), WINDOW[1])
    assert inside and max(inside) <= 11.5


@pytest.mark.parametrize("body", [
    {"retests": [{"case_id": 1, "carrier": "viettel", "access": "4g", "every_min": 1,
                  "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-02T00:00:00Z",
                  "max_extra_per_day": 5}]},
    {"retests": [{"case_id": 1, "carrier": "viettel", "access": "4g", "every_min": 10,
                  "starts_at": "2026-12-02T00:00:00Z", "ends_at": "2026-12-01T00:00:00Z",
                  "max_extra_per_day": 5}]},
    {"retests": "everything"},
    ["not", "an", "object"],
])
def test_malformed_schedules_are_refused_and_the_last_list_kept(
        body: object, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="re-test schedule is not valid"):
        parse_schedule(body)
    cfg = _cfg()
    answers = iter([_body(), body])
    planner = RetestPlanner(cfg.retest, cfg.schedule, tmp_path / "r.json", lambda: next(answers))
    planner.refresh(START)
    planner.refresh(START + timedelta(minutes=15))
    assert [r.case_id for r in planner.requests] == [3]


def test_the_client_asks_the_schedule_route_with_the_probes_token() -> None:
    seen: list[httpx.Request] = []

    def collector(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=_body())

    with CollectorClient("http://c.invalid", "s3cret-token", transport=httpx.MockTransport(collector)) as c:
        assert parse_schedule(c.get_schedule())[0].every_min == 10
    assert seen[0].url.path == "/api/v1/probes/schedule"
    assert seen[0].headers["Authorization"] == "Bearer s3cret-token"
    down = httpx.MockTransport(lambda r: httpx.Response(503, json={"detail": "db"}))
    with CollectorClient("http://c.invalid", "s3cret-token", transport=down) as c:
        assert c.get_schedule() is None
