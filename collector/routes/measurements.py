"""Ingest (probes) and query (readers) of measurements."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import StringConstraints, ValidationError

from lomsong.collector.deps import CurrentProbe, CurrentReader, PoolDep, SettingsDep
from lomsong.collector.errors import IdConflict
from lomsong.collector.schemas import (
    MAX_ERRORS,
    Batch,
    ErrorBody,
    ErrorItem,
    IngestResponse,
    MeasurementOut,
    Page,
    error_body,
)
from lomsong.collector.storage.ingest import IngestResult, StoredRecord, ingest
from lomsong.collector.storage.measurements import Filters, decode_cursor, list_measurements
from lomsong.collector.timefix import BatchClock, TimeRejected, effective_time
from lomsong.probe.record import Access, Carrier, Kind

router = APIRouter(prefix="/api/v1/measurements", tags=["measurements"])

# The wire record's rule for probe ids (`Measurement.probe_id`): anything else is refused (422).
PROBE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
ProbeIdParam = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=PROBE_ID_PATTERN)]

_BATCH_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Batch"}}},
    }
}


# Up to 10 errors in each of 5,000 records are listed (the first `MAX_ERRORS` of them).
LISTABLE_ERRORS = 50_000


class BatchRejected(Exception):
    """A batch failed validation; nothing from it is stored."""

    def __init__(self, detail: str, errors: Iterable[ErrorItem], total: int) -> None:
        super().__init__(detail)
        self.body = error_body(detail, errors, total)


def _error_items(exc: ValidationError) -> Iterator[ErrorItem]:
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = list(err["loc"])
        index: int | None = None
        if len(loc) >= 2 and loc[0] == "measurements" and isinstance(loc[1], int):
            index = loc[1]
            loc = loc[2:]
        yield ErrorItem(index=index, field=".".join(str(p) for p in loc) or None,
                        message=err["msg"])


class BatchTooLarge(Exception):
    """More records than the collector takes in one request."""


def _validate(body: bytes, probe_name: str, settings_future_s: float,
              received_at: datetime, max_records: int) -> list[StoredRecord]:
    try:
        batch = Batch.model_validate_json(body)
    except ValidationError as exc:
        if exc.error_count() > LISTABLE_ERRORS:
            # Listing them would double the memory pydantic already took (hundreds of MB for a
            # record with a million unknown keys); no batch a probe makes has this many.
            raise BatchRejected(f"{exc.error_count()} errors, too many to list: this is not a"
                                " batch a probe makes; nothing was stored", [], 0) from exc
        items = list(islice(_error_items(exc), MAX_ERRORS))
        bad = len({i.index for i in items if i.index is not None})
        detail = (f"{bad}{'+' if exc.error_count() > len(items) else ''} record(s) invalid;"
                  " nothing from this batch was stored" if bad
                  else "request body is not a valid batch; nothing was stored")
        raise BatchRejected(detail, items, exc.error_count()) from exc
    if len(batch.measurements) > max_records:
        raise BatchTooLarge(f"at most {max_records} records per batch; split it and resend")
    clock = BatchClock(boot_id=batch.boot_id, monotonic_s=batch.monotonic_s, sent_at=batch.sent_at)
    records: list[StoredRecord] = []
    errors: list[ErrorItem] = []
    first_with: dict[UUID, int] = {}
    for index, m in enumerate(batch.measurements):
        earlier = first_with.setdefault(m.id, index)
        if earlier != index:
            errors.append(ErrorItem(index=index, field="id", message=(
                f"records {earlier} and {index} of this batch have the same id {m.id}")))
            continue
        if m.probe_id != probe_name:
            errors.append(ErrorItem(index=index, field="probe_id",
                                    message=f"this token writes only as probe {probe_name!r}"))
            continue
        try:
            time, state = effective_time(m, clock, received_at,
                                         future_tolerance_s=settings_future_s)
        except TimeRejected as exc:
            errors.append(ErrorItem(index=index, field="measured_at", message=str(exc)))
            continue
        records.append(StoredRecord(measurement=m, time=time, clock=state))
    if errors:
        detail = f"{len(errors)} record(s) rejected; nothing from this batch was stored"
        raise BatchRejected(detail, errors, len(errors))
    return records


@router.post(
    "",
    response_model=IngestResponse,
    openapi_extra=_BATCH_SCHEMA,
    responses={
        401: {"model": ErrorBody, "description": "missing or unknown token"},
        403: {"model": ErrorBody, "description": "token may not write"},
        413: {"model": ErrorBody, "description": "body or batch too large"},
        422: {"model": ErrorBody, "description": "invalid records; nothing stored"},
        503: {"model": ErrorBody, "description": "database unavailable; retry later"},
    },
)
async def post_measurements(
    request: Request, probe: CurrentProbe, pool: PoolDep, settings: SettingsDep
) -> IngestResponse | JSONResponse:
    """Store a batch of measurements, all or nothing; resending a batch is harmless.

    A batch with any invalid record stores none of them: the 422 body lists each bad record's
    index and field, so the probe can set those aside and resend the rest.
    """
    body = await request.body()  # at most settings.max_body_bytes (collector.bodylimit)
    received_at = datetime.now(UTC)
    try:
        records = await run_in_threadpool(
            _validate, body, probe.name, settings.future_tolerance_s, received_at,
            settings.max_batch_records,
        )
    except BatchRejected as exc:
        return JSONResponse(exc.body.model_dump(), status_code=422)
    except BatchTooLarge as exc:
        raise HTTPException(413, detail=str(exc)) from exc

    def store() -> IngestResult:
        with pool.connection() as conn:
            return ingest(conn, records, received_at, probe.ward_code)

    try:
        result = await run_in_threadpool(store)
    except IdConflict as exc:
        index_of = {str(r.measurement.id): i for i, r in enumerate(records)}
        conflicts = [ErrorItem(index=index_of[i], field="id", message=(
            f"id {i} was already stored by another probe ({owner}); make a new id"))
            for i, owner in sorted(exc.owners.items(), key=lambda kv: index_of[kv[0]])]
        reply = error_body(f"{len(conflicts)} record(s) conflict with another probe's records;"
                           " nothing from this batch was stored", conflicts, len(conflicts))
        return JSONResponse(reply.model_dump(), status_code=422)
    return IngestResponse(received=result.received, stored=result.stored,
                          duplicates=result.duplicates)


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        parts = tuple(float(p) for p in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4 or not (-180 <= parts[0] <= parts[2] <= 180
                               and -90 <= parts[1] <= parts[3] <= 90):
        raise HTTPException(422, detail="bbox must be min_lon,min_lat,max_lon,max_lat in degrees")
    return parts[0], parts[1], parts[2], parts[3]


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise HTTPException(422, detail=f"{name} must include a timezone, e.g. 2026-11-01T00:00Z")
    return value


@router.get("", response_model=Page[MeasurementOut],
            responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                       422: {"model": ErrorBody}, 503: {"model": ErrorBody}})
async def get_measurements(
    reader: CurrentReader,
    pool: PoolDep,
    start: Annotated[datetime | None, Query(alias="from", description="inclusive, ISO 8601")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="exclusive, ISO 8601")] = None,
    bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat",
                                      max_length=200)] = None,
    carrier: Annotated[list[Carrier] | None, Query()] = None,
    access: Annotated[list[Access] | None, Query()] = None,
    kind: Annotated[list[Kind] | None, Query()] = None,
    probe_id: Annotated[list[ProbeIdParam] | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=5_000)] = 500,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    include_raw: bool = False,
) -> Page[MeasurementOut]:
    """Measurements ordered by time, one page at a time (`next_cursor` continues)."""
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except ValueError as exc:
            raise HTTPException(422, detail=str(exc)) from exc
    filters = Filters(
        start=_aware("from", start), end=_aware("to", end), bbox=_bbox(bbox),
        carriers=[c.value for c in carrier or ()], accesses=[a.value for a in access or ()],
        kinds=[k.value for k in kind or ()], probe_ids=probe_id or (),
    )

    def query() -> Page[MeasurementOut]:
        with pool.connection() as conn:
            page = list_measurements(conn, filters, limit=limit, cursor=cursor,
                                     include_raw=include_raw, scope=reader.scope)
        items: list[Any] = [MeasurementOut.from_row(r) for r in page.items]
        return Page[MeasurementOut](items=items, next_cursor=page.next_cursor)

    return await run_in_threadpool(query)
