"""A user's own alert e-mail subscriptions (webhooks are added by an operator with the CLI)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lomsong.collector.dashboard.web import CaseUser, CsrfChecked, Lang, Page, render
from lomsong.collector.deps import PoolDep
from lomsong.collector.errors import StorageError
from lomsong.collector.storage.alerts import (
    ALERT_KINDS,
    add_subscription,
    delete_subscription,
    user_subscriptions,
)
from lomsong.collector.storage.users import UserRow
from lomsong.maps.i18n import translator

__all__ = ["router"]

router = APIRouter(prefix="/alerts", tags=["dashboard"], include_in_schema=False)
_EMAIL = re.compile(r"[^@\s,;<>\"']{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}")
MAX_SUBSCRIPTIONS = 10


async def _page(request: Request, user: UserRow, lang: str, pool: PoolDep,
                status_code: int = 200, error: str | None = None) -> HTMLResponse:
    def load() -> list[object]:
        with pool.connection() as conn:
            return list(user_subscriptions(conn, user.username))

    return render(Page(request, lang, user, "alerts"), "alerts.html", status_code,
                  subscriptions=await run_in_threadpool(load), kinds=ALERT_KINDS, error=error)


@router.get("", response_class=HTMLResponse)
async def alerts_page(request: Request, user: CaseUser, lang: Lang, pool: PoolDep) -> HTMLResponse:
    return await _page(request, user, lang, pool)


@router.post("", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def subscribe(request: Request, user: CaseUser, lang: Lang, pool: PoolDep,
                    email: Annotated[str, Form(max_length=254)],
                    kinds: Annotated[list[str], Form(max_length=len(ALERT_KINDS))]) -> Response:
    _ = translator(lang)
    chosen = [k for k in ALERT_KINDS if k in kinds]
    if not _EMAIL.fullmatch(email.strip()):
        return await _page(request, user, lang, pool, 422, _("email: not an e-mail address"))
    if not chosen:
        return await _page(request, user, lang, pool, 422, _("kinds: choose at least one"))

    def store() -> None:
        with pool.connection() as conn:
            if len(user_subscriptions(conn, user.username)) >= MAX_SUBSCRIPTIONS:
                raise StorageError(_("subscriptions: at most {n}").format(n=MAX_SUBSCRIPTIONS))
            add_subscription(conn, user.username, "email", email.strip(), chosen, None)

    try:
        await run_in_threadpool(store)
    except StorageError as exc:
        return await _page(request, user, lang, pool, 409, str(exc))
    return RedirectResponse("/alerts", status_code=303)


@router.post("/delete", dependencies=[CsrfChecked])
async def unsubscribe(user: CaseUser, pool: PoolDep,
                      subscription_id: Annotated[int, Form()]) -> RedirectResponse:
    def remove() -> None:
        with pool.connection() as conn:
            delete_subscription(conn, subscription_id, user.username)

    await run_in_threadpool(remove)
    return RedirectResponse("/alerts", status_code=303)
