"""The city's pages: wards compared (per ward and carrier), a map of the wards coloured by status,
and the choice of the ward the ward pages show (city accounts only).

For the kept periods (the last 30 days, the current month: `collector.city_rollup.KINDS`) the
figures come from the stored per-ward roll-ups (`collector.storage.rollups.read_rollups`), never
from the measurements; each ward says when its figures were computed. A ward never computed yet is
computed once, now; one out of date is shown as stored, marked, and the background refresh asked
to run. Any other period, or a baseline (the residential-group indicator), is computed on request
from each ward's survey, as before (slow for many wards)."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lomsong.analysis.city import SUMMARY_COLUMNS, ward_status, ward_summary
from lomsong.analysis.period import Period, PeriodError
from lomsong.collector.city_rollup import kept_periods, kick, kind_of, refresh
from lomsong.collector.dashboard.pages_cases import local_today
from lomsong.collector.dashboard.pages_map import load_survey, period_of
from lomsong.collector.dashboard.survey import MAX_DAYS
from lomsong.collector.dashboard.web import (
    WARD_SESSION_KEY,
    CsrfChecked,
    CurrentUser,
    Forbidden,
    Lang,
    Page,
    render,
)
from lomsong.collector.deps import PoolDep
from lomsong.collector.indicator import ward_indicator
from lomsong.collector.storage.cases import AskCounts, ask_counts
from lomsong.collector.storage.rollups import WardRollup, read_rollups
from lomsong.collector.storage.scope import Scope
from lomsong.collector.storage.users import UserRow
from lomsong.collector.storage.wards import WardRecord, get_ward_record, list_wards
from lomsong.collector.survey import boundary_frame
from lomsong.maps.city_report import CityWard, build_city_report
from lomsong.maps.citysvg import ward_paths
from lomsong.maps.i18n import translator

__all__ = ["router"]

router = APIRouter(prefix="/city", tags=["dashboard"], include_in_schema=False)
DateQuery = Annotated[str | None, Query(max_length=40)]
FromQuery = Annotated[str | None, Query(alias="from", max_length=40)]
ToQuery = Annotated[str | None, Query(alias="to", max_length=40)]


@dataclass(frozen=True)
class WardRow:
    ward: WardRecord
    status: str
    measurements: int
    carriers: list[dict[str, Any]]
    # From a stored roll-up: when it was computed, for which days, and since when newer data
    # wait for the refresh (None when computed on request).
    computed_at: datetime | None = None
    figures_period: tuple[date, date] | None = None
    outdated_since: datetime | None = None
    # Open and overdue asks per carrier come from the cases' own storage function (cheap, live),
    # added beside these fields; they are not part of the roll-ups.


def _city_user(user: UserRow) -> UserRow:
    if not user.scope.city:
        raise Forbidden("ward")
    return user


def _map(rows: list[WardRow]) -> tuple[str, list[tuple[WardRow, str]]]:
    drawn = [(r, boundary_frame(r.ward.boundary_json, r.ward.name)) for r in rows]
    with_outline = [(r, f) for r, f in drawn if f is not None and not f.empty]
    if not with_outline:
        return "", []
    frame = gpd.GeoDataFrame(geometry=[f.geometry.union_all() for _, f in with_outline],
                             crs=4326)
    box, paths = ward_paths(frame)
    return box, [(r, d) for (r, _), d in zip(with_outline, paths, strict=True)]


def _periods(first: str | None, last: str | None, baseline_from: str | None,
             baseline_to: str | None, lang: str) -> tuple[Period, Period | None] | str:
    """The period and the optional baseline, or why they are not valid (in `lang`)."""
    period = period_of(first, last, lang=lang)
    if isinstance(period, str):
        return period
    if not (baseline_from or baseline_to):
        return period, None
    try:
        return period, Period.parse(baseline_from, baseline_to, max_days=MAX_DAYS,
                                    flags=("baseline_from", "baseline_to"))
    except PeriodError as exc:
        _ = translator(lang)
        return exc.message(_, {"baseline_from": _("Baseline from"),
                               "baseline_to": _("Baseline to")})


def _rollup_row(ward: WardRecord, r: WardRollup, kept: Period) -> WardRow:
    outdated = r.dirty_since
    if outdated is None and (r.period_first, r.period_last) != (kept.first, kept.last):
        outdated = r.computed_at  # a new day: the kept period moved on
    return WardRow(ward, r.status, r.measurements, r.carriers, computed_at=r.computed_at,
                   figures_period=(r.period_first, r.period_last), outdated_since=outdated)


_FIRST_COMPUTE = threading.Lock()


async def _from_rollups(request: Request, user: UserRow, pool: PoolDep,
                        kind: str) -> list[WardRow]:
    """Every ward the account sees, from the stored roll-ups of `kind` (no measurement read,
    except to compute once a ward that has never been computed)."""
    def load() -> tuple[list[WardRecord], dict[str, WardRollup]]:
        with pool.connection() as conn:
            wards = list_wards(conn, user.scope)
            stored = read_rollups(conn, user.scope, kind)
            if all(w.code in stored for w in wards):
                return wards, stored
            from lomsong.collector.dashboard import snapshot_key, survey_config

            # One computation of never-computed wards at a time: visitors who come meanwhile
            # wait for it and read what it stored, instead of computing the same wards again.
            with _FIRST_COMPUTE:
                stored = read_rollups(conn, user.scope, kind)
                missing = [w.code for w in wards if w.code not in stored]
                if missing:
                    settings = request.app.state.settings
                    refresh(conn, user.scope, codes=missing, config=survey_config(settings),
                            keep_key=snapshot_key(settings) if settings.survey_keep else "")
                    stored = read_rollups(conn, user.scope, kind)
            return wards, stored

    wards, stored = await run_in_threadpool(load)
    kept = kept_periods()[kind]
    rows = [_rollup_row(w, stored[w.code], kept) for w in wards if w.code in stored]
    if any(r.outdated_since is not None for r in rows):
        kick(request.app.state)
    return rows


async def _compare(request: Request, user: UserRow, pool: PoolDep, period: Period,
                   baseline: Period | None) -> list[WardRow]:
    """Every ward the account sees, summed up per carrier (`analysis.city`): from the roll-ups
    for a kept period without baseline, else computed now."""
    kind = kind_of(period) if baseline is None else None
    if kind is not None:
        rows = await _from_rollups(request, user, pool, kind)
    else:
        rows = await _computed(request, user, pool, period, baseline)

    def load_asks() -> list[AskCounts]:
        with pool.connection() as conn:  # a case's state is live, never rolled up
            return ask_counts(conn, user.case_scope, local_today())

    counts = await run_in_threadpool(load_asks)
    return [dataclasses.replace(row, carriers=with_asks(
        row.carriers, [c for c in counts if c.ward_code == row.ward.code])) for row in rows]


def with_asks(carriers: list[dict[str, Any]], counts: list[AskCounts]) -> list[dict[str, Any]]:
    """The carriers' rows with their open and overdue asks (`storage.cases.ask_counts`); a
    carrier with asks and no measurements gets a row of its asks alone."""
    by_carrier = {c.carrier: c for c in counts}
    rows = [{**row, "open_asks": by_carrier[row["carrier"]].open if row["carrier"] in by_carrier
             else 0, "overdue_asks": by_carrier[row["carrier"]].overdue
             if row["carrier"] in by_carrier else 0} for row in carriers]
    seen = {row["carrier"] for row in carriers}
    rows += [{**dict.fromkeys(SUMMARY_COLUMNS), "carrier": c.carrier, "open_asks": c.open,
              "overdue_asks": c.overdue} for c in counts if c.carrier not in seen]
    return rows


async def _computed(request: Request, user: UserRow, pool: PoolDep, period: Period,
                    baseline: Period | None) -> list[WardRow]:
    """Every ward the account sees, each ward's survey computed (or taken from the cache)."""
    def load() -> list[WardRecord]:
        with pool.connection() as conn:
            return list_wards(conn, user.scope)

    rows = []
    for ward in await run_in_threadpool(load):
        scope = user.scope.narrowed(ward.code)
        survey = await load_survey(request, period, scope)
        indicator: pd.DataFrame | None = None
        if baseline is not None:
            def measure(b: Period = baseline, s: Scope = scope) -> pd.DataFrame:
                with pool.connection() as conn:
                    return ward_indicator(conn, s, b, period).result
            indicator = await run_in_threadpool(measure)
        summary = ward_summary(survey.result.scorecards, survey.result.weak_areas, indicator)
        rows.append(WardRow(ward, ward_status(summary), survey.measurements,
                            summary.to_dict("records")))
    return rows


