"""The dashboard's surveys: `collector.survey.compute_survey` results cached per (ward, period, data version).

Reading rows and running the analysis take seconds for a month of a ward's data, so results are
kept in memory (a few periods, least recently used dropped) and computed in a worker thread. The
cache key includes `collector.storage.fleet.data_version`, so new measurements or edited service
points give a new analysis on the next page load.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from psycopg_pool import ConnectionPool

from lomsong.analysis.period import Period
from lomsong.analysis.pipeline import SurveyConfig
from lomsong.collector.storage.fleet import DataVersion, data_version
from lomsong.collector.storage.scope import Scope
from lomsong.collector.survey import Survey, compute_survey

__all__ = ["MAX_DAYS", "Period", "Survey", "SurveyCache", "parse_period"]

# The dashboard refuses longer periods (a year of a ward's data is the most a page should wait for).
MAX_DAYS = 366


def parse_period(first: str | None, last: str | None) -> Period:
    """The period of the ``from`` and ``to`` query values (`analysis.period`'s one meaning)."""
    return Period.parse(first, last, max_days=MAX_DAYS, flags=("from", "to"))


_Key = tuple[Scope, Period, DataVersion]


class SurveyCache:
    """Surveys by (ward scope, period, data version); `get` is blocking: call it in a worker
    thread.

    `config` (the ward's thresholds, `Settings.thresholds_file`) applies to every survey."""

    def __init__(self, max_entries: int = 4, config: SurveyConfig | None = None) -> None:
        self._max = max_entries
        self._config = config
        self._entries: OrderedDict[_Key, Survey] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[_Key, threading.Lock] = {}

    def get(self, pool: ConnectionPool, period: Period, scope: Scope) -> Survey:
        """The survey of `period` in the one ward of `scope`."""
        with pool.connection() as conn:
            version = data_version(conn, period.start_utc, period.end_utc, scope)
        key = (scope, period, version)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:  # one computation per key; others wait for it
            with self._lock:
                if key in self._entries:
                    return self._entries[key]
            with pool.connection() as conn:
                survey = compute_survey(conn, period, version, config=self._config,
                                        scope=scope)
            with self._lock:
                self._entries[key] = survey
                self._computing.pop(key, None)
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
        return survey
