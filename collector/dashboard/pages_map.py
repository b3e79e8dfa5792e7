"""The map page: the folium map of the chosen period, framed in the dashboard.

With a basemap configured (`Settings.basemap_url`), its tiles come through `/map/tiles/...`, from
the collector's disk cache, so the page only ever loads from this site. The ward's residential
streets and residential groups, when loaded (`lomsong wards streets|groups`), are drawn under the
cells and take no clicks. A drawn frame is kept with its survey under a cheap marker of those
layers (how many groups, when they and the streets were stored), so the layers themselves (the
streets up to 20 MB) are read only when a frame is drawn, and a replaced layer draws it anew.

The map itself (`/map/frame`) is folium's page; its data is a JSON block read by lomsong's static
script, never inline code. The Content-Security-Policy allows the files under ``/static/vendor``
and only the inline scripts lomsong's templates write, by a nonce that is new for each response
(the rendered page is cached with a per-process slot where the nonce goes; the slot is random,
so no data can contain it). Only this site may frame it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass
from functools import partial
from html import escape
from typing import Annotated

import geopandas as gpd
import shapely.geometry
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lomsong.analysis.period import PeriodError
from lomsong.collector.dashboard.survey import (
    NONCE_SLOT,
    Period,
    Survey,
    SurveyCache,
    parse_period,
)
from lomsong.collector.dashboard.web import (
    WARD_SESSION_KEY,
    CurrentUser,
    Lang,
    Page,
    WardScope,
    render,
)
from lomsong.collector.settings import Settings
from lomsong.collector.storage.groups import StoredGroup, groups_version, list_groups
from lomsong.collector.storage.scope import Scope
from lomsong.collector.storage.streets import get_streets, streets_changed_at
from lomsong.collector.storage.wards import list_wards
from lomsong.maps.browser_layer import browser_options
from lomsong.maps.drill_link import DrillLink
from lomsong.maps.heatmap import MODES, render_html
from lomsong.maps.i18n import translator
from lomsong.maps.report_text import SOURCE_ROWS_MAX
from lomsong.maps.tiles import TileError, TileSource, tile_lonlat

__all__ = [
    "TILE_URL",
    "VENDOR_URL",
    "frame_policy",
    "groups_frame",
    "load_survey",
    "map_html",
    "period_of",
    "render_maps_again",
    "router",
    "streets_frame",
]

router = APIRouter(tags=["dashboard"], include_in_schema=False)
log = logging.getLogger(__name__)
VENDOR_URL = "/static/vendor"
# The basemap's tiles, served by the collector from its disk cache (`Settings.basemap`).
TILE_URL = "/map/tiles/{z}/{x}/{y}.png"


def frame_policy(nonce: str) -> str:
    """CSP for the map page: scripts from this site or carrying `nonce`, inline styles."""
    return (f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'self'")


def period_of(first: str | None, last: str | None, *, lang: str) -> Period | str:
    """The period, or why it is not valid in `lang`, naming the form's field ("From", "To")."""
    try:
        return parse_period(first, last)
    except PeriodError as exc:
        _ = translator(lang)
        return exc.message(_, {"from": _("From"), "to": _("To")})


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
    if user.scope.city and not isinstance(request.session.get(WARD_SESSION_KEY), str):
        # a city account lands here after signing in: with wards to compare, it chooses one
        # on the city page first (the map of no ward would be an empty map)
        pool = request.app.state.pool

        def has_wards() -> bool:
            with pool.connection() as conn:
                return bool(list_wards(conn, user.scope))

        if await run_in_threadpool(has_wards):
            return RedirectResponse("/city", status_code=303)
    period = period_of(first, last, lang=lang)
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
    period = period_of(first, last, lang=lang)
    if isinstance(period, str):
        return Response(period, status_code=422, media_type="text/plain; charset=utf-8")
    survey = await load_survey(request, period, scope)
    settings: Settings = request.app.state.settings
    tiles = settings.basemap()
    pool = request.app.state.pool

    def layers_version() -> str:
        with pool.connection() as conn:
            return repr((groups_version(conn, scope), streets_changed_at(conn, scope)))

    key = ("map", lang, mode, await run_in_threadpool(layers_version),
           tiles.url if tiles else "")

    def inputs_now() -> MapInputs:
        with pool.connection() as conn:
            return MapInputs(lang, mode, tiles, list_groups(conn, scope),
                             get_streets(conn, scope))

    def draw() -> str:
        """The frame, with the ward's layers read now: only when it is not rendered yet."""
        inputs = inputs_now()
        html = map_html(survey, inputs)
        survey.render_once(("map inputs", *key), lambda: inputs)  # for `render_maps_again`
        return html

    drawn = key in survey.rendered
    html = await run_in_threadpool(survey.render_once, key, draw)
    if not drawn:  # kept with the analysis, for the next collector process
        cache: SurveyCache = request.app.state.survey_cache
        cache.keep_rendered(period, scope)
    elif ("map inputs", *key) not in survey.rendered:
        # drawn by an earlier process and kept: its inputs, for `render_maps_again` after the
        # next refresh, are read once, without holding up this response
        def note_inputs() -> None:
            survey.render_once(("map inputs", *key), inputs_now)

        asyncio.get_running_loop().run_in_executor(None, note_inputs)
    nonce = secrets.token_urlsafe(18)
    return HTMLResponse(html.replace(NONCE_SLOT, nonce), headers={
        "Content-Security-Policy": frame_policy(nonce), "X-Frame-Options": "SAMEORIGIN",
        "Cache-Control": "private, max-age=300"})


