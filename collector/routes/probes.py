"""Probe health reports: a probe posts its own queue, budget, clock and last error."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from lomsong.collector.deps import CurrentProbe, PoolDep
from lomsong.collector.schemas import ErrorBody
from lomsong.collector.storage.fleet import ProbeStatus, record_status
from lomsong.collector.storage.retest_requests import requests_for_probe
from lomsong.collector.storage.servers import list_servers
from lomsong.probe.record import ClockState

__all__ = ["PoolOut", "ProbeStatusIn", "ProbeStatusOut", "RetestOut", "ScheduleOut", "ServerOut",
           "router"]

router = APIRouter(prefix="/api/v1/probes", tags=["probes"])

_MAX_COUNT = 2**53


class ProbeStatusIn(BaseModel):
    """A probe's view of itself; the probe is the token's owner (no name in the body)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    queue_pending: int = Field(ge=0, le=_MAX_COUNT, description="records waiting in the spool")
    rejected: int = Field(ge=0, le=_MAX_COUNT, description="records the collector refused")
    dropped: int = Field(ge=0, le=_MAX_COUNT, description="records dropped by the spool bound")
    last_upload_at: AwareDatetime | None = None
    budget_used_bytes: int | None = Field(default=None, ge=0, le=_MAX_COUNT)
    budget_limit_bytes: int | None = Field(default=None, ge=0, le=_MAX_COUNT)
    clock: ClockState
    last_error: str | None = Field(default=None, max_length=2000)
    version: str | None = Field(default=None, max_length=64)

    @field_validator("last_error", "version")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class ProbeStatusOut(BaseModel):
    probe: str
    reported_at: datetime


@router.post(
    "/status",
    response_model=ProbeStatusOut,
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 422: {"model": ErrorBody},
               503: {"model": ErrorBody}},
)
async def post_status(body: ProbeStatusIn, probe: CurrentProbe, pool: PoolDep) -> ProbeStatusOut:
    """Record the calling probe's status (each report replaces the previous one)."""
    reported_at = datetime.now(UTC)
    stored = ProbeStatus(
        queue_pending=body.queue_pending, rejected=body.rejected, dropped=body.dropped,
        last_upload_at=body.last_upload_at, budget_used_bytes=body.budget_used_bytes,
        budget_limit_bytes=body.budget_limit_bytes, clock=body.clock.value,
        last_error=body.last_error, version=body.version,
    )

    def store() -> None:
        with pool.connection() as conn:
            record_status(conn, probe.name, stored, reported_at)

    await run_in_threadpool(store)
    return ProbeStatusOut(probe=probe.name, reported_at=reported_at)


class ServerOut(BaseModel):
    address: str
    capacity: float


class PoolOut(BaseModel):
    servers: list[ServerOut]


@router.get(
    "/servers",
    response_model=PoolOut,
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 503: {"model": ErrorBody}},
)
async def get_servers(probe: CurrentProbe, pool: PoolDep) -> PoolOut:
    """The city's iperf3 servers, for a probe whose probe.toml says ``[pool] from_collector``."""

    def read() -> PoolOut:
        with pool.connection() as conn:
            return PoolOut(servers=[ServerOut(address=s.address, capacity=s.capacity)
                                    for s in list_servers(conn)])

    return await run_in_threadpool(read)


class RetestOut(BaseModel):
    """Test `carrier`'s path every `every_min` minutes from `starts_at` until `ends_at`, at most
    `max_extra_per_day` tests a day more than the probe's own schedule (its cap may be lower)."""

    case_id: int
    carrier: str
    access: str
    starts_at: datetime
    ends_at: datetime
    every_min: int
    max_extra_per_day: int


class ScheduleOut(BaseModel):
    generated_at: datetime
    retests: list[RetestOut]


@router.get(
    "/schedule",
    response_model=ScheduleOut,
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 503: {"model": ErrorBody}},
)
async def get_schedule(probe: CurrentProbe, pool: PoolDep) -> ScheduleOut:
    """The calling probe's re-test requests not yet ended (a done case's nearby fixed probes test
    its carrier more often until it is judged); another probe's requests are never listed."""
    now = datetime.now(UTC)

    def read() -> ScheduleOut:
        with pool.connection() as conn:
            rows = requests_for_probe(conn, probe.name, probe.scope, now)
        return ScheduleOut(generated_at=now, retests=[RetestOut(
            case_id=r.case_id, carrier=r.carrier, access=r.access, starts_at=r.starts_at,
            ends_at=r.ends_at, every_min=r.every_min, max_extra_per_day=r.max_extra_per_day)
            for r in rows])

    return await run_in_threadpool(read)
