"""Data management (admins): service points (form and file upload), the ward, probes and users."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lomsong.collector.caseflow import CARRIERS
from lomsong.collector.dashboard.security import HashGate, HashingBusy, hash_password
from lomsong.collector.dashboard.site_upload import (
    MAX_UPLOAD_BYTES,
    SITE_TYPES,
    UploadError,
    point_from_form,
    points_from_file,
)
from lomsong.collector.dashboard.upload_checks import ward_geojson
from lomsong.collector.dashboard.web import (
    AdminUser,
    CsrfChecked,
    Lang,
    Page,
    WardScope,
    render,
)
from lomsong.collector.deps import PoolDep
from lomsong.collector.errors import StorageError
from lomsong.collector.storage.fleet import list_fleet
from lomsong.collector.storage.scope import Scope, ScopeError
from lomsong.collector.storage.sites import (
    delete_site,
    get_ward,
    list_sites,
    replace_sites,
    save_site,
    set_ward,
)
from lomsong.collector.storage.tokens import PROBE_NAME, create_token, revoke_token
from lomsong.collector.storage.users import (
    create_user,
    list_carrier_users,
    list_users,
    set_disabled,
)
from lomsong.collector.survey import boundary_frame
from lomsong.maps.i18n import translator

__all__ = ["MIN_PASSWORD_CHARS", "Confirmed", "admin_page_with", "confirm_page", "router"]

router = APIRouter(prefix="/admin", tags=["dashboard"], include_in_schema=False)
Text = Annotated[str, Form(max_length=300)]
# Messages shown after a redirect, by code (only these codes are accepted in the query).
MIN_PASSWORD_CHARS = 10
NOTICES = ("saved", "deleted", "imported", "revoked", "user_added", "user_changed")


async def _data(pool: PoolDep, scope: Scope) -> dict[str, Any]:
    def load() -> dict[str, Any]:
        with pool.connection() as conn:
            return {"sites": list_sites(conn, scope), "ward": get_ward(conn, scope),
                    "probes": list_fleet(conn, scope), "users": list_users(conn, scope)}

    return await run_in_threadpool(load)


async def _admin_page(request: Request, user: AdminUser, lang: Lang, pool: PoolDep,
                      scope: Scope, status_code: int = 200, **extra: Any) -> HTMLResponse:
    notice = request.query_params.get("done")
    context = {"notice": notice if notice in NOTICES else None, "error": None, "token": None,
               "site_types": SITE_TYPES, "max_upload_kib": MAX_UPLOAD_BYTES // 1024,
               "edit": None, **extra}

    def carriers() -> list[Any]:  # the carrier organisations' users: the city admin's part
        with pool.connection() as conn:
            return list_carrier_users(conn, user.scope) if user.scope.write else []

    return render(Page(request, lang, user, "admin"), "admin.html", status_code,
                  **await _data(pool, scope), carrier_users=await run_in_threadpool(carriers),
                  carrier_codes=CARRIERS, **context)


admin_page_with = _admin_page  # for the carrier accounts (pages_carriers)


@router.get("", response_class=HTMLResponse)
async def admin_page(request: Request, user: AdminUser, lang: Lang, pool: PoolDep,
                     scope: WardScope, edit: str | None = None) -> HTMLResponse:
    sites = {s.site_id: s for s in (await _data(pool, scope))["sites"]}
    return await _admin_page(request, user, lang, pool, scope, edit=sites.get(edit or ""))


def _done(code: str) -> RedirectResponse:
    return RedirectResponse(f"/admin?done={code}", status_code=303)


@router.post("/sites", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def save_site_form(request: Request, user: AdminUser, lang: Lang, pool: PoolDep,
                         scope: WardScope, site_id: Text = "", name: Text = "", site_type: Text = "",
                         address: Text = "", lat: Text = "", lon: Text = "") -> Response:
    form = {"site_id": site_id, "name": name, "site_type": site_type, "address": address,
            "lat": lat, "lon": lon}
    try:
        point = point_from_form(form)
    except UploadError as exc:
        return await _admin_page(request, user, lang, pool, scope, 422, error=str(exc))

    def store() -> None:
        with pool.connection() as conn:
            save_site(conn, point, scope)

    try:
        await run_in_threadpool(store)
    except ScopeError as exc:
        return await _admin_page(request, user, lang, pool, scope, 409, error=str(exc))
    return _done("saved")


Confirmed = Annotated[str, Form(max_length=3)]


def _confirm(request: Request, user: AdminUser, lang: Lang, action: str, field: str, value: str,
             question: str, button: str) -> HTMLResponse:
    """The second step of an action that cannot be undone: the same form, with ``confirmed``."""
    return render(Page(request, lang, user, "admin"), "confirm.html", action=action, field=field,
                  value=value, question=question, button=button)


confirm_page = _confirm


@router.post("/sites/delete", dependencies=[CsrfChecked])
async def delete_site_form(request: Request, user: AdminUser, lang: Lang, pool: PoolDep,
                           scope: WardScope, site_id: Annotated[str, Form(max_length=64)],
                           confirmed: Confirmed = "") -> Response:
    if confirmed != "yes":
        _ = translator(lang)
        return _confirm(request, user, lang, "/admin/sites/delete", "site_id", site_id,
                        _("Delete service point {site}?").format(site=site_id), _("Delete"))

    def remove() -> None:
        with pool.connection() as conn:
            delete_site(conn, site_id, scope)

    await run_in_threadpool(remove)
    return _done("deleted")


@router.post("/sites/upload", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def upload_sites(request: Request, user: AdminUser, lang: Lang, pool: PoolDep,
                       scope: WardScope, file: UploadFile) -> Response:
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    try:
        points = await run_in_threadpool(points_from_file, file.filename or "upload", data)
    except UploadError as exc:
        return await _admin_page(request, user, lang, pool, scope, 422, error=str(exc))

    def store() -> None:
        with pool.connection() as conn:
            replace_sites(conn, points, scope)

    try:
        await run_in_threadpool(store)
    except ScopeError as exc:
        return await _admin_page(request, user, lang, pool, scope, 409, error=str(exc))
    return _done("imported")


@router.post("/ward", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def save_ward(request: Request, user: AdminUser, lang: Lang, pool: PoolDep,
                    scope: WardScope, ward_name: Annotated[str, Form(min_length=1, max_length=200)],
                    boundary: UploadFile | None = None) -> Response:
    text: str | None = None
    if boundary is not None and boundary.filename:
        raw = await boundary.read(MAX_UPLOAD_BYTES + 1)
        try:
            if len(raw) > MAX_UPLOAD_BYTES:
                raise ValueError(f"larger than {MAX_UPLOAD_BYTES // 1024} KiB")
            text = json.dumps(ward_geojson(raw.decode("utf-8"), boundary.filename))
            frame = boundary_frame(text, ward_name)
            if frame is None or frame.empty:
                raise ValueError("expected Polygon or MultiPolygon features")
        except UploadError as exc:
            return await _admin_page(request, user, lang, pool, scope, 422, error=str(exc))
        except ValueError as exc:  # not UTF-8, too large, or a shape GEOS refuses
            message = f"{boundary.filename}: {exc}"
            return await _admin_page(request, user, lang, pool, scope, 422, error=message)

    def store() -> None:
        with pool.connection() as conn:
            current = get_ward(conn, scope)
            keep = current.boundary_json if current and text is None else text
            set_ward(conn, ward_name.strip(), keep, scope)

    await run_in_threadpool(store)
    return _done("saved")


@router.post("/probes", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def add_probe(request: Request, user: AdminUser, lang: Lang, pool: PoolDep,
                    scope: WardScope, name: Annotated[str, Form(max_length=100)]) -> HTMLResponse:
    if not PROBE_NAME.fullmatch(name):
        error = f"name: {name!r} must be 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit)"
        return await _admin_page(request, user, lang, pool, scope, 422, error=error)

    def create() -> str:
        with pool.connection() as conn:
            return create_token(conn, name, "probe", scope)

    try:
        token = await run_in_threadpool(create)
    except StorageError as exc:
        return await _admin_page(request, user, lang, pool, scope, 409, error=str(exc))
    return await _admin_page(request, user, lang, pool, scope,
                             token={"name": name, "token": token})


@router.post("/probes/revoke", dependencies=[CsrfChecked])
async def revoke_probe(request: Request, user: AdminUser, lang: Lang, pool: PoolDep,
                       scope: WardScope, name: Annotated[str, Form(max_length=64)],
                       confirmed: Confirmed = "") -> Response:
    if confirmed != "yes":
        _ = translator(lang)
        return _confirm(request, user, lang, "/admin/probes/revoke", "name", name,
                        _("Revoke the token of probe {probe}? It can no longer upload.").format(
                            probe=name),
                        _("Revoke"))
    def revoke() -> None:
        with pool.connection() as conn:
            revoke_token(conn, name, "probe", scope)

    await run_in_threadpool(revoke)
    return _done("revoked")


async def new_password_hash(request: Request, password: str, lang: str) -> str | tuple[int, str]:
    """The hash of a new account's `password`, or (HTTP status, why not) when it is too short or
    every hashing slot stayed busy."""
    _ = translator(lang)
    if len(password) < MIN_PASSWORD_CHARS:
        return 422, _("{field}: at least {count} characters").format(
            field=_("Password"), count=MIN_PASSWORD_CHARS)
    gate: HashGate = request.app.state.hash_gate
    try:
        async with gate.slot():
            hashed: str = await run_in_threadpool(hash_password, password)
            return hashed
    except HashingBusy:
        return 503, _("The server is busy checking other sign-ins; try again in a few seconds.")


@router.post("/users", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def add_user(request: Request, user: AdminUser, lang: Lang, pool: PoolDep,
                   scope: WardScope, username: Annotated[str, Form(max_length=64)],
                   role: Annotated[str, Form(pattern="^(admin|officer)$")],
                   password: Annotated[str, Form(max_length=1024)]) -> Response:
    password_hash = await new_password_hash(request, password, lang)
    if isinstance(password_hash, tuple):
        status, error = password_hash
        return await _admin_page(request, user, lang, pool, scope, status, error=error)

    def create() -> None:
        with pool.connection() as conn:
            create_user(conn, username.strip().lower(), password_hash,
                        "admin" if role == "admin" else "officer", ward_code=scope.home())

    try:
        await run_in_threadpool(create)
    except StorageError as exc:
        return await _admin_page(request, user, lang, pool, scope, 409, error=str(exc))
    return _done("user_added")


@router.post("/users/disable", dependencies=[CsrfChecked])
async def toggle_user(user: AdminUser, pool: PoolDep, scope: WardScope,
                      username: Annotated[str, Form(max_length=64)],
                      disabled: Annotated[bool, Form()]) -> RedirectResponse:
    def change() -> None:
        with pool.connection() as conn:
            if username != user.username:
                set_disabled(conn, username, disabled, scope)

    await run_in_threadpool(change)
    return _done("user_changed")