@router.get("", response_class=HTMLResponse)
async def city_page(request: Request, user: CurrentUser, lang: Lang, pool: PoolDep,
                    first: FromQuery = None, last: ToQuery = None,
                    baseline_from: DateQuery = None,
                    baseline_to: DateQuery = None) -> HTMLResponse:
    """Every ward the account sees, per carrier, for the period; with a baseline period, the
    residential-group indicator (groups in a dead spot then, covered in the period)."""
    _city_user(user)
    page = Page(request, lang, user, "city")
    periods = _periods(first, last, baseline_from, baseline_to, lang)
    if isinstance(periods, str):
        return render(page, "error.html", 422, message=periods)
    period, baseline = periods
    rows = await _compare(request, user, pool, period, baseline)
    box, shapes = await run_in_threadpool(_map, rows)
    return render(page, "city.html", rows=rows, period=period, baseline=baseline, box=box,
                  shapes=shapes, chosen=request.session.get(WARD_SESSION_KEY))


@router.get("/report.pdf")
async def city_report(request: Request, user: CurrentUser, pool: PoolDep, lang: Lang,
                      first: FromQuery = None, last: ToQuery = None,
                      baseline_from: DateQuery = None, baseline_to: DateQuery = None,
                      report_lang: Annotated[str, Query(pattern="^(vi|en)$")] = "vi"
                      ) -> Response:
    """The city page as a PDF (Vietnamese unless ``report_lang=en``)."""
    _city_user(user)
    periods = _periods(first, last, baseline_from, baseline_to, lang)
    if isinstance(periods, str):
        return Response(periods, status_code=422, media_type="text/plain; charset=utf-8")
    period, baseline = periods
    rows = await _compare(request, user, pool, period, baseline)

    def build() -> bytes:
        wards = []
        for r in rows:
            outline = boundary_frame(r.ward.boundary_json, r.ward.name)
            wards.append(CityWard(r.ward.code, r.ward.name, r.status, r.measurements,
                                  r.carriers, None if outline is None
                                  else outline.geometry.union_all()))
        return build_city_report(wards, lang=report_lang, period_start=period.first,
                                 period_end=period.last, baseline=None if baseline is None
                                 else (baseline.first, baseline.last))

    data = await run_in_threadpool(build)
    name = f"lomsong-city-{period.first:%Y%m%d}-{period.last:%Y%m%d}.pdf"
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.post("/ward", dependencies=[CsrfChecked])
async def choose_ward(request: Request, user: CurrentUser, pool: PoolDep,
                      code: Annotated[str, Form(pattern="^[0-9]{5}$")]) -> Response:
    """Show ward `code` on the ward pages (map, service points, ...) of this session."""
    _city_user(user)

    def find() -> WardRecord | None:
        with pool.connection() as conn:
            return get_ward_record(conn, user.scope, code)

    if await run_in_threadpool(find) is None:
        return Response(f"no ward {code}", status_code=404, media_type="text/plain")
    request.session[WARD_SESSION_KEY] = code
    return RedirectResponse("/map", status_code=303)
