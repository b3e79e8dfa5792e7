"""The default period analysed before anyone asks: a collector's first page finds it made.

A one-ward deployment's officer opens the dashboard on the last 30 days. `warm_once` asks the
dashboard's `SurveyCache` for that (ward, period) as a page would: the first time it computes
it (or reads the analysis an earlier process kept, `SurveyCache(keep=True)`); after new data it
queues the background refresh. `warm_forever` runs it at the collector's start and then every
``survey_warm_interval_s`` (``lomsong serve``). A city deployment's wards get theirs from the
city roll-ups (`collector.city_rollup`, which keep every ward's last 30 days and month), so
`warm_once` leaves them alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi.concurrency import run_in_threadpool
from psycopg_pool import ConnectionPool

from lomsong.collector.dashboard.survey import AnalysisPending, SurveyCache, parse_period
from lomsong.collector.storage.scope import Scope
from lomsong.collector.storage.wards import list_wards

__all__ = ["warm_forever", "warm_once"]

log = logging.getLogger(__name__)


def warm_once(cache: SurveyCache, pool: ConnectionPool) -> bool:
    """Make (or queue) the analysis of the default period of the one ward; False, doing
    nothing, when the database holds wards (a city deployment)."""
    with pool.connection() as conn:
        if list_wards(conn, Scope.all_wards()):
            return False
    with contextlib.suppress(AnalysisPending):  # a long first analysis goes on by itself
        cache.fetch(pool, parse_period(None, None), Scope.ward(None))
    return True


async def warm_forever(cache: SurveyCache, pool: ConnectionPool, interval_s: float) -> None:
    """`warm_once` now and every `interval_s` until cancelled; failures are logged and the
    next round tries again."""
    while True:
        try:
            await run_in_threadpool(warm_once, cache, pool)
        except Exception:  # the loop must outlive any failure (database restarts included)
            log.exception("analysing the default period in advance failed; trying again later")
        await asyncio.sleep(interval_s)
