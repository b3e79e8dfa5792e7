"""Sign-in and sign-out (throttled per user name and per IP address)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lomsong.collector.dashboard.security import (
    DUMMY_HASH,
    HashGate,
    HashingBusy,
    new_nonce,
    verify_password,
)
from lomsong.collector.dashboard.throttle import LoginThrottle
from lomsong.collector.dashboard.web import CsrfChecked, Lang, Page, client_ip, render
from lomsong.collector.deps import PoolDep
from lomsong.collector.storage.users import UserRow, end_sessions, get_user
from lomsong.maps.i18n import translator

__all__ = ["router"]

router = APIRouter(tags=["dashboard"], include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a local path (never `//host` or a scheme), so sign-in cannot redirect elsewhere."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/map"


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, lang: Lang, next: str | None = None) -> HTMLResponse:
    return render(Page(request, lang, None, "login"), "login.html", next=_safe_next(next),
                  error=None, username="")


@router.post("/login", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def login(
    request: Request, pool: PoolDep, lang: Lang,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    throttle: LoginThrottle = request.app.state.login_throttle
    ip = client_ip(request)
    name = username.strip().lower()
    _ = translator(lang)
    page = Page(request, lang, None, "login")
    wait_s = throttle.locked_for_s(name, ip)
    if wait_s > 0:
        error = _("Too many failed sign-ins for this user from your address; try again in"
                  " {seconds} s.").format(seconds=int(wait_s) + 1)
        response = render(page, "login.html", 429, next=_safe_next(next), error=error,
                          username=name)
        response.headers["Retry-After"] = str(int(wait_s) + 1)
        return response

    def check() -> UserRow | None:
        user = None
        if "\x00" not in name:  # no stored name holds NUL (and PostgreSQL text cannot)
            with pool.connection() as conn:
                user = get_user(conn, name)
        ok = verify_password(user.password_hash if user else DUMMY_HASH, password)
        return user if ok and user is not None and user.active else None

    gate: HashGate = request.app.state.hash_gate
    try:
        async with gate.slot():
            user = await run_in_threadpool(check)
    except HashingBusy:
        response = render(page, "login.html", 503, next=_safe_next(next), username=name,
                          error=_("The server is busy checking other sign-ins; try again in a"
                                  " few seconds."))
        response.headers["Retry-After"] = str(max(1, round(gate.wait_s)))
        return response
    if user is None:
        throttle.failed(name, ip)
        return render(page, "login.html", 401, next=_safe_next(next),
                      error=_("Wrong user name or password."), username=name)
    throttle.succeeded(name, ip)
    request.session.clear()
    request.session["n"] = new_nonce()
    request.session["u"] = user.username
    request.session["e"] = user.session_epoch
    target = _safe_next(next)
    if user.role == "carrier" and not target.startswith("/cases"):
        target = "/cases"  # a carrier account has no other page
    return RedirectResponse(target, status_code=303)


@router.post("/logout", dependencies=[CsrfChecked])
async def logout(request: Request, pool: PoolDep) -> RedirectResponse:
    """Sign out: the user's session epoch moves on, so a saved copy of the cookie is refused too
    (every session of that user ends, on every device)."""
    username = request.session.get("u")
    if isinstance(username, str):

        def end() -> None:
            with pool.connection() as conn:
                end_sessions(conn, username)

        await run_in_threadpool(end)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
