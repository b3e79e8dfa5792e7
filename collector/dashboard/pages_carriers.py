"""Carrier organisations' accounts, managed by the city's administrator on the admin page.

A carrier account belongs to one organisation (Viettel, VNPT, MobiFone; names as the normaliser
of `probe.carriers` reads them) and sees only that carrier's asks, in every ward. Disabling one
asks first on a second page, as the admin page's other actions that cannot be undone.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from lomsong.collector.caseflow import CARRIERS
from lomsong.collector.dashboard.pages_admin import (
    Confirmed,
    admin_page_with,
    confirm_page,
    new_password_hash,
)
from lomsong.collector.dashboard.web import AdminUser, CsrfChecked, Forbidden, Lang, WardScope
from lomsong.collector.deps import PoolDep
from lomsong.collector.errors import StorageError
from lomsong.collector.storage.users import (
    UserRow,
    create_carrier_user,
    set_carrier_disabled,
)
from lomsong.maps.i18n import translator
from lomsong.probe.carriers import UnknownCarrier, carrier_code

__all__ = ["router"]

router = APIRouter(prefix="/admin/carriers", tags=["dashboard"], include_in_schema=False)
UserName = Annotated[str, Form(max_length=64)]


def _city_admin(user: UserRow) -> UserRow:
    if not (user.scope.city and user.scope.write):
        raise Forbidden("city_admin")
    return user


@router.post("", dependencies=[CsrfChecked])
async def add_carrier_user(request: Request, user: AdminUser, lang: Lang, pool: PoolDep,
                           scope: WardScope, username: UserName,
                           carrier: Annotated[str, Form(max_length=40)],
                           password: Annotated[str, Form(max_length=1024)]) -> Response:
    """A new user of a carrier organisation (city administrators only)."""
    _city_admin(user)
    try:
        code = carrier_code(carrier, CARRIERS)
    except UnknownCarrier as exc:
        return await admin_page_with(request, user, lang, pool, scope, 422, error=str(exc))
    password_hash = await new_password_hash(request, password, lang)
    if isinstance(password_hash, tuple):
        status, error = password_hash
        return await admin_page_with(request, user, lang, pool, scope, status, error=error)

    def create() -> None:
        with pool.connection() as conn:
            create_carrier_user(conn, username.strip().lower(), password_hash, code, user.scope)

    try:
        await run_in_threadpool(create)
    except StorageError as exc:
        return await admin_page_with(request, user, lang, pool, scope, 409, error=str(exc))
    return RedirectResponse("/admin?done=user_added", status_code=303)


@router.post("/disable", dependencies=[CsrfChecked])
async def disable_carrier_user(request: Request, user: AdminUser, lang: Lang, pool: PoolDep,
                               username: UserName, confirmed: Confirmed = "") -> Response:
    """Disable a carrier organisation's user (after a confirmation page); its sessions end."""
    _city_admin(user)
    if confirmed != "yes":
        _ = translator(lang)
        return confirm_page(request, user, lang, "/admin/carriers/disable", "username", username,
                            _("Disable the carrier account {name}? It is signed out at once.")
                            .format(name=username), _("Disable"))

    def change() -> bool:
        with pool.connection() as conn:
            return set_carrier_disabled(conn, username, True, user.scope)

    if not await run_in_threadpool(change):
        return Response(f"no carrier account {username!r}", status_code=404,
                        media_type="text/plain")
    return RedirectResponse("/admin?done=user_changed", status_code=303)