@dataclass(frozen=True)
class MapInputs:
    """What a map frame is drawn from besides the survey (the request's and the ward's layers)."""

    lang: str
    mode: str
    tiles: TileSource | None
    groups: list[StoredGroup]
    streets: str | None


def map_html(survey: Survey, inputs: MapInputs) -> str:
    """The map frame's page of `survey` (with the nonce slot `map_frame` fills per response)."""
    r = survey.result
    if r.classified.empty and r.scorecards.empty and r.browser.empty:
        return _empty_map(inputs.lang)
    tiles = inputs.tiles
    return render_html(r.classified, r.weak_areas, r.scorecards, r.route, survey.boundary,
                       lang=inputs.lang, mode=inputs.mode, asset_base_url=VENDOR_URL,
                       script_nonce=NONCE_SLOT, browser=r.browser,
                       basemap_url=TILE_URL if tiles else None,
                       basemap_attribution=tiles.attribution if tiles else "",
                       groups=groups_frame(inputs.groups),
                       streets=streets_frame(inputs.streets),
                       drill=DrillLink("/measurements", {
                           "from": survey.period.first.isoformat(),
                           "to": survey.period.last.isoformat(), "lang": inputs.lang}),
                       **browser_options(survey.report_input))


def render_maps_again(new: Survey, last: Survey) -> None:
    """Render for `new` the map frames that were asked of `last`, from the same inputs
    (`SurveyCache`'s ``prepare``: in the background worker, so the first map after a refresh
    is served at once too)."""
    for key in list(last.rendered):
        if key[0] == "map inputs":
            inputs: MapInputs = last.rendered[key]
            with new.lock:
                new.rendered[key] = inputs
            new.render_once(key[1:], partial(map_html, new, inputs))


def groups_frame(groups: list[StoredGroup]) -> gpd.GeoDataFrame | None:
    """The ward's residential groups as polygons (WGS 84), or None when it has none."""
    if not groups:
        return None
    shapes = [shapely.geometry.shape(json.loads(g.geometry_json)) for g in groups]
    return gpd.GeoDataFrame({"name": [g.name for g in groups]}, geometry=shapes, crs=4326)


def streets_frame(streets_json: str | None) -> gpd.GeoDataFrame | None:
    """The ward's streets (a stored GeoJSON FeatureCollection) as lines, or None."""
    if not streets_json:
        return None
    return gpd.GeoDataFrame.from_features(json.loads(streets_json)["features"], crs=4326)


# From this zoom on, tiles are served only over the wards this server holds (with a margin): the
# whole world at street level is billions of tiles; a city at street level is a few thousand.
DETAIL_ZOOM = 12
_AREA_MARGIN_DEG = 0.02  # about 2 km
_AREA_TTL_S = 300.0


def _wards_area(request: Request) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) around every ward outline on this server, or None when no ward
    has one (a one-ward database: the tile cache's size limit still holds). Kept 5 minutes."""
    state = request.app.state
    cached = getattr(state, "tile_area", None)
    if cached is not None and cached[0] > time.monotonic():
        area: tuple[float, float, float, float] | None = cached[1]
        return area
    with state.pool.connection() as conn:
        outlines = [w.boundary_json for w in list_wards(conn, Scope.all_wards()) if w.boundary_json]
    bounds = [shapely.geometry.shape(json.loads(o)).bounds for o in outlines]
    area = None if not bounds else (
        min(b[0] for b in bounds) - _AREA_MARGIN_DEG, min(b[1] for b in bounds) - _AREA_MARGIN_DEG,
        max(b[2] for b in bounds) + _AREA_MARGIN_DEG, max(b[3] for b in bounds) + _AREA_MARGIN_DEG)
    state.tile_area = (time.monotonic() + _AREA_TTL_S, area)
    return area


@router.get("/map/tiles/{z}/{x}/{y}.png")
async def map_tile(request: Request, user: CurrentUser, z: int, x: int, y: int) -> Response:
    """A basemap tile through the collector's disk cache (404 when no basemap is configured, or
    for a detailed tile away from the wards this server holds)."""
    settings: Settings = request.app.state.settings
    tiles = settings.basemap()
    if tiles is None:
        return Response("no basemap configured", status_code=404, media_type="text/plain")
    if z >= DETAIL_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z:
        area = await run_in_threadpool(_wards_area, request)
        west, south, east, north = tile_lonlat(z, x, y)
        if area is not None and (east < area[0] or west > area[2] or north < area[1]
                                 or south > area[3]):
            return Response("tile outside the wards", status_code=404, media_type="text/plain")
    try:
        data = await run_in_threadpool(tiles.tile_bytes, z, x, y)
    except TileError as exc:
        log.warning("basemap tile %s/%s/%s: %s", z, x, y, exc)
        return Response("tile not available", status_code=404, media_type="text/plain")
    return Response(data, media_type="image/png",
                    headers={"Cache-Control": "private, max-age=86400"})


def _empty_map(lang: str) -> str:
    _ = translator(lang)
    text = escape(_("No measurement data in this period"))
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"></head>'
            f"<body><p>{text}</p></body></html>")
