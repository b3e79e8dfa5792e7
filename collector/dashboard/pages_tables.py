"""Read-only tables: service points, weak areas ranked as proposals, fleet (the planner is
`pages_planner`)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from lomsong.analysis.proposals import PRIORITY_LEVEL
from lomsong.collector.dashboard.pages_behind import behind_href
from lomsong.collector.dashboard.pages_map import load_survey, period_of
from lomsong.collector.dashboard.survey import Period
from lomsong.collector.dashboard.table_sort import (
    Key,
    Sorting,
    by_column,
    by_severity,
    filter_carrier,
)
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

__all__ = ["AREA_SORTS", "CLOCK_LABELS", "PROPOSAL_SORTS", "SITE_SORTS", "records", "router"]

router = APIRouter(tags=["dashboard"], include_in_schema=False)
FromQuery = Annotated[str | None, Query(alias="from")]
ToQuery = Annotated[str | None, Query(alias="to")]
CarrierQuery = Annotated[str | None, Query(pattern="^[a-z0-9_]{0,20}$")]
SortQuery = Annotated[str | None, Query(pattern="^[a-z0-9_]{0,20}$")]
OrderQuery = Annotated[str, Query(pattern="^(asc|desc)$")]
# The columns the service-point and weak-area tables sort by (query value -> key).
SITE_SORTS: dict[str, Key] = {
    "name": by_column("name"), "carrier": by_column("carrier"), "access": by_column("access"),
    "verdict": by_severity("verdict"), "target": by_column("threshold_mbps"),
    "tests": by_column("samples"), "median": by_column("down_median_mbps"),
    "p10": by_column("down_p10_mbps"), "share": by_column("share_below"),
    "trend": by_column("trend_mbps_per_week"), "last": by_column("last_measured_at")}
AREA_SORTS: dict[str, Key] = {
    "area": by_column("area_id"), "carrier": by_column("carrier"),
    "status": by_severity("status"), "cause": by_column("cause"),
    "deciding": by_column("deciding_share_below"), "cells": by_column("cells"),
    "tests": by_column("samples"), "dates": by_column("first_date"),
    "median": by_column("down_median_mbps"), "peak": by_column("peak_median_mbps"),
    "rsrp": by_column("rsrp_median_dbm"), "sinr": by_column("sinr_median_db")}
PROPOSAL_SORTS: dict[str, Key] = {
    "rank": by_column("rank"), "carrier": by_column("carrier"),
    "target": by_column("target_name"), "action": by_column("action"),
    "priority": by_severity("priority", PRIORITY_LEVEL), "impact": by_column("impact_score"),
    "points": by_column("service_points_affected")}
# Each sortable table by its name in the templates -> the query values its sort travels in.
_SORT_VALUES = {"sorting": ("sort", "order"),
               "proposal_sorting": ("proposal_sort", "proposal_order")}
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


def _table_context(period: Period, carriers: list[str], carrier: str | None,
                   **sorts: tuple[str | None, str]) -> dict[str, Any]:
    """Carrier filter, sorting and links shared by the service-point and weak-area pages.

    `sorts` gives each table's requested (key, order) by its name in `_SORT_VALUES`. ``kept`` is
    the page's table state (carrier and sorts) that the period form and the carrier filter carry
    as hidden fields, so changing one keeps the others; every link keeps the period too."""
    kept = {"carrier": carrier} if carrier else {}
    for name, (key, order) in sorts.items():
        if key:
            kept.update(zip(_SORT_VALUES[name], (key, order), strict=True))
    period_query = {"from": period.first.isoformat(), "to": period.last.isoformat()}
    query = {**period_query, **kept}
    tables = {name: Sorting(key or None, order == "desc", query, _SORT_VALUES[name])
              for name, (key, order) in sorts.items()}
    export = urlencode({**period_query, **({"carrier": carrier} if carrier else {})})
    return {**tables, "kept": kept, "carrier": carrier or "", "carriers": carriers,
            "export_query": export,
            "behind": lambda target, ident, **f: behind_href(target, str(ident), period, **f)}


def _carriers(*frames: gpd.GeoDataFrame) -> list[str]:
    found = {str(c) for f in frames if "carrier" in f.columns for c in f["carrier"].dropna()}
    return sorted(found)


@router.get("/sites", response_class=HTMLResponse)
async def sites_page(request: Request, user: CurrentUser, scope: WardScope,
                     lang: Lang, first: FromQuery = None,
                     last: ToQuery = None, carrier: CarrierQuery = None,
                     sort: SortQuery = None, order: OrderQuery = "asc") -> HTMLResponse:
    page = Page(request, lang, user, "sites")
    period = period_of(first, last, lang=lang)
    if isinstance(period, str):
        return render(page, "error.html", 422, message=period)
    survey = await load_survey(request, period, scope)
    rows = records(survey.result.scorecards, ["site_id", "carrier", "access"])
    context = _table_context(period, _carriers(survey.result.scorecards), carrier,
                             sorting=(sort, order))
    rows = context["sorting"].apply(filter_carrier(rows, carrier), SITE_SORTS)
    return render(page, "sites.html", survey=survey, period=period, rows=rows, **context,
                  **_helpers(lang))


@router.get("/weak-areas", response_class=HTMLResponse)
async def weak_areas_page(request: Request, user: CurrentUser, scope: WardScope, lang: Lang,
                          first: FromQuery = None, last: ToQuery = None,
                          carrier: CarrierQuery = None, sort: SortQuery = None,
                          order: OrderQuery = "asc", proposal_sort: SortQuery = None,
                          proposal_order: OrderQuery = "asc") -> HTMLResponse:
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

    context = _table_context(period, _carriers(survey.result.weak_areas,
                                               survey.result.proposals), carrier,
                             sorting=(sort, order),
                             proposal_sorting=(proposal_sort, proposal_order))
    areas = context["sorting"].apply(filter_carrier(areas, carrier), AREA_SORTS)
    proposals = context["proposal_sorting"].apply(filter_carrier(proposals, carrier),
                                                  PROPOSAL_SORTS)
    return render(page, "weak_areas.html", survey=survey, period=period, proposals=proposals,
                  areas=areas, evidence=evidence, **context, **_helpers(lang))


@router.get("/fleet", response_class=HTMLResponse)
async def fleet_page(request: Request, user: CurrentUser, scope: WardScope, lang: Lang,
                     pool: PoolDep) -> HTMLResponse:
    def load() -> list[ProbeHealth]:
        with pool.connection() as conn:
            return list_fleet(conn, scope)

    probes = await run_in_threadpool(load)
    return render(Page(request, lang, user, "fleet"), "fleet.html", probes=probes,
                  clock_labels=CLOCK_LABELS, **_helpers(lang))
