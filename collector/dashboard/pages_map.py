"""The map page: the folium map of the chosen period, framed in the dashboard.

The map itself (`/map/frame`) is folium's page; its data is a JSON block read by lomsong's static
script, never inline code. The Content-Security-Policy allows the files under ``/static/vendor``
and only the inline scripts lomsong's templates write, by a nonce that is new for each response
(the rendered page is cached with a per-process slot where the nonce goes; the slot is random,
so no data can contain it). Only this site may frame it.
"""

from __future__ import annotations

import secrets
from functools import partial
from html import escape
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lomsong.collector.dashboard.survey import Period, Survey, SurveyCache, parse_period
from lomsong.collector.dashboard.web import CurrentUser, Lang, Page, WardScope, render
from lomsong.collector.storage.scope import Scope
from lomsong.maps.browser_layer import browser_options
from lomsong.maps.heatmap import MODES, render_html
from lomsong.maps.i18n import translator
from lomsong.maps.report_text import SOURCE_ROWS_MAX

__all__ = [
    "VENDOR_URL",
    "frame_policy",
    "load_survey",
    "map_html",
    "period_of",
    "render_maps_again",
    "router",
]

router = APIRouter(tags=["dashboard"], include_in_schema=False)
VENDOR_URL = "/static/vendor"
_NONCE_SLOT = "slot" + secrets.token_hex(16)


def frame_policy(nonce: str) -> str:
    """CSP for the map page: scripts from this site or carrying `nonce`, inline styles."""
    return (f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'self'")


def period_of(first: str | None, last: str | None) -> Period | str:
    """The period, or the reason it is not valid."""
    try:
        return parse_period(first, last)
    except ValueError as exc:
        return str(exc)


async def load_survey(request: Request, period: Period, scope: Scope) -> Survey:
    """The survey of `period` in the one ward of `scope` (`web.WardScope`): the last one made,
    perhaps while a newer one is computed. When it was made and whether a newer one is coming
    go to ``request.state.analysis`` (a `refresh.Fetched`), which `web.render` passes to every
    page (``analysis_made.html`` says it)."""
    cache: SurveyCache = request.app.state.survey_cache
    fetched = await run_in_threadpool(cache.fetch, request.app.state.pool, period, scope)
    request.state.analysis = fetched
    return fetched.value


@router.get("/", include_in_schema=False)
async def home() -> RedirectResponse:
    return RedirectResponse("/map", status_code=303)


@router.get("/map", response_class=HTMLResponse)
async def map_page(request: Request, user: CurrentUser, lang: Lang, scope: WardScope,
                   first: Annotated[str | None, Query(alias="from")] = None,
                   last: Annotated[str | None, Query(alias="to")] = None,
                   mode: Annotated[str, Query(pattern="^(status|speed)$")] = "status",
                   ) -> HTMLResponse:
    page = Page(request, lang, user, "map")
    period = period_of(first, last)
    if isinstance(period, str):
        return render(page, "error.html", 422, message=period)
    survey = await load_survey(request, period, scope)
    return render(page, "map.html", survey=survey, period=period, mode=mode, modes=MODES,
                  source_rows_max=SOURCE_ROWS_MAX)


@router.get("/map/frame")
async def map_frame(request: Request, user: CurrentUser, lang: Lang, scope: WardScope,
                    first: Annotated[str | None, Query(alias="from")] = None,
                    last: Annotated[str | None, Query(alias="to")] = None,
                    mode: Annotated[str, Query(pattern="^(status|speed)$")] = "status",
                    ) -> Response:
    period = period_of(first, last)
    if isinstance(period, str):
        return Response(period, status_code=422, media_type="text/plain")
    survey = await load_survey(request, period, scope)
    html = await run_in_threadpool(survey.render_once, ("map", lang, mode),
                                   lambda: map_html(survey, lang, mode))
    nonce = secrets.token_urlsafe(18)
    return HTMLResponse(html.replace(_NONCE_SLOT, nonce), headers={
        "Content-Security-Policy": frame_policy(nonce), "X-Frame-Options": "SAMEORIGIN",
        "Cache-Control": "private, max-age=300"})


def map_html(survey: Survey, lang: str, mode: str) -> str:
    """The map frame's page of `survey` (with the nonce slot `map_frame` fills per response)."""
    r = survey.result
    if r.classified.empty and r.scorecards.empty and r.browser.empty:
        return _empty_map(lang)
    return render_html(r.classified, r.weak_areas, r.scorecards, r.route, survey.boundary,
                       lang=lang, mode=mode, asset_base_url=VENDOR_URL,
                       script_nonce=_NONCE_SLOT, browser=r.browser,
                       **browser_options(survey.report_input))


def render_maps_again(new: Survey, last: Survey) -> None:
    """Render for `new` the map frames that were asked of `last` (`SurveyCache`'s ``prepare``:
    in the background worker, so the first map after a refresh is served at once too)."""
    for key in list(last.rendered):
        if len(key) == 3 and key[0] == "map":
            new.render_once(key, partial(map_html, new, key[1], key[2]))


def _empty_map(lang: str) -> str:
    _ = translator(lang)
    text = escape(_("No measurement data in this period"))
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"></head>'
            f"<body><p>{text}</p></body></html>")
