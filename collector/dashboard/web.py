"""What every dashboard page shares: templates, language, the signed-in user, CSRF, errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from lomsong.collector.dashboard.security import csrf_token, csrf_valid, derive_key, new_nonce
from lomsong.collector.deps import PoolDep
from lomsong.collector.settings import Settings
from lomsong.collector.storage.scope import Scope
from lomsong.collector.storage.users import UserRow, get_user
from lomsong.maps import i18n
from lomsong.maps.labels import label

__all__ = [
    "LANG_COOKIE",
    "WARD_SESSION_KEY",
    "AdminUser",
    "CaseUser",
    "CsrfChecked",
    "CurrentUser",
    "Forbidden",
    "Lang",
    "LoginRequired",
    "Page",
    "WardScope",
    "client_ip",
    "ensure_nonce",
    "language_of",
    "render",
    "render_bare",
]

LANG_COOKIE = "lomsong_lang"
_TEMPLATES = Path(__file__).with_name("templates")
_env = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True,
                          undefined=jinja2.StrictUndefined)


class LoginRequired(Exception):
    """No valid session: the browser is sent to the sign-in page."""


class Forbidden(Exception):
    """Signed in, but the role may not do this (or the form's CSRF token is wrong)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def language_of(request: Request) -> str:
    """`?lang=` if given, else the language cookie, else Vietnamese."""
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return chosen if chosen in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE


Lang = Annotated[str, Depends(language_of)]


def ensure_nonce(request: Request) -> str:
    """The session's random nonce (made on first visit); CSRF tokens are derived from it."""
    nonce = request.session.get("n")
    if not isinstance(nonce, str):
        nonce = new_nonce()
        request.session["n"] = nonce
    return nonce


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _any_user(request: Request, pool: PoolDep) -> UserRow:
    """Any signed-in user, carrier accounts included (the case pages only)."""
    username = request.session.get("u")
    if not isinstance(username, str):
        raise LoginRequired()

    def load() -> UserRow | None:
        with pool.connection() as conn:
            return get_user(conn, username)

    user = await run_in_threadpool(load)
    if user is None or not user.active or request.session.get("e") != user.session_epoch:
        request.session.clear()
        raise LoginRequired()
    return user


CaseUser = Annotated[UserRow, Depends(_any_user)]


async def _user(user: CaseUser) -> UserRow:
    """A signed-in user of the ward or city (a carrier account sees its cases only)."""
    if user.role == "carrier":
        raise Forbidden("carrier")
    return user


CurrentUser = Annotated[UserRow, Depends(_user)]


async def _admin(user: CurrentUser) -> UserRow:
    if user.role not in ("admin", "city_admin"):
        raise Forbidden("admin")
    return user


AdminUser = Annotated[UserRow, Depends(_admin)]
# The session key of the ward a city account is looking at (`pages_city.choose_ward` sets it).
WARD_SESSION_KEY = "w"


async def _ward_scope(request: Request, user: CurrentUser) -> Scope:
    """The one ward a ward page shows: the user's own, or the one a city account chose."""
    scope = user.scope
    if user.role == "carrier":
        raise Forbidden("ward")
    if not scope.city:
        return scope
    chosen = request.session.get(WARD_SESSION_KEY)
    return scope.narrowed(chosen if isinstance(chosen, str) else None)


WardScope = Annotated[Scope, Depends(_ward_scope)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _csrf(request: Request) -> None:
    form = await request.form()
    token = form.get("csrf_token")
    key = derive_key(_settings(request).secret_key, "csrf")
    if not csrf_valid(key, request.session.get("n"), token if isinstance(token, str) else None):
        raise Forbidden("csrf")


CsrfChecked = Depends(_csrf)


@dataclass(frozen=True)
class Page:
    """One rendered page's context: who, which language, which nav entry."""

    request: Request
    lang: str
    user: UserRow | None
    active: str


def render_bare(template: str, lang: str, **context: Any) -> str:
    """`template` (a page of its own: no navigation, no form) in `lang`, with the formatters."""
    _ = i18n.translator(lang)
    return _env.get_template(template).render(
        _=_, lang=lang, num=lambda v, d=0: i18n.format_number(v, lang, decimals=d),
        when=lambda v: "\N{EN DASH}" if v is None else i18n.format_datetime(v, lang),
        **context)


def render(page: Page, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render `template` with the translator, formatters, CSRF token and navigation."""
    lang = page.lang
    _ = i18n.translator(lang)
    nonce = ensure_nonce(page.request)
    key = derive_key(_settings(page.request).secret_key, "csrf")
    html = _env.get_template(template).render(
        _=_, lang=lang, user=page.user, active=page.active, csrf=csrf_token(key, nonce),
        label=lambda kind, code: label(kind, str(code), _),
        mbps=lambda v: i18n.format_mbps(v, lang),
        pct=lambda v: i18n.format_percent(v, lang),
        num=lambda v, d=0: i18n.format_number(v, lang, decimals=d),
        when=lambda v: "\N{EN DASH}" if v is None else i18n.format_datetime(v, lang),
        path=page.request.url.path,
        analysis=getattr(page.request.state, "analysis", None), **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    if page.request.query_params.get("lang") == lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86_400, httponly=True,
                            samesite="lax", secure=_settings(page.request).env == "prod")
    response.headers["Cache-Control"] = "no-store"
    return response
