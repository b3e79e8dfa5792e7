"""The ward officer's dashboard, served by the collector: pages, sign-in, static assets.

`install_dashboard(app, settings)` adds the routes, the signed session cookie, the security
headers and the vendored map assets (``/static/vendor``) to the collector app.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from lomsong.analysis.pipeline import SurveyConfig
from lomsong.analysis.thresholds import load_thresholds
from lomsong.collector.dashboard import (
    login,
    pages_admin,
    pages_alerts,
    pages_behind,
    pages_carriers,
    pages_cases,
    pages_city,
    pages_downloads,
    pages_indicator,
    pages_map,
    pages_planner,
    pages_retest,
    pages_tables,
)
from lomsong.collector.dashboard.security import HashGate, SecurityHeaders, derive_key
from lomsong.collector.dashboard.survey import AnalysisPending, SurveyCache
from lomsong.collector.dashboard.throttle import LoginThrottle
from lomsong.collector.dashboard.web import (
    Forbidden,
    LoginRequired,
    Page,
    language_of,
    render,
    render_bare,
)
from lomsong.collector.settings import Settings
from lomsong.maps.assets import VENDOR_DIR

__all__ = ["SESSION_COOKIE", "SESSION_MAX_AGE_S", "install_dashboard", "snapshot_key", "survey_cache",
           "survey_config"]

SESSION_COOKIE = "lomsong_session"
SESSION_MAX_AGE_S = 8 * 3600
_STATIC = Path(__file__).with_name("static")


def install_dashboard(app: FastAPI, settings: Settings) -> None:
    """Add the dashboard to `app` (call before the app starts)."""
    app.state.login_throttle = LoginThrottle()
    app.state.hash_gate = HashGate(settings.max_concurrent_hashes, settings.hash_wait_s)
    app.state.survey_cache = survey_cache(settings)
    for module in (login, pages_map, pages_tables, pages_planner, pages_downloads, pages_admin,
                   pages_carriers, pages_indicator, pages_cases, pages_retest, pages_alerts,
                   pages_city, pages_behind):
        app.include_router(module.router)
    app.mount("/static/vendor", StaticFiles(directory=VENDOR_DIR), name="vendor")
    app.mount("/static/dashboard", StaticFiles(directory=_STATIC), name="dashboard-static")
    app.add_middleware(SessionMiddleware, secret_key=derive_key(settings.secret_key, "session"),
                       session_cookie=SESSION_COOKIE, max_age=SESSION_MAX_AGE_S, same_site="lax",
                       https_only=settings.env == "prod")
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/map"
        return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)

    @app.exception_handler(AnalysisPending)
    async def pending(request: Request, exc: AnalysisPending) -> HTMLResponse:
        return pending_page(request, exc)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> HTMLResponse:
        from lomsong.maps.i18n import translator

        lang = language_of(request)
        _ = translator(lang)
        messages = {"csrf": _("This form has expired; reload the page and try again."),
                    "ward": _("This account may not see this ward's data."),
                    "carrier": _("A carrier account sees only its cases.")}
        message = messages.get(exc.reason, _("Only an administrator may do this."))
        return render(Page(request, lang, None, ""), "error.html", 403, message=message)


def pending_page(request: Request, exc: AnalysisPending) -> HTMLResponse:
    """What a page (or a download) answers while its first analysis is being made: a page in
    the user's language that reloads itself, 503 with Retry-After for programs."""
    lang = language_of(request)
    again_s = 2 if exc.estimate_s is None else int(min(10, max(2, exc.estimate_s / 5)))
    html = render_bare("pending.html", lang, started=exc.started_at,
                       measurements=exc.measurements, estimate_s=exc.estimate_s,
                       again_s=again_s)
    return HTMLResponse(html, status_code=503, headers={
        "Retry-After": str(again_s), "Cache-Control": "no-store"})


def survey_cache(settings: Settings) -> SurveyCache:
    """The dashboard's cache of analyses as `settings` ask (one per collector process)."""
    return SurveyCache(
        settings.survey_cache_entries, survey_config(settings), workers=settings.survey_workers,
        wait_below_s=settings.survey_wait_below_s, prepare=pages_map.render_maps_again,
        keep=settings.survey_keep, first_wait_s=settings.survey_first_wait_s or None,
        keep_key=snapshot_key(settings))


def snapshot_key(settings: Settings) -> str:
    """The key that signs the kept analyses (`collector.survey_snapshot`)."""
    return derive_key(settings.secret_key, "survey-snapshot")


def survey_config(settings: Settings) -> SurveyConfig | None:
    """The analysis settings of the dashboard from ``LOMSONG_THRESHOLDS_FILE``, if set; None
    lets each ward's stored threshold override apply.

    Raises
    ------
    ValueError
        The override file is missing or not valid (naming the file and the key).
    """
    if settings.thresholds_file is not None and not settings.thresholds_file.is_file():
        raise ValueError(f"LOMSONG_THRESHOLDS_FILE: {settings.thresholds_file}: file not found")
    if settings.thresholds_file is None:
        return None
    return SurveyConfig(thresholds=load_thresholds(override=settings.thresholds_file))


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
