"""The city's per-ward roll-ups: computed here, stored by `collector.storage.rollups`.

A ward's figures on the city page (service points meeting the target, dead spots, weak areas per
carrier, the ward's status and measurement count) come from its analysis
(`collector.survey.compute_survey`, summed up by `analysis.city.ward_summary`). Computing that for
126 wards on every page load does not scale, so each ward's figures are computed once per change
and stored for the kept period kinds (`KINDS`: the last 30 days and the current month):

- ingest, and any change to a ward's service points, outline or thresholds, mark the ward dirty;
- `refresh` recomputes only the wards that are due (dirty, never computed, or stored for an
  earlier period: a new day moves the last 30 days on) and clears the marks it read;
- `city_refresh_forever` runs it in ``lomsong serve`` every ``city_refresh_interval_s`` and when a
  page asks (`kick`); ``lomsong city refresh`` runs it by hand (``--all`` recomputes every ward).

Example
-------
>>> periods = kept_periods(date(2026, 11, 20))
>>> periods["month"].first, periods["month"].last
(datetime.date(2026, 11, 1), datetime.date(2026, 11, 20))
>>> periods["last30"].first
datetime.date(2026, 10, 22)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from fastapi.concurrency import run_in_threadpool
from psycopg_pool import ConnectionPool

from lomsong.analysis.city import ward_status, ward_summary
from lomsong.analysis.period import LOCAL, Period
from lomsong.analysis.pipeline import SurveyConfig
from lomsong.collector.storage.rollups import KINDS, clear_dirty, due_wards, save_rollup
from lomsong.collector.storage.scope import Scope
from lomsong.collector.storage.snapshots import save_snapshot
from lomsong.collector.survey import compute_survey
from lomsong.collector.survey_snapshot import dump_survey, fingerprint, version_to_dict

__all__ = ["KINDS", "RefreshReport", "WardFigures", "city_refresh_forever", "compute_ward",
           "kept_periods", "kick", "kind_of", "refresh"]

log = logging.getLogger(__name__)


def kept_periods(today: date | None = None) -> dict[str, Period]:
    """The periods kept as roll-ups on `today` (local date): kind -> period."""
    today = today or datetime.now(LOCAL).date()
    return {"last30": Period.parse(None, None, today=today),
            "month": Period.parse(today.replace(day=1).isoformat(), None, today=today)}


def kind_of(period: Period, today: date | None = None) -> str | None:
    """The kept kind whose current period is `period`, or None (a period chosen by hand)."""
    for kind, kept in kept_periods(today).items():
        if (kept.first, kept.last) == (period.first, period.last):
            return kind
    return None


@dataclass(frozen=True)
class WardFigures:
    """What the city view shows of one ward for one period."""

    status: str
    measurements: int
    carriers: list[dict[str, Any]]
    data_version: dict[str, Any]
    compute_ms: int


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def compute_ward(conn: psycopg.Connection[Any], ward_code: str, period: Period,
                 config: SurveyConfig | None = None, keep_key: str = "") -> WardFigures:
    """Analyse `period` of the ward and sum it up per carrier (reads the ward's raw rows).

    With `keep_key` (the collector's, `dashboard.snapshot_key`) the analysis itself is kept
    too (`collector.storage.snapshots`): the ward's dashboard then opens this period at once,
    even on a collector that never analysed it."""
    started = time.perf_counter()
    made_at = datetime.now(UTC)
    scope = Scope.ward(ward_code)
    survey = compute_survey(conn, period, config=config, scope=scope)
    if keep_key:
        save_snapshot(conn, scope, period, fingerprint(config), version_to_dict(survey.version),
                      made_at, time.perf_counter() - started,
                      dump_survey(survey, key=keep_key))
    summary = ward_summary(survey.result.scorecards, survey.result.weak_areas)
    carriers = [{k: _jsonable(v) for k, v in r.items()} for r in summary.to_dict("records")]
    version = {k: _jsonable(v) for k, v in asdict(survey.version).items()}
    return WardFigures(ward_status(summary), int(survey.measurements), carriers, version,
                       int((time.perf_counter() - started) * 1000))


@dataclass
class RefreshReport:
    """What one `refresh` did: the wards recomputed, and its duration."""

    refreshed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def __str__(self) -> str:
        failed = f", {len(self.failed)} failed ({', '.join(self.failed[:10])})" if self.failed else ""
        return f"{len(self.refreshed)} ward(s) refreshed in {self.seconds:.1f} s{failed}"


def refresh(conn: psycopg.Connection[Any], scope: Scope, *, config: SurveyConfig | None = None,
            every_ward: bool = False, codes: list[str] | None = None,
            today: date | None = None, keep_key: str = "") -> RefreshReport:
    """Recompute and store the roll-ups of the wards of `scope` that are due (every ward with
    `every_ward`; only those of `codes` when given). `conn` must be in autocommit mode: each
    ward is stored in its own transaction, so a long refresh shows progress and one failing
    ward does not lose the others. `keep_key` keeps each analysis too (`compute_ward`)."""
    started = time.perf_counter()
    periods = kept_periods(today)
    days = {k: (p.first, p.last) for k, p in periods.items()}
    due, marks = due_wards(conn, scope, days)
    if every_ward:
        from lomsong.collector.storage.wards import list_wards

        due = [w.code for w in list_wards(conn, scope)]
    if codes is not None:
        due = [c for c in due if c in set(codes)]
    report = RefreshReport()
    for code in due:
        try:
            figures = {kind: compute_ward(conn, code, period, config, keep_key)
                       for kind, period in periods.items()}
            with conn.transaction():
                for kind, f in figures.items():
                    save_rollup(conn, scope, code, kind, periods[kind].first,
                                periods[kind].last, f.status, f.measurements, f.carriers,
                                f.data_version, f.compute_ms)
                if code in marks:
                    clear_dirty(conn, code, marks[code])
        except Exception as exc:  # one ward's failure (bad thresholds, lost connection) must
            # not stop the others: it stays due and is tried again on the next round
            if conn.closed or conn.broken:
                raise
            log.warning("city roll-ups: ward %s not refreshed: %s", code, exc)
            report.failed.append(code)
            continue
        report.refreshed.append(code)
    report.seconds = time.perf_counter() - started
    return report


def kick(state: Any) -> None:
    """Ask the running background refresh (if any) to run now."""
    event = getattr(state, "city_refresh_event", None)
    if isinstance(event, asyncio.Event):
        event.set()


async def city_refresh_forever(pool: ConnectionPool, interval_s: float,
                               event: asyncio.Event, config: SurveyConfig | None,
                               keep_key: str = "") -> None:
    """Refresh the due wards every `interval_s` or when `event` is set, until cancelled; a
    failed run is logged and retried on the next round."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=interval_s)
        event.clear()

        def once() -> RefreshReport:
            with pool.connection() as conn:  # the pool's connections are in autocommit mode
                return refresh(conn, Scope.all_wards(), config=config, keep_key=keep_key)

        try:
            report = await run_in_threadpool(once)
            if report.refreshed:
                log.info("city roll-ups: %s", report)
        except Exception:  # the loop must outlive any failure (database restarts included)
            log.exception("city roll-ups: refresh failed; trying again next round")
