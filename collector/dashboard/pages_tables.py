"""Read-only tables: service points, weak areas ranked as proposals, fleet (the planner is
`pages_planner`)."""

from __future__ import annotations

from typing import Annotated, Any

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from lomsong.collector.dashboard.pages_map import load_survey, period_of
from lomsong.collector.dashboard.web import CurrentUser, Lang, Page, WardScope, render
from lomsong.collector.deps import PoolDep
from lomsong.collector.storage.fleet import ProbeHealth, list_fleet
from lomsong.maps.i18n import N_, translator
from lomsong.maps.popups import (
    cause_text,
    count_text,
    dates_text,
    deciding_text,
    evidence_text,
    fmt_value,
    local_time,
    share_interval,
)

__all__ = ["CLOCK_LABELS", "records", "router"]

router = APIRouter(tags=["dashboard"], include_in_schema=False)
FromQuery = Annotated[str | None, Query(alias="from")]
ToQuery = Annotated[str | None, Query(alias="to")]
# probe.record.ClockState values as the fleet page names them.
CLOCK_LABELS = {"synced": N_("in sync"), "unsynced": N_("not synchronised"),
                "unknown": N_("unknown"), "corrected": N_("corrected by the collector")}


def records(frame: gpd.GeoDataFrame, sort: list[str]) -> list[dict[str, Any]]:
    """Rows of `frame` as dicts, sorted, with `lat`/`lon` of a point inside each shape (WGS 84)
    instead of the geometry; missing values become None."""
    if frame.empty:
        return []
    inner = frame.to_crs(4326).geometry.representative_point()
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    table = table.assign(lat=inner.y.to_numpy(), lon=inner.x.to_numpy()).sort_values(sort)
    table = table.astype(object).where(table.notna(), None)
    rows: list[dict[str, Any]] = table.to_dict("records")
    return rows


def _helpers(lang: str) -> dict[str, Any]:
    _ = translator(lang)
    return {
        "tests": lambda r: count_text(pd.Series(r), _, lang),
        "cause": lambda r: cause_text(pd.Series(r), _),
        "deciding": lambda r: deciding_text(pd.Series(r), _, lang),
        "dates": lambda r: dates_text(pd.Series(r), lang),
        "value": lambda v, unit="", d=0: fmt_value(v, lang, unit, d),
        "share": lambda r: share_interval(r.get("share_below"), r.get("share_below_lo"),
                                          r.get("share_below_hi"), lang),
        "stamp": lambda v: local_time(v, lang),
    }


@router.get("/sites", response_class=HTMLResponse)
async def sites_page(request: Request, user: CurrentUser, scope: WardScope,
                     lang: Lang, first: FromQuery = None,
                     last: ToQuery = None) -> HTMLResponse:
    page = Page(request, lang, user, "sites")
    period = period_of(first, last, lang=lang)
    if isinstance(period, str):
        return render(page, "error.html", 422, message=period)
    survey = await load_survey(request, period, scope)
    rows = records(survey.result.scorecards, ["site_id", "carrier", "access"])
    return render(page, "sites.html", survey=survey, period=period, rows=rows, **_helpers(lang))


@router.get("/weak-areas", response_class=HTMLResponse)
async def weak_areas_page(request: Request, user: CurrentUser, scope: WardScope, lang: Lang,
                          first: FromQuery = None, last: ToQuery = None) -> HTMLResponse:
    page = Page(request, lang, user, "weak")
    period = period_of(first, last, lang=lang)
    if isinstance(period, str):
        return render(page, "error.html", 422, message=period)
    survey = await load_survey(request, period, scope)
    proposals = records(survey.result.proposals, ["rank", "carrier"])
    areas = records(survey.result.weak_areas, ["carrier", "area_id"])
    targets = {("weak_area", a["area_id"], a["carrier"], a["access"]): a for a in areas}
    targets.update({("service_point", c["site_id"], c["carrier"], c["access"]): c
                    for c in records(survey.result.scorecards, ["site_id"])})
    _ = translator(lang)

    def evidence(p: dict[str, Any]) -> str:
        """A proposal's evidence in the page's language, from the row of its target."""
        row = targets.get((p["target_type"], p["target_id"], p["carrier"], p["access"]))
        return "–" if row is None else evidence_text(pd.Series(row), _, lang)

    return render(page, "weak_areas.html", survey=survey, period=period, proposals=proposals,
                  areas=areas, evidence=evidence, **_helpers(lang))


@router.get("/fleet", response_class=HTMLResponse)
async def fleet_page(request: Request, user: CurrentUser, scope: WardScope, lang: Lang,
                     pool: PoolDep) -> HTMLResponse:
    def load() -> list[ProbeHealth]:
        with pool.connection() as conn:
            return list_fleet(conn, scope)

    probes = await run_in_threadpool(load)
    return render(Page(request, lang, user, "fleet"), "fleet.html", probes=probes,
                  clock_labels=CLOCK_LABELS, **_helpers(lang))
