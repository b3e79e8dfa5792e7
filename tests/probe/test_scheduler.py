"""Scheduler: a week simulated on a fake clock (no real sleep): spacing, quiet hours, peak-hour
quota, one failing path, upload backoff, stop."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lomsong.probe.config import ProbeConfig, parse_config
from lomsong.probe.plan import ScheduleSettings
from lomsong.probe.record import Measurement
from lomsong.probe.scheduler import PeakCount, Scheduler, in_window, next_test_at
from lomsong.probe.spool import Spool
from lomsong.probe.uploader import UploadReport

CONFIG = """
[probe]
id = "pi-1"
[collector]
url = "http://c.invalid"
token = "s3cret-token"
[schedule]
tests_per_day = 24
quiet_hours = "23:00-06:00"
peak_hours = "19:00-22:00"
peak_min_tests = 4
[[path]]
name = "viettel-4g"
iperf3 = "i.invalid"
[[path]]
name = "vnpt-4g"
iperf3 = "i.invalid"
tests_per_day = 12
"""


class FakeClock:
    def __init__(self, start: datetime, stop_after: datetime) -> None:
        self.t = start
        self.stop_after = stop_after
        self.waits: list[float] = []

    def now(self) -> datetime:
        return self.t

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.t += timedelta(seconds=seconds)
        return self.t >= self.stop_after


def _run(
    cfg: ProbeConfig,
    tmp_path: Path,
    make: Callable[..., Measurement],
    *,
    days: int = 7,
    fail_path: str | None = None,
    upload_ok: bool = True,
) -> tuple[list[tuple[str, datetime]], Scheduler, int]:
    start = datetime(2026, 11, 1, 17, 0, tzinfo=UTC)  # midnight in Hanoi
    clock = FakeClock(start, start + timedelta(days=days))
    runs: list[tuple[str, datetime]] = []
    uploads = 0

    def measure(path: object) -> list[Measurement]:
        name = getattr(path, "name", "")
        runs.append((name, clock.now()))
        clock.t += timedelta(seconds=20)  # a test takes time
        if name == fail_path:
            raise RuntimeError("modem vanished")
        return [make(measured_at=clock.now(), probe_id="pi-1")]

    def upload() -> UploadReport:
        nonlocal uploads
        uploads += 1
        return UploadReport() if upload_ok else UploadReport(stopped="gave_up", message="down")

    with Spool(tmp_path / "s.sqlite3") as spool:
        scheduler = Scheduler(cfg, spool, measure, upload, clock.now, clock.wait, rng=random.Random(7))
        scheduler.run()
        pending = spool.stats().pending
    assert all(w >= 0 for w in clock.waits)
    return runs, scheduler, uploads if upload_ok else pending


def test_week_of_scheduling(tmp_path: Path, make_measurement: Callable[..., Measurement]) -> None:
    cfg = parse_config(CONFIG, source="t")
    runs, scheduler, uploads = _run(cfg, tmp_path, make_measurement)
    zone = cfg.schedule.zone
    per_path = Counter(name for name, _ in runs)
    assert 6 * 24 <= per_path["viettel-4g"] <= 8 * 24
    # 12 a day spread over 17 active hours gives ~2 in the peak window; the quota of 4 adds ~2.
    assert 7 * 12 <= per_path["vnpt-4g"] <= 7 * 16
    local = [(name, at.astimezone(zone)) for name, at in runs]
    quiet = cfg.schedule.quiet_window
    assert quiet is not None and not [at for _, at in local if in_window(at.time(), quiet)]
    peak = Counter((name, at.date()) for name, at in local if 19 <= at.hour < 22)
    for day in {at.date() for _, at in local}:
        assert peak[("viettel-4g", day)] >= 4 and peak[("vnpt-4g", day)] >= 4, day
    assert uploads == len(runs) == scheduler.tests_run


def test_one_failing_path_does_not_stop_the_other(
    tmp_path: Path, make_measurement: Callable[..., Measurement]
) -> None:
    cfg = parse_config(CONFIG, source="t")
    runs, _, _ = _run(cfg, tmp_path, make_measurement, days=2, fail_path="vnpt-4g")
    names = Counter(name for name, _ in runs)
    assert names["vnpt-4g"] >= 12 and names["viettel-4g"] >= 24


def test_upload_backs_off_and_keeps_records(
    tmp_path: Path, make_measurement: Callable[..., Measurement]
) -> None:
    cfg = parse_config(CONFIG.replace("[schedule]", "[schedule]\nupload_backoff_cap_s = 7200"), source="t")
    runs, scheduler, pending = _run(cfg, tmp_path, make_measurement, days=2, upload_ok=False)
    assert pending == len(runs)  # nothing lost while the collector is away
    assert scheduler.upload_failures < len(runs)  # backed off: not one attempt per test


def test_exponential_spacing_mean() -> None:
    s = ScheduleSettings(spacing="exponential", peak_min_tests=0)
    rng = random.Random(3)
    t = datetime(2026, 11, 2, tzinfo=UTC)
    gaps = []
    for _ in range(2000):
        nxt = next_test_at(t, s, 48, PeakCount(), rng)
        gaps.append((nxt - t).total_seconds())
        t = nxt
    assert 1650 < sum(gaps) / len(gaps) < 1950  # mean 1800 s


def test_stop_before_first_test(tmp_path: Path, make_measurement: Callable[..., Measurement]) -> None:
    cfg = parse_config(CONFIG, source="t")
    with Spool(tmp_path / "s.sqlite3") as spool:
        scheduler = Scheduler(
            cfg, spool, lambda p: pytest.fail("ran"), UploadReport, lambda: datetime.now(UTC),
            lambda s: True,
        )  # fmt: skip
        assert scheduler.run() == 0
