"""Results from the phone page: the same wire record, validation and ingest as a probe's.

The page posts a `Batch` of `Measurement` records with ids made on the phone (a resend is
harmless). On top of the record's own validation the link decides what the records may say:
source ``browser``, tool ``lomsong-web``, one phone (``web-`` and its random id) per batch, and the
link's service point. Plausibility flags are kept beside each record; they never reject it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from lomsong.collector.deps import PoolDep, SettingsDep
from lomsong.collector.phone.enrol import CurrentEnrolment
from lomsong.collector.phone.plausible import flag_records
from lomsong.collector.schemas import Batch, ErrorBody, ErrorItem
from lomsong.collector.storage.enrolments import (
    BrowserNote,
    Enrolment,
    note_browser_records,
    recent_device_records,
)
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.collector.timefix import BatchClock, TimeRejected, effective_time
from lomsong.probe.record import Source

__all__ = ["BODY_MAX_BYTES", "MAX_RECORDS", "TOOL", "router"]

TOOL: Final = "lomsong-web"
MAX_RECORDS: Final = 200
BODY_MAX_BYTES: Final = 512 * 1024
DEVICE: Final = re.compile(r"^web-[0-9a-f]{16}$")

router = APIRouter(prefix="/do/api", tags=["phone page"], include_in_schema=False)


class Rejected(Exception):
    def __init__(self, detail: str, errors: list[ErrorItem]) -> None:
        super().__init__(detail)
        self.body = ErrorBody(detail=detail, errors=errors)


def check_batch(body: bytes, enrolment: Enrolment, received_at: datetime,
                future_tolerance_s: float) -> tuple[str, list[StoredRecord]]:
    """The phone's id and the records to store, or `Rejected` naming each bad record's field."""
    try:
        batch = Batch.model_validate_json(body)
    except ValidationError as exc:
        items = [ErrorItem(index=e["loc"][1] if len(e["loc"]) > 1 and isinstance(e["loc"][1], int)
                           else None,
                           field=".".join(str(p) for p in e["loc"][2:] or e["loc"]) or None,
                           message=e["msg"])
                 for e in exc.errors(include_url=False, include_input=False)]
        raise Rejected("invalid records; nothing from this batch was stored", items) from exc
    if len(batch.measurements) > MAX_RECORDS:
        raise Rejected(f"at most {MAX_RECORDS} records per batch", [])
    device = batch.measurements[0].probe_id
    clock = BatchClock(boot_id=None, monotonic_s=None, sent_at=batch.sent_at)
    errors: list[ErrorItem] = []
    records: list[StoredRecord] = []
    for index, m in enumerate(batch.measurements):
        rules = (("probe_id", m.probe_id == device and DEVICE.match(device) is not None,
                  "must be the phone's id, web- and 16 hex digits, the same in the batch"),
                 ("source", m.source is Source.BROWSER, "must be browser"),
                 ("tool", m.tool == TOOL, f"must be {TOOL}"),
                 ("site_id", m.site_id == enrolment.site_id,
                  f"this link measures at {enrolment.site_id or 'no service point'}"))
        bad = [ErrorItem(index=index, field=f, message=msg) for f, ok, msg in rules if not ok]
        if not bad:
            try:
                time, state = effective_time(m, clock, received_at,
                                             future_tolerance_s=future_tolerance_s)
            except TimeRejected as exc:
                bad.append(ErrorItem(index=index, field="measured_at", message=str(exc)))
            else:
                records.append(StoredRecord(measurement=m, time=time, clock=state))
        errors.extend(bad)
    if errors:
        raise Rejected(f"{len({e.index for e in errors})} record(s) rejected;"
                       " nothing from this batch was stored", errors)
    return device, records


@router.post("/results")
async def post_results(request: Request, enrolment: CurrentEnrolment, pool: PoolDep,
                       settings: SettingsDep) -> JSONResponse:
    """Store the page's records, all or nothing, with their plausibility flags."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > BODY_MAX_BYTES:
        raise HTTPException(413, detail=f"body larger than {BODY_MAX_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > BODY_MAX_BYTES:
            raise HTTPException(413, detail=f"body larger than {BODY_MAX_BYTES} bytes")
        chunks.append(chunk)
    received_at = datetime.now(UTC)
    try:
        device, records = await run_in_threadpool(
            check_batch, b"".join(chunks), enrolment, received_at, settings.future_tolerance_s)
    except Rejected as exc:
        return JSONResponse(exc.body.model_dump(), status_code=422)

    def store() -> tuple[int, int, dict[str, list[str]]]:
        with pool.connection() as conn:
            history = recent_device_records(conn, device, received_at)
            flags = flag_records(records, history, settings.phone_max_serve_mbps)
            with conn.transaction():
                result = ingest(conn, records, received_at, enrolment.ward_code)
                note_browser_records(conn, [
                    BrowserNote(r.measurement.id, enrolment.id, device,
                                flags.get(str(r.measurement.id), ())) for r in records],
                    received_at)
        return result.received, result.stored, {k: list(v) for k, v in flags.items()}

    received, stored, flags = await run_in_threadpool(store)
    return JSONResponse({"received": received, "stored": stored,
                         "duplicates": received - stored, "flags": flags})
