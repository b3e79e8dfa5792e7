"""API input and output schemas, separate from storage rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import islice
from typing import Any, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from lomsong.probe.record import Measurement

__all__ = ["MAX_ERRORS", "Batch", "ErrorBody", "ErrorItem", "IngestResponse", "MeasurementOut",
           "Page", "error_body"]

# A 422 lists at most this many errors, each field and message cut to a few hundred characters:
# one record with millions of unknown keys must not make a reply of hundreds of megabytes.
MAX_ERRORS = 100
_MAX_TEXT = 300

T = TypeVar("T")


class Batch(BaseModel):
    """What a probe posts: records plus its clocks at sending, for time correction."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

    measurements: list[Measurement] = Field(
        min_length=1, description="at most 5,000 records (413 beyond the collector's limit)"
    )
    sent_at: AwareDatetime | None = Field(default=None, description="probe clock at sending")
    boot_id: str | None = Field(default=None, max_length=64)
    monotonic_s: float | None = Field(default=None, ge=0)


class IngestResponse(BaseModel):
    received: int = Field(description="distinct ids in the batch")
    stored: int = Field(description="ids stored by this request")
    duplicates: int = Field(description="ids the collector already had (a resend is harmless)")


class ErrorItem(BaseModel):
    index: int | None = Field(description="record index in the batch; null for the envelope")
    field: str | None = Field(description="field path inside the record or request")
    message: str


class ErrorBody(BaseModel):
    detail: str
    errors: list[ErrorItem] = Field(default_factory=list)


def _cut(text: str | None) -> str | None:
    return text if text is None or len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"


def error_body(detail: str, items: Iterable[ErrorItem], total: int) -> ErrorBody:
    """The 422 body: the first `MAX_ERRORS` of `items` (of `total` errors), texts cut short."""
    shown = [ErrorItem(index=i.index, field=_cut(i.field), message=_cut(i.message) or "")
             for i in islice(items, MAX_ERRORS)]
    if total > len(shown):
        detail += f" (first {len(shown)} of {total} errors shown)"
    return ErrorBody(detail=detail, errors=shown)


class MeasurementOut(Measurement):
    """A stored measurement. `measured_at` is the collector's best time, `probe_time` the probe's."""

    model_config = ConfigDict(strict=False, extra="forbid", frozen=True)

    probe_time: datetime
    received_at: datetime
    h3_cell: str | None = Field(default=None, description="H3 cell, resolution 10")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> MeasurementOut:
        values = dict(row)
        values["measured_at"] = values.pop("time")
        cell = values.pop("h3_r10")
        values["h3_cell"] = None if cell is None else format(cell, "x")
        return cls.model_validate(values)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as `cursor` to get the next page")
