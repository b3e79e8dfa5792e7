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

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

from psycopg_pool import ConnectionPool

from lomsong.analysis.period import Period
from lomsong.analysis.pipeline import SurveyConfig
from lomsong.collector.dashboard.refresh import Fetched, RefreshCache
from lomsong.collector.storage.fleet import DataVersion, data_version
from lomsong.collector.storage.scope import Scope
from lomsong.collector.survey import Survey, compute_survey

__all__ = ["IN_DB_FROM", "MAX_DAYS", "SLOW_CHECK_S", "Compute", "Fetched", "Period", "Survey", "SurveyCache",
           "parse_period"]

# The dashboard refuses longer periods (a year of a ward's data is the most a page should wait for).
MAX_DAYS = 366
# From this many measurements in the period on, the cell statistics are grouped in SQL and only
# the rows of weak cells and near service points are read (`collector.survey_db`).
IN_DB_FROM = 200_000
# A data-version query slower than this is reused for `SurveyCache`'s `recheck_s` seconds.
SLOW_CHECK_S = 0.5


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
    """

    def __init__(self, max_entries: int = 4, config: SurveyConfig | None = None, *,
                 workers: int = 1, wait_below_s: float = 2.0,
                 compute: Compute | None = None,
                 prepare: Callable[[Survey, Survey], None] | None = None,
                 recheck_s: float = 15.0) -> None:
        self._config = config
        self._max = max_entries
        self._recheck_s = recheck_s
        self._checked: OrderedDict[tuple[Scope, Period], tuple[float, DataVersion]] = \
            OrderedDict()
        self._lock = threading.Lock()
        self._compute = compute or self.default_compute
        self._prepare = prepare
        self.cache: RefreshCache[tuple[Scope, Period], Survey] = RefreshCache(
            max_entries=max_entries, workers=workers, wait_below_s=wait_below_s)

    def default_compute(self, pool: ConnectionPool, period: Period, scope: Scope,
                        version: DataVersion) -> Survey:
        """`compute_survey` with a connection of `pool`, in SQL for large periods."""
        with pool.connection() as conn:
            return compute_survey(conn, period, version, config=self._config, scope=scope,
                                  in_db=version.measurements >= IN_DB_FROM)

    def fetch(self, pool: ConnectionPool, period: Period, scope: Scope) -> Fetched[Survey]:
        """The survey of `period` in the one ward of `scope`, when it was made, and whether a
        newer one is being computed. Read-only and read-write accounts of a ward share it."""
        scope = replace(scope, write=False)  # what is read does not depend on it
        version = self._version(pool, period, scope)
        def compute() -> Survey:
            return self._compute(pool, period, scope, version)

        def refresh(last: Survey) -> Survey:
            made = compute()
            if self._prepare is not None:
                self._prepare(made, last)
            return made

        return self.cache.get((scope, period), version, compute, refresh=refresh)

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
        """Wait for the background analyses (tests, benchmarks); False on timeout."""
        return self.cache.wait_idle(timeout_s)

    def close(self) -> None:
        """Start no more background analyses (the app's shutdown)."""
        self.cache.close()
