"""The city's pages: the wards a city account sees, and the choice of the ward the ward pages show."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lomsong.collector.dashboard.web import (
    WARD_SESSION_KEY,
    CsrfChecked,
    CurrentUser,
    Forbidden,
    Lang,
    Page,
    render,
)
from lomsong.collector.deps import PoolDep
from lomsong.collector.storage.users import UserRow
from lomsong.collector.storage.wards import WardRecord, get_ward_record, list_wards

__all__ = ["router"]

router = APIRouter(prefix="/city", tags=["dashboard"], include_in_schema=False)


def _city_user(user: UserRow) -> UserRow:
    if not user.scope.city:
        raise Forbidden("ward")
    return user


@router.get("", response_class=HTMLResponse)
async def city_page(request: Request, user: CurrentUser, lang: Lang,
                    pool: PoolDep) -> HTMLResponse:
    _city_user(user)

    def load() -> list[WardRecord]:
        with pool.connection() as conn:
            return list_wards(conn, user.scope)

    wards = await run_in_threadpool(load)
    chosen = request.session.get(WARD_SESSION_KEY)
    return render(Page(request, lang, user, "city"), "city.html", wards=wards, chosen=chosen)


@router.post("/ward", dependencies=[CsrfChecked])
async def choose_ward(request: Request, user: CurrentUser, pool: PoolDep,
                      code: Annotated[str, Form(pattern="^[0-9]{5}$")]) -> Response:
    """Show ward `code` on the ward pages (map, service points, ...) of this session."""
    _city_user(user)

    def find() -> WardRecord | None:
        with pool.connection() as conn:
            return get_ward_record(conn, user.scope, code)

    if await run_in_threadpool(find) is None:
        return Response(f"no ward {code}", status_code=404, media_type="text/plain")
    request.session[WARD_SESSION_KEY] = code
    return RedirectResponse("/map", status_code=303)
