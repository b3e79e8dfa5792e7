"""The dashboard's surveys: `collector.survey.compute_survey` results cached per (ward, period).

Reading rows and running the analysis take seconds for a month of a ward's data (tens of seconds
for a million measurements), and probes upload all day. So a page gets the last finished survey of
its (ward, period) at once, with the time it was made, while a background worker computes the new
one when the data changed (`collector.storage.fleet.data_version`: new measurements, edited
service points or ward); see `collector.dashboard.refresh.RefreshCache`. Only the first load of a
(ward, period) waits for an analysis, and a page waits for a refresh only when the last analysis
of that key was quick (`wait_below_s`). Periods with many measurements group the cell statistics
in SQL (`compute_survey(in_db=True)`, from `IN_DB_FROM` measurements up).

`load_survey`-style callers read `SurveyCache.fetch` (the survey plus when it was made and
whether a newer one is coming); `SurveyCache.get` returns the survey alone.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any

from psycopg_pool import ConnectionPool

from lomsong.analysis.period import Period
from lomsong.analysis.pipeline import SurveyConfig
from lomsong.collector.dashboard.refresh import Fetched, Pending, RefreshCache
from lomsong.collector.storage.fleet import DataVersion, data_version
from lomsong.collector.storage.scope import Scope
from lomsong.collector.storage.snapshots import load_snapshot, save_snapshot
from lomsong.collector.survey import Survey, compute_survey
from lomsong.collector.survey_snapshot import (
    SnapshotError,
    dump_survey,
    fingerprint,
    load_survey,
    version_to_dict,
)

__all__ = ["IN_DB_FROM", "MAX_DAYS", "NONCE_SLOT", "SLOW_CHECK_S", "AnalysisPending", "Compute",
           "Fetched", "Period", "Survey", "SurveyCache", "parse_period"]

# The dashboard refuses longer periods (a year of a ward's data is the most a page should wait for).
MAX_DAYS = 366
# From this many measurements in the period on, the cell statistics are grouped in SQL and only
# the rows of weak cells and near service points are read (`collector.survey_db`).
IN_DB_FROM = 200_000
# A data-version query slower than this is reused for `SurveyCache`'s `recheck_s` seconds.
SLOW_CHECK_S = 0.5
# Stands for the per-response script nonce in rendered map frames (`pages_map.map_frame` puts
# each response's nonce in its place); random per process, so no stored text can guess it.
NONCE_SLOT = "slot" + secrets.token_hex(16)
log = logging.getLogger(__name__)


class AnalysisPending(Pending):
    """The first analysis of a (ward, period) is being made: since `started_at` (UTC), over
    `measurements` measurements (None: not counted yet), expected to take about `estimate_s`
    seconds in all (from the last analysis made here; None before any)."""

    def __init__(self, started_at: datetime, measurements: int | None,
                 estimate_s: float | None) -> None:
        super().__init__(started_at)
        self.measurements = measurements
        self.estimate_s = estimate_s


def parse_period(first: str | None, last: str | None) -> Period:
    """The period of the ``from`` and ``to`` query values (`analysis.period`'s one meaning)."""
    return Period.parse(first, last, max_days=MAX_DAYS, flags=("from", "to"))


# compute(pool, period, scope, version) -> the survey (tests may wrap `default_compute`).
Compute = Callable[[ConnectionPool, Period, Scope, DataVersion], Survey]


class SurveyCache:
    """Surveys by (ward scope, period), served stale while refreshed; blocking: call it in a
    worker thread.

    Parameters
    ----------
    max_entries : int
        (ward, period) pairs kept in memory.
    config : SurveyConfig, optional
        The ward's thresholds (`Settings.thresholds_file`), for every survey.
    workers : int
        Background analyses running at once.
    wait_below_s : float
        After a data change a page waits for the new survey when the last one took less.
    compute : Compute, optional
        Makes one survey; `SurveyCache.default_compute` unless given.
    recheck_s : float
        The data version is a query over the period's rows (a second for 10M of them): when it
        took `SLOW_CHECK_S` or more, pages of that key reuse it for `recheck_s` seconds (new
        data then show up to that much later); quicker checks run on every page.
    prepare : callable, optional
        ``prepare(new, last)`` runs in the background worker on a refreshed survey before pages
        see it (the dashboard renders again the maps that were asked of the last one).
    first_wait_s : float, optional
        A page waits at most this long for the first analysis of a (ward, period) that is
        neither in memory nor kept: then `AnalysisPending` is raised (the dashboard answers
        with a page that reloads itself) while the analysis goes on. None: the page waits.
    keep_key : str
        Signs the kept analyses (`collector.survey_snapshot`); required with `keep`.
    keep : bool
        Keep every analysis made in the database (`collector.storage.snapshots`, with the map
        frames rendered by then), and serve a (ward, period) that is not in memory from the
        one kept there, made by this analysis code, while the current one is computed: a
        restarted collector, or a key dropped from memory, costs a read, not an analysis.
    """

    def __init__(self, max_entries: int = 4, config: SurveyConfig | None = None, *,
                 workers: int = 1, wait_below_s: float = 2.0,
                 compute: Compute | None = None,
                 prepare: Callable[[Survey, Survey], None] | None = None,
                 recheck_s: float = 15.0, keep: bool = False,
                 first_wait_s: float | None = None, keep_key: str = "") -> None:
        if keep and not keep_key:
            raise ValueError("keeping analyses needs keep_key (they are signed)")
        self._keep_key = keep_key
        self._config = config
        self._first_wait_s = first_wait_s
        self._rate: float | None = None  # seconds per measurement of the last analysis made
        self._keep = keep
        self._fingerprint = fingerprint(config)
        self._pool: ConnectionPool | None = None
        # One thread writes the snapshots (a page never waits for one), one checks whether the
        # kept ones served are still current.
        self._saver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="survey-keep")
        self._checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="survey-check")
        self._max = max_entries
        self._recheck_s = recheck_s
        self._checked: OrderedDict[tuple[Scope, Period], tuple[float, DataVersion]] = \
            OrderedDict()
        self._lock = threading.Lock()
        self._counting: dict[tuple[Scope, Period], DataVersion] = {}
        self._compute = compute or self.default_compute
        self._prepare = prepare
        self.cache: RefreshCache[tuple[Scope, Period], Survey] = RefreshCache(
            max_entries=max_entries, workers=workers, wait_below_s=wait_below_s,
            on_computed=self._computed if keep else None,
            version_of=lambda survey: survey.version)

    def default_compute(self, pool: ConnectionPool, period: Period, scope: Scope,
                        version: DataVersion) -> Survey:
        """`compute_survey` with a connection of `pool`, in SQL for large periods."""
        with pool.connection() as conn:
            return compute_survey(conn, period, version, config=self._config, scope=scope,
                                  in_db=version.measurements >= IN_DB_FROM)

    def fetch(self, pool: ConnectionPool, period: Period, scope: Scope) -> Fetched[Survey]:
        """The survey of `period` in the one ward of `scope`, when it was made, and whether a
        newer one is being computed. Read-only and read-write accounts of a ward share it.

        The first time here a (ward, period) is asked for, the kept analysis is served as it
        is, with no data-version check (a query over the period's rows: seconds at 10M); the
        check, and a refresh when the data changed, follow in the background. Without a kept
        analysis the first computation checks the version itself, so `AnalysisPending` comes
        after `first_wait_s` however slow that check is."""
        scope = replace(scope, write=False)  # what is read does not depend on it
        key = (scope, period)
        self._pool = pool
        if not self.cache.holds(key):
            return self._first(pool, period, scope)
        version = self._version(pool, period, scope)

        def compute() -> Survey:
            return self._compute(pool, period, scope, version)

        def refresh(last: Survey) -> Survey:
            made = compute()
            if self._prepare is not None:
                self._prepare(made, last)
            return made

        fetched = self.cache.get(key, version, compute, refresh=refresh,
                                 wait_s=self._first_wait_s)
        self._learn(fetched)
        return fetched

    def _first(self, pool: ConnectionPool, period: Period, scope: Scope) -> Fetched[Survey]:
        key = (scope, period)
        seen: dict[str, Any] = {}

        def compute() -> Survey:
            version = self._version(pool, period, scope)
            with self._lock:  # what pages waiting for it say (`AnalysisPending.measurements`)
                self._counting[key] = version
            try:
                return self._compute(pool, period, scope, version)
            finally:
                with self._lock:
                    self._counting.pop(key, None)

        def load() -> Fetched[Survey] | None:
            kept = self._load(pool, period, scope) if self._keep else None
            seen["kept"] = kept is not None
            return kept

        try:
            fetched = self.cache.get(key, None, compute, load=load, wait_s=self._first_wait_s)
        except Pending as exc:
            with self._lock:
                version = self._counting.get(key)
            measurements = None if version is None else version.measurements
            estimate = (None if self._rate is None or measurements is None
                        else self._rate * measurements)
            raise AnalysisPending(exc.started_at, measurements, estimate) from None
        if seen.get("kept"):  # is it still current? asked in the background
            with contextlib.suppress(RuntimeError):  # closed meanwhile
                self._checker.submit(self._check, pool, period, scope)
        self._learn(fetched)
        return fetched

    def _check(self, pool: ConnectionPool, period: Period, scope: Scope) -> None:
        """A page's look-up in the background: refreshes (ward, period) if its data changed."""
        try:
            self.fetch(pool, period, scope)
        except Exception:  # logged: the next page checks again
            log.exception("checking the kept analysis of %s failed", period)

    def _learn(self, fetched: Fetched[Survey]) -> None:
        if fetched.value.measurements and not fetched.refreshing:
            self._rate = fetched.took_s / fetched.value.measurements

    def _load(self, pool: ConnectionPool, period: Period, scope: Scope) -> Fetched[Survey] | None:
        """The stored snapshot of (scope, period) made by this analysis code, or None."""
        if scope.city or scope.carrier is not None:
            return None
        with pool.connection() as conn:
            stored = load_snapshot(conn, scope, period, self._fingerprint)
        if stored is None:
            return None
        try:
            survey = load_survey(stored.body, key=self._keep_key, slot=NONCE_SLOT)
        except SnapshotError as exc:
            log.warning("the stored analysis of %s is not readable (%s); computing it",
                        period, exc)
            return None
        return Fetched(survey, survey.version, stored.made_at, stored.took_s, False)

    def _computed(self, key: tuple[Scope, Period], done: Fetched[Survey]) -> None:
        """Keep `done` in the database (in the saver thread) for the next process."""
        scope, period = key
        pool = self._pool
        if pool is None or scope.city or scope.carrier is not None:
            return

        def save() -> None:
            body = dump_survey(done.value, key=self._keep_key, slot=NONCE_SLOT)
            with pool.connection() as conn:
                save_snapshot(conn, scope, period, self._fingerprint,
                              version_to_dict(done.value.version), done.made_at, done.took_s,
                              body)

        def saved(future: Future[None]) -> None:
            if not future.cancelled() and future.exception() is not None:
                log.warning("the analysis of %s was not kept: %s", period, future.exception())

        with contextlib.suppress(RuntimeError):  # shutting down: the next process computes it
            self._saver.submit(save).add_done_callback(saved)

    def keep_rendered(self, period: Period, scope: Scope) -> None:
        """Keep the analysis of (scope, period) again, with the map frames rendered from it
        since (a restarted collector then serves them without drawing them again)."""
        if not self._keep:
            return
        key = (replace(scope, write=False), period)
        for held, fetched in self.cache.snapshot():
            if held == key:
                self._computed(held, fetched)

    def keep_idle(self, timeout_s: float | None = None) -> None:
        """Wait until the snapshots asked for are written (tests, benchmarks)."""
        self._saver.submit(lambda: None).result(timeout=timeout_s)

    def _version(self, pool: ConnectionPool, period: Period, scope: Scope) -> DataVersion:
        key = (scope, period)
        now = time.monotonic()
        with self._lock:
            seen = self._checked.get(key)
        if seen is not None and now - seen[0] < self._recheck_s:
            return seen[1]
        with pool.connection() as conn:
            version = data_version(conn, period.start_utc, period.end_utc, scope)
        with self._lock:
            self._checked.pop(key, None)
            if time.monotonic() - now >= SLOW_CHECK_S:
                self._checked[key] = (now, version)
                while len(self._checked) > self._max:
                    self._checked.popitem(last=False)
        return version

    def get(self, pool: ConnectionPool, period: Period, scope: Scope) -> Survey:
        """`fetch`'s survey alone."""
        return self.fetch(pool, period, scope).value

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        """Wait for the background checks and analyses (tests, benchmarks); False on
        timeout."""
        began = time.monotonic()
        try:
            self._checker.submit(lambda: None).result(timeout=timeout_s)
        except RuntimeError:  # closed
            return True
        except TimeoutError:
            return False
        left = None if timeout_s is None else max(0.0, timeout_s - (time.monotonic() - began))
        return self.cache.wait_idle(left)

    def close(self) -> None:
        """Start no more background analyses (the app's shutdown); snapshots being written
        finish, queued ones are dropped."""
        self.cache.close()
        self._saver.shutdown(wait=False, cancel_futures=True)
        self._checker.shutdown(wait=False, cancel_futures=True)
