"""The ward's residential-group indicator: of the groups in a dead spot in a baseline period, how
many have coverage since, proven by the measurements of the later period (`collector.indicator`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from lomsong.analysis.period import Period, PeriodError
from lomsong.collector.dashboard.pages_map import period_of
from lomsong.collector.dashboard.survey import MAX_DAYS
from lomsong.collector.dashboard.web import CurrentUser, Lang, Page, WardScope, render
from lomsong.collector.deps import PoolDep
from lomsong.collector.indicator import WardIndicator, ward_indicator
from lomsong.maps.i18n import translator

__all__ = ["router"]

router = APIRouter(tags=["dashboard"], include_in_schema=False)
DateQuery = Annotated[str | None, Query(max_length=40)]
FromQuery = Annotated[str | None, Query(alias="from", max_length=40)]
ToQuery = Annotated[str | None, Query(alias="to", max_length=40)]


def _baseline(period: Period, first: str | None, last: str | None,
              lang: str) -> Period | str:
    """The baseline asked for, else the 30 days before the period."""
    if not (first or last):
        first = (period.first - timedelta(days=30)).isoformat()
        last = (period.first - timedelta(days=1)).isoformat()
    try:
        return Period.parse(first, last, max_days=MAX_DAYS,
                            flags=("baseline_from", "baseline_to"))
    except PeriodError as exc:
        _ = translator(lang)
        return exc.message(_, {"baseline_from": _("Baseline from"),
                               "baseline_to": _("Baseline to")})


@router.get("/indicator", response_class=HTMLResponse)
async def indicator_page(request: Request, user: CurrentUser, scope: WardScope, lang: Lang,
                         pool: PoolDep, first: FromQuery = None, last: ToQuery = None,
                         baseline_from: DateQuery = None,
                         baseline_to: DateQuery = None) -> HTMLResponse:
    """Per carrier: groups in a dead spot in the baseline, covered in the period."""
    page = Page(request, lang, user, "indicator")
    period = period_of(first, last, lang=lang)
    if isinstance(period, str):
        return render(page, "error.html", 422, message=period)
    baseline = _baseline(period, baseline_from, baseline_to, lang)
    if isinstance(baseline, str):
        return render(page, "error.html", 422, message=baseline)

    def measure(b: Period = baseline, p: Period = period) -> WardIndicator:
        with pool.connection() as conn:
            return ward_indicator(conn, scope, b, p)

    found = await run_in_threadpool(measure)
    rows: list[dict[str, Any]] = found.result.to_dict("records")
    groups = found.status_baseline.merge(
        found.status_current, on=["group_id", "name", "carrier"], how="outer",
        suffixes=("_baseline", "_current")).sort_values(["group_id", "carrier"])
    return render(page, "indicator.html", period=period, baseline=baseline, rows=rows,
                  groups=groups.astype(object).where(groups.notna(), None).to_dict("records"),
                  group_count=found.groups)
