"""Cases (asks to carriers): list, open, move, reply, attach files. Scoped in storage queries.

Ward officers open and send their ward's asks; carrier accounts acknowledge, plan and mark them
done, reply and attach files; the re-test routes (`pages_retest`) judge done cases. A case outside
the user's scope answers 404, the same as a case that does not exist.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lomsong.collector.caseflow import (
    CARRIERS,
    Actor,
    MoveRefused,
    allowed_moves,
    can_write,
)
from lomsong.collector.dashboard.case_upload import MAX_FILE_BYTES, FileRefused, checked_file
from lomsong.collector.dashboard.web import CaseUser, CsrfChecked, Lang, Page, render
from lomsong.collector.deps import PoolDep
from lomsong.collector.storage.case_files import add_file, get_file_content, list_files
from lomsong.collector.storage.case_retests import get_plan, list_verdicts
from lomsong.collector.storage.cases import (
    NewCase,
    create_case,
    get_case,
    list_cases,
    list_events,
    move_case,
    reply_case,
)
from lomsong.collector.storage.retest_requests import list_requests
from lomsong.collector.storage.scope import ScopeError
from lomsong.collector.storage.users import UserRow
from lomsong.maps.i18n import translator
from lomsong.maps.labels import label

__all__ = ["actor_of", "local_today", "not_found", "refusal", "router"]

router = APIRouter(prefix="/cases", tags=["dashboard"], include_in_schema=False)
Note = Annotated[str, Form(max_length=2000)]
Short = Annotated[str, Form(max_length=200)]
_WARD_CODE = re.compile(r"[0-9]{5}")
_LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
_ACCESS = ("4g", "5g_nsa", "5g_sa")
NOTICES = ("created", "moved", "replied", "attached", "planned", "judged")


def actor_of(user: UserRow) -> Actor:
    return Actor(user.username, user.role, user.case_scope)


def _may_create(actor: Actor) -> bool:
    """Ward staff of a ward record, and the city administrator (who names the ward)."""
    scope = actor.scope
    return scope.write and scope.carrier is None and (scope.city or scope.ward_code is not None)


def local_today() -> date:
    """Today in the ward's time zone (dates on letters and promises are local dates)."""
    return datetime.now(_LOCAL).date()


def not_found(request: Request, lang: str, user: UserRow) -> HTMLResponse:
    _ = translator(lang)
    return render(Page(request, lang, user, "cases"), "error.html", 404,
                  message=_("No such case."))


def refusal(exc: MoveRefused, lang: str) -> str:
    """The refusal in the user's language, states by their labels."""
    _ = translator(lang)
    params = {k: label("case_state", v, _) if k in ("frm", "to") else v
              for k, v in exc.params.items()}
    return _(exc.message).format(**params)


def _done(case_id: int, code: str) -> RedirectResponse:
    return RedirectResponse(f"/cases/{case_id}?done={code}", status_code=303)


@router.get("", response_class=HTMLResponse)
async def cases_list(request: Request, user: CaseUser, lang: Lang, pool: PoolDep) -> HTMLResponse:
    return await cases_page(request, user, lang, pool)


async def cases_page(request: Request, user: UserRow, lang: str, pool: PoolDep,
                     status_code: int = 200, error: str | None = None) -> HTMLResponse:
    """The list of the user's cases (and the new-case form), with a form error if any."""

    def load() -> list[Any]:
        with pool.connection() as conn:
            return list_cases(conn, actor_of(user).scope, local_today())

    rows = await run_in_threadpool(load)
    return render(Page(request, lang, user, "cases"), "cases.html", status_code, cases=rows,
                  may_create=_may_create(actor_of(user)), carriers=CARRIERS, accesses=_ACCESS, error=error)


def _float(text: str, field: str, low: float, high: float, lang: str) -> float:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        message = translator(lang)("{field}: a number from {low} to {high}")
        raise ValueError(message.format(field=field, low=f"{low:g}", high=f"{high:g}"))
    return value


