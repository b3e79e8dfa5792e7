"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from lomsong.collector.deps import PoolDep, SettingsDep
from lomsong.collector.storage.migrate import MigrationStatus, status_of

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "database unreachable or not migrated"}})
async def readyz(pool: PoolDep, settings: SettingsDep) -> JSONResponse:
    """The database answers and its schema is current (errors become 503 via the app handlers)."""

    def check() -> MigrationStatus:
        with pool.connection() as conn:
            return status_of(conn)

    status = await run_in_threadpool(check)
    body = {
        "status": "ready" if status.current else "migrations pending",
        "tier": status.tier.value,
        "pending": list(status.pending),
        "unknown": list(status.unknown),
    }
    headers = {} if status.current else {"Retry-After": str(settings.retry_after_s)}
    return JSONResponse(body, status_code=200 if status.current else 503, headers=headers)
