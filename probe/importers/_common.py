"""What every importer shares: the import context, deterministic ids, the result type."""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from lomsong.probe.importers import DEFAULT_TZ
from lomsong.probe.record import Access, Carrier, Measurement, Source, bounded_raw

__all__ = ["ImportContext", "ImportResult", "RowError", "build_measurement", "cell_number"]

# Namespace of import ids: uuid5(namespace, "<sha256 of file>:<row>[:<leg>]").
IMPORT_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://lomsong.invalid/import")


class RowError(Exception):
    """One row cannot be imported; the message is the reason kept in `ImportResult.skipped`."""


@dataclass(frozen=True, slots=True)
class ImportContext:
    """Settings of one import run plus the digest that makes its ids deterministic."""

    probe_id: str
    digest: str
    carrier: Carrier = Carrier.UNKNOWN
    access: Access | None = None
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TZ))

    @classmethod
    def for_content(
        cls,
        content: bytes,
        *,
        probe_id: str,
        carrier: Carrier | None = None,
        access: Access | None = None,
        tz: str = DEFAULT_TZ,
    ) -> ImportContext:
        return cls(
            probe_id=probe_id,
            digest=hashlib.sha256(content).hexdigest(),
            carrier=carrier or Carrier.UNKNOWN,
            access=access,
            tz=ZoneInfo(tz),
        )

    def row_id(self, row: int, leg: str = "") -> uuid.UUID:
        return uuid.uuid5(IMPORT_NAMESPACE, f"{self.digest}:{row}:{leg}")

    def local(self, naive: datetime) -> datetime:
        """A phone's local wall-clock time, made aware in the import's time zone."""
        return naive.replace(tzinfo=self.tz)


@dataclass(slots=True)
class ImportResult:
    """Measurements made from a file, and the (line, reason) of every row left out."""

    format: str
    measurements: list[Measurement] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def attempt(self, line: int, make: Callable[[], list[Measurement]]) -> None:
        """Add what `make` builds, or record why the row at `line` was skipped."""
        try:
            self.measurements.extend(make())
        except RowError as exc:
            self.skipped.append((line, str(exc)))


def build_measurement(ctx: ImportContext, row: int, *, raw: str, leg: str = "", **fields: Any) -> Measurement:
    """A `source=import` Measurement with a deterministic id; bad values become `RowError`.

    Carrier and access found in the file win; the context's (from the command line) fill in.
    """
    values: dict[str, Any] = dict(fields)
    if values.get("carrier", Carrier.UNKNOWN) is Carrier.UNKNOWN:
        values["carrier"] = ctx.carrier
    if values.get("access", Access.UNKNOWN) is Access.UNKNOWN and ctx.access is not None:
        values["access"] = ctx.access
    try:
        return Measurement(
            id=ctx.row_id(row, leg),
            probe_id=ctx.probe_id,
            source=Source.IMPORT,
            raw=bounded_raw(raw),
            **values,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        raise RowError(f"{where}: {first['msg']}") from None


def cell_number(
    row: dict[str, str], key: str, blanks: frozenset[str] = frozenset({""})
) -> float | None:
    """The number in column `key` of a CSV row; None when the cell is one of `blanks` (after
    stripping). Raises `RowError` naming the column when it is not a finite number."""
    value = (row.get(key) or "").strip()
    if value in blanks:
        return None
    try:
        number = float(value)
    except ValueError:
        raise RowError(f"{key} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise RowError(f"{key} is not finite: {value!r}")
    return number
