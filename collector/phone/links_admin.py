"""The admin page of enrolment links: list, issue and revoke them (as ``lomsong enrol``).

Forms are CSRF-checked and for admins only. Revoking asks first: the revoke form shows what the
link is and what revoking does, and only its confirmation revokes. A link's address is rebuilt
from its id and expiry (the token is a signature, nothing secret is stored), from the address the
admin's browser used to reach the collector.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lomsong.collector.dashboard.web import AdminUser, CsrfChecked, Lang, Page, WardScope, render
from lomsong.collector.deps import PoolDep, SettingsDep
from lomsong.collector.errors import StorageError
from lomsong.collector.phone.enrol import sign_token
from lomsong.collector.storage.enrolments import (
    Enrolment,
    create_enrolment,
    get_enrolment,
    list_enrolments,
    revoke_enrolment,
)
from lomsong.collector.storage.scope import Scope
from lomsong.collector.storage.sites import get_ward, list_sites

__all__ = ["LINKS_SHOWN", "MAX_DAYS", "router"]

# The page lists the newest links only (a ward issues a few per campaign and service point).
LINKS_SHOWN: Final = 500
MAX_DAYS: Final = 3660
_NOTICES = ("issued", "revoked")

router = APIRouter(prefix="/admin/links", tags=["dashboard"], include_in_schema=False)


def _state(link: Enrolment, now: datetime) -> str:
    if link.revoked_at is not None:
        return "revoked"
    return "expired" if link.expires_at <= now else "active"


def _address(request: Request, secret_key: str, link: Enrolment) -> str:
    token = sign_token(secret_key, link.id, int(link.expires_at.timestamp()))
    return f"{str(request.base_url).rstrip('/')}/do?t={token}"


async def _page(request: Request, user: AdminUser, scope: Scope, lang: Lang, pool: PoolDep,
                settings: SettingsDep, status_code: int = 200, **extra: Any) -> HTMLResponse:
    def load() -> dict[str, Any]:
        with pool.connection() as conn:
            return {"links": list_enrolments(conn, limit=LINKS_SHOWN, scope=scope),
                    "sites": list_sites(conn, scope), "ward": get_ward(conn, scope)}

    data = await run_in_threadpool(load)
    now = datetime.now(UTC)
    names = {s.site_id: s.name for s in data["sites"]}
    rows = [{"link": e, "state": _state(e, now), "site": names.get(e.site_id or "", e.site_id),
             "address": _address(request, settings.secret_key, e)
             if _state(e, now) == "active" else None} for e in data["links"]]
    notice = request.query_params.get("done")
    context = {"notice": notice if notice in _NOTICES else None, "error": None, "issued": None,
               "confirm": None, "max_days": MAX_DAYS, "shown": LINKS_SHOWN, **extra}
    return render(Page(request, lang, user, "admin"), "links.html", status_code, rows=rows,
                  sites=data["sites"], ward=data["ward"], **context)


@router.get("", response_class=HTMLResponse)
async def links_page(request: Request, user: AdminUser, scope: WardScope, lang: Lang,
                     pool: PoolDep, settings: SettingsDep) -> HTMLResponse:
    return await _page(request, user, scope, lang, pool, settings)


@router.post("", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def issue_link(request: Request, user: AdminUser, scope: WardScope, lang: Lang,
                     pool: PoolDep,
                     settings: SettingsDep,
                     days: Annotated[int, Form(ge=1, le=MAX_DAYS)],
                     site_id: Annotated[str, Form(max_length=64)] = "",
                     label: Annotated[str, Form(max_length=200)] = "") -> Response:
    """A new link for the ward, or for one service point, valid `days` days."""
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)

    def issue() -> Enrolment:
        with pool.connection() as conn:
            ward = get_ward(conn, scope)
            if ward is None:
                raise StorageError("the ward is not set yet; set it on the admin page first")
            return create_enrolment(conn, ward=ward.name, site_id=site_id or None,
                                    label=label.strip() or f"by {user.username}",
                                    expires_at=expires, scope=scope)

    try:
        made = await run_in_threadpool(issue)
    except StorageError as exc:
        return await _page(request, user, scope, lang, pool, settings, 409, error=str(exc))
    return await _page(request, user, scope, lang, pool, settings,
                       issued={"link": made,
                               "address": _address(request, settings.secret_key, made)})


@router.post("/revoke", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def revoke_link(request: Request, user: AdminUser, scope: WardScope, lang: Lang,
                      pool: PoolDep,
                      settings: SettingsDep,
                      enrolment_id: Annotated[int, Form(ge=1, le=2**62)],
                      confirm: Annotated[str, Form(max_length=3)] = "") -> Response:
    """Without ``confirm=yes``: the page asking to confirm. With it: the link is revoked."""
    def find() -> Enrolment | None:
        with pool.connection() as conn:
            return get_enrolment(conn, enrolment_id, scope)

    link = await run_in_threadpool(find)
    if link is None or link.revoked_at is not None:
        return await _page(request, user, scope, lang, pool, settings, 404,
                           error=f"enrolment_id: no active link {enrolment_id}")
    if confirm != "yes":
        return await _page(request, user, scope, lang, pool, settings, confirm=link)

    def revoke() -> None:
        with pool.connection() as conn:
            revoke_enrolment(conn, enrolment_id, scope)

    await run_in_threadpool(revoke)
    return RedirectResponse("/admin/links?done=revoked", status_code=303)
