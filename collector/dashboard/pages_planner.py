"""The coverage planner: a walk for volunteers through the cells that need more tests.

The page draws the walk (`maps.routesvg`, server-side SVG, no script), lists each stop with the
time window it needs and what is missing there in words, and offers the same walk as a GPX file.
The walk starts at a service point (the first public administrative service point by default),
at a point typed as "lat, lon", or at the westernmost stop; it can be narrowed to one carrier and
one technology. Plans are cached with the survey they come from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from lomsong.analysis.period import Period
from lomsong.collector.dashboard.pages_map import load_survey, period_of
from lomsong.collector.dashboard.web import CurrentUser, Lang, Page, WardScope, render
from lomsong.collector.deps import PoolDep
from lomsong.collector.storage.scope import Scope
from lomsong.collector.storage.sites import StoredServicePoint, list_sites
from lomsong.collector.survey import Survey
from lomsong.maps.i18n import format_number, translator
from lomsong.maps.walk_plan import MAX_STOPS, Start, WalkPlan, plan_walk

__all__ = ["parse_point", "router"]

router = APIRouter(tags=["dashboard"], include_in_schema=False)
FromQuery = Annotated[str | None, Query(alias="from")]
ToQuery = Annotated[str | None, Query(alias="to")]
StartQuery = Annotated[str, Query(max_length=120)]
AtQuery = Annotated[str, Query(max_length=60)]
ChoiceQuery = Annotated[str, Query(max_length=20)]
_POINT = re.compile(r"\s*(-?\d{1,2}(?:[.,]\d+)?)\s*[;, ]\s*(-?\d{1,3}(?:[.,]\d+)?)\s*")
_NO_START = "none"


def parse_point(text: str) -> tuple[float, float] | None:
    """``"21.0285, 105.8542"`` (also ``;`` or a space between, decimal comma allowed) as (lat,
    lon), or None when it is not a position on Earth."""
    found = _POINT.fullmatch(text)
    if found is None:
        if "," in text and text.count(",") == 3:  # "21,0285, 105,8542" with decimal commas
            a, b, c, d = (p.strip() for p in text.split(","))
            return parse_point(f"{a}.{b} {c}.{d}")
        return None
    lat, lon = (float(g.replace(",", ".")) for g in found.groups())
    return (lat, lon) if -90 <= lat <= 90 and -180 <= lon < 180 else None


def _default_site(sites: list[StoredServicePoint]) -> StoredServicePoint | None:
    public = [s for s in sites if s.site_type == "public_service_point"]
    chosen = public or sites
    return chosen[0] if chosen else None


def _start_of(sites: list[StoredServicePoint], start: str, at: str,
              lang: str) -> tuple[Start | None, str, str | None]:
    """The start point, the value the form shows as chosen, and an error in the page's language."""
    _ = translator(lang)
    if at.strip():
        point = parse_point(at)
        if point is not None:
            return Start(point[0], point[1], f"{point[0]:.5f}, {point[1]:.5f}"), "", None
        error = _("Start point: '{value}' is not a position; type latitude, longitude, e.g. "
                  "21.0285, 105.8542").format(value=at.strip()[:60])
    else:
        error = None
    if start == _NO_START:
        return None, _NO_START, error
    by_id = {s.site_id: s for s in sites}
    site = by_id.get(start.removeprefix("site:")) if start else _default_site(sites)
    if site is None:
        if start and error is None:
            error = _("Start point: there is no service point {site}").format(site=start[:60])
        site = _default_site(sites)
    if site is None:
        return None, _NO_START, error
    return Start(site.lat, site.lon, site.name or site.site_id), f"site:{site.site_id}", error


@dataclass(frozen=True)
class _Context:
    survey: Survey
    period: Period
    plan: WalkPlan
    sites: list[StoredServicePoint]
    chosen_start: str
    start_error: str | None


class _PeriodProblem(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def _plan(request: Request, pool: PoolDep, scope: Scope, lang: str, first: str | None,
                last: str | None, start: str, at: str, carrier: str, access: str) -> _Context:
    period = period_of(first, last, lang=lang)
    if isinstance(period, str):
        raise _PeriodProblem(period)
    survey = await load_survey(request, period, scope)

    def load() -> list[StoredServicePoint]:
        with pool.connection() as conn:
            return list_sites(conn, scope)

    sites = await run_in_threadpool(load)
    begin, chosen, error = _start_of(sites, start, at, lang)
    gaps = survey.result.gaps
    carrier = carrier if carrier in set(gaps["carrier"].astype(str)) else ""
    access = access if access in set(gaps["access"].astype(str)) - {"any"} else ""
    thresholds = survey.report_input.thresholds

    def build() -> WalkPlan:
        return plan_walk(gaps, translator(lang), thresholds, start=begin, carrier=carrier,
                         access=access, boundary=survey.boundary)

    if chosen == "":  # a typed point: not kept, so no one can fill the cache with points
        plan = await run_in_threadpool(build)
    else:
        key = ("planner", lang, chosen, carrier, access)
        plan = await run_in_threadpool(survey.render_once, key, build)
    return _Context(survey, period, plan, sites, chosen, error)


@router.get("/planner", response_class=HTMLResponse)
async def planner_page(request: Request, user: CurrentUser, scope: WardScope, lang: Lang,
                       pool: PoolDep, first: FromQuery = None, last: ToQuery = None,
                       start: StartQuery = "", at: AtQuery = "", carrier: ChoiceQuery = "",
                       access: ChoiceQuery = "") -> HTMLResponse:
    page = Page(request, lang, user, "planner")
    try:
        c = await _plan(request, pool, scope, lang, first, last, start, at, carrier, access)
    except _PeriodProblem as exc:
        return render(page, "error.html", 422, message=exc.message)
    carrier = carrier if carrier in c.plan.carriers else ""
    access = access if access in c.plan.accesses else ""
    query = {"from": c.period.first.isoformat(), "to": c.period.last.isoformat(),
             "start": c.chosen_start, "at": at.strip(), "carrier": carrier, "access": access,
             "lang": lang}
    return render(page, "planner.html", survey=c.survey, period=c.period, plan=c.plan,
                  sites=c.sites, chosen_start=c.chosen_start, start_error=c.start_error,
                  at=at.strip(), carrier=carrier, access=access, gpx_query=urlencode(query),
                  max_stops=MAX_STOPS, metres=lambda v: format_number(v, lang, decimals=0))


@router.get("/planner/walk.gpx")
async def planner_gpx(request: Request, user: CurrentUser, scope: WardScope, lang: Lang,
                      pool: PoolDep, first: FromQuery = None, last: ToQuery = None,
                      start: StartQuery = "", at: AtQuery = "", carrier: ChoiceQuery = "",
                      access: ChoiceQuery = "") -> Response:
    try:
        c = await _plan(request, pool, scope, lang, first, last, start, at, carrier, access)
    except _PeriodProblem as exc:
        return Response(exc.message, status_code=422, media_type="text/plain; charset=utf-8")
    _ = translator(lang)
    plan, period = c.plan, c.period
    ward = c.survey.ward_name.strip()
    name = _("Walk to fill coverage gaps") + (f" – {ward}" if ward else "")
    desc = _("{count} stops, {metres} m in straight lines; from {first} to {last}").format(
        count=len(plan.stops), metres=format_number(plan.length_m, lang, decimals=0),
        first=period.first.isoformat(), last=period.last.isoformat())
    data = await run_in_threadpool(plan.gpx, name=name, desc=desc)
    filename = f"lomsong-walk-{period.first.isoformat()}.gpx"
    return Response(data, media_type="application/gpx+xml", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})