@router.post("", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def create_case_form(request: Request, user: CaseUser, lang: Lang, pool: PoolDep,
                           title: Short, carrier: Short, access: Short, lat: Short, lon: Short,
                           body: Annotated[str, Form(max_length=5000)] = "",
                           site_id: Annotated[str, Form(max_length=64)] = "",
                           radius_m: Short = "150", ward_code: Short = "") -> Response:
    _ = translator(lang)
    actor = actor_of(user)
    if not _may_create(actor):
        return not_found(request, lang, user)
    ward = ward_code.strip() if actor.scope.city else actor.scope.ward_code
    try:
        if ward is None or not _WARD_CODE.fullmatch(ward):
            raise ValueError(_("ward_code: the official 5-digit code of the 2025 ward"))
        if carrier not in CARRIERS:
            raise ValueError(f"carrier: {carrier!r}")
        if access not in _ACCESS:
            raise ValueError(f"access: {access!r}")
        if not title.strip():
            raise ValueError(_("title: required"))
        new = NewCase(ward, carrier, access, title.strip(), body.strip(), site_id.strip() or None,
                      _float(lat, "lat", -90, 90, lang), _float(lon, "lon", -180, 180, lang),
                      _float(radius_m, "radius_m", 10, 2000, lang))
    except ValueError as exc:
        return await cases_page(request, user, lang, pool, 422, str(exc))

    def store() -> int:
        with pool.connection() as conn:
            return create_case(conn, new, actor)

    try:
        return _done(await run_in_threadpool(store), "created")
    except ScopeError:
        return await cases_page(request, user, lang, pool, 422,
                                _("ward_code: the official 5-digit code of the 2025 ward"))


@router.get("/{case_id}", response_class=HTMLResponse)
async def case_view(request: Request, case_id: int, user: CaseUser, lang: Lang,
                    pool: PoolDep) -> HTMLResponse:
    return await case_page(request, case_id, user, lang, pool)


async def case_page(request: Request, case_id: int, user: UserRow, lang: str, pool: PoolDep,
                    status_code: int = 200, error: str | None = None) -> HTMLResponse:
    """One case with its history, files, re-test and the forms the user may use."""
    actor = actor_of(user)

    def load() -> dict[str, Any] | None:
        with pool.connection() as conn:
            scope = actor.scope
            case = get_case(conn, case_id, scope, local_today())
            if case is None:
                return None
            return {"case": case, "events": list_events(conn, case.id, scope),
                    "files": list_files(conn, case.id, scope),
                    "plan": get_plan(conn, case.id, scope),
                    "verdicts": list_verdicts(conn, case.id, scope),
                    "retest_requests": list_requests(conn, case.id)}

    data = await run_in_threadpool(load)
    if data is None:
        return not_found(request, lang, user)
    case = data["case"]
    writable = can_write(actor, ward_code=case.ward_code, carrier=case.carrier, state=case.state)
    notice = request.query_params.get("done")
    return render(Page(request, lang, user, "cases"), "case.html", status_code, **data,
                  moves=allowed_moves(case.state, actor) if writable else (),
                  writable=writable, may_judge=writable and user.role != "carrier",
                  notice=notice if notice in NOTICES else None, error=error,
                  max_file_mib=MAX_FILE_BYTES // (1024 * 1024))


def _date(text: str, field: str, lang: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        message = translator(lang)("{field}: not a date (YYYY-MM-DD)")
        raise ValueError(message.format(field=field)) from exc


@router.post("/{case_id}/move", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def move_form(request: Request, case_id: int, user: CaseUser, lang: Lang, pool: PoolDep,
                    to: Annotated[str, Form(max_length=20)], note: Note = "",
                    sent_on: Short = "", document_no: Annotated[str, Form(max_length=100)] = "",
                    reply_due_on: Short = "", action: Note = "",
                    carrier_site_code: Annotated[str, Form(max_length=100)] = "",
                    promised_on: Short = "") -> Response:
    try:
        values: dict[str, Any] = {
            "sent_on": _date(sent_on, "sent_on", lang), "document_no": document_no.strip(),
            "reply_due_on": _date(reply_due_on, "reply_due_on", lang), "action": action.strip(),
            "carrier_site_code": carrier_site_code.strip(),
            "promised_on": _date(promised_on, "promised_on", lang), "done_at": datetime.now(UTC)}
    except ValueError as exc:
        return await case_page(request, case_id, user, lang, pool, 422, str(exc))

    def store() -> None:
        with pool.connection() as conn:
            move_case(conn, case_id, to, actor_of(user), local_today(), note.strip(), values)

    try:
        await run_in_threadpool(store)
    except MoveRefused as exc:
        if exc.not_found:
            return not_found(request, lang, user)
        return await case_page(request, case_id, user, lang, pool, 422, refusal(exc, lang))
    return _done(case_id, "moved")


async def _writable_case(pool: PoolDep, case_id: int, user: UserRow) -> bool:
    def check() -> bool:
        with pool.connection() as conn:
            case = get_case(conn, case_id, actor_of(user).scope, local_today())
        return case is not None and can_write(actor_of(user), ward_code=case.ward_code,
                                              carrier=case.carrier, state=case.state)

    return await run_in_threadpool(check)


@router.post("/{case_id}/reply", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def reply_form(request: Request, case_id: int, user: CaseUser, lang: Lang, pool: PoolDep,
                     note: Annotated[str, Form(min_length=1, max_length=2000)]) -> Response:
    def store() -> bool:
        with pool.connection() as conn:
            return reply_case(conn, case_id, actor_of(user), note.strip())

    if not await run_in_threadpool(store):
        return not_found(request, lang, user)
    return _done(case_id, "replied")


@router.post("/{case_id}/files", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def upload_form(request: Request, case_id: int, user: CaseUser, lang: Lang, pool: PoolDep,
                      file: UploadFile) -> Response:
    if not await _writable_case(pool, case_id, user):
        return not_found(request, lang, user)
    _ = translator(lang)
    content = await file.read(MAX_FILE_BYTES + 1)
    try:
        name, media_type = checked_file(file.filename or "file", content)
    except FileRefused as exc:
        return await case_page(request, case_id, user, lang, pool, 422, _(exc.message).format(
            mib=MAX_FILE_BYTES // (1024 * 1024)))

    def store() -> int | None:
        with pool.connection() as conn:
            return add_file(conn, case_id, name, media_type, content, actor_of(user))

    try:
        stored = await run_in_threadpool(store)
    except MoveRefused:
        return not_found(request, lang, user)
    if stored is None:
        return await case_page(request, case_id, user, lang, pool, 422,
                               _("file: this case holds as many files as it may"))
    return _done(case_id, "attached")


@router.get("/{case_id}/files/{file_id}")
async def download_file(request: Request, case_id: int, file_id: int, user: CaseUser,
                        lang: Lang, pool: PoolDep) -> Response:
    def load() -> tuple[Any, bytes] | None:
        with pool.connection() as conn:
            return get_file_content(conn, case_id, file_id, actor_of(user).scope)

    found = await run_in_threadpool(load)
    if found is None:
        return not_found(request, lang, user)
    meta, content = found
    return Response(content, media_type=meta.media_type, headers={
        "Content-Disposition": f'attachment; filename="{meta.filename}"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})
