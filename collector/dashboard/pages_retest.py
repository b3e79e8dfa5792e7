"""A done case's re-test: plan it (walk route as GPX, fixed probes, sample rule) and judge it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lomsong.analysis.thresholds import load_thresholds
from lomsong.collector.caseflow import MoveRefused, can_write
from lomsong.collector.dashboard.pages_cases import (
    actor_of,
    case_page,
    local_today,
    not_found,
    refusal,
)
from lomsong.collector.dashboard.web import CaseUser, CsrfChecked, Lang
from lomsong.collector.deps import PoolDep
from lomsong.collector.retest import judge_case, plan_retest
from lomsong.collector.storage.case_retests import get_plan
from lomsong.collector.storage.cases import get_case

__all__ = ["router"]

router = APIRouter(prefix="/cases", tags=["dashboard"], include_in_schema=False)


@router.post("/{case_id}/retest/plan", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def plan_form(request: Request, case_id: int, user: CaseUser, lang: Lang,
                    pool: PoolDep) -> Response:
    actor = actor_of(user)

    def plan() -> bool:
        with pool.connection() as conn:
            case = get_case(conn, case_id, actor.scope, local_today())
            if case is None or user.role == "carrier" or not can_write(
                    actor, ward_code=case.ward_code, carrier=case.carrier, state=case.state):
                return False
            plan_retest(conn, case, actor, load_thresholds())
            return True

    try:
        if not await run_in_threadpool(plan):
            return not_found(request, lang, user)
    except MoveRefused as exc:
        if exc.not_found:
            return not_found(request, lang, user)
        return await case_page(request, case_id, user, lang, pool, 422, refusal(exc, lang))
    return RedirectResponse(f"/cases/{case_id}?done=planned", status_code=303)


@router.get("/{case_id}/retest.gpx")
async def route_gpx(request: Request, case_id: int, user: CaseUser, lang: Lang,
                    pool: PoolDep) -> Response:
    def load() -> str | None:
        with pool.connection() as conn:
            plan = get_plan(conn, case_id, actor_of(user).scope)
            return None if plan is None else plan.route_gpx

    gpx = await run_in_threadpool(load)
    if gpx is None:
        return not_found(request, lang, user)
    return Response(gpx, media_type="application/gpx+xml", headers={
        "Content-Disposition": f'attachment; filename="lomsong-case-{case_id}.gpx"',
        "Cache-Control": "no-store"})


@router.post("/{case_id}/retest/judge", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def judge_form(request: Request, case_id: int, user: CaseUser, lang: Lang,
                     pool: PoolDep) -> Response:
    def judge() -> None:
        with pool.connection() as conn:
            judge_case(conn, case_id, actor_of(user), local_today(), load_thresholds())

    try:
        await run_in_threadpool(judge)
    except MoveRefused as exc:
        if exc.not_found:
            return not_found(request, lang, user)
        return await case_page(request, case_id, user, lang, pool, 422, refusal(exc, lang))
    return RedirectResponse(f"/cases/{case_id}?done=judged", status_code=303)
