"""Idempotent bulk ingest: claim ids in the ledger, then COPY only the records never seen before.

One transaction per batch: either every record of the batch is stored (or was already known), or
nothing is written and the caller gets an error. The response never claims more than was
committed, because counts are read from the same transaction before it commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from operator import itemgetter
from typing import Any, get_args

import h3.api.basic_int as h3_int
import psycopg
from psycopg import sql

from lomsong.collector.errors import DatabaseUnavailable, IdConflict, StorageError
from lomsong.collector.storage.columns import COLUMNS
from lomsong.collector.storage.rollups import mark_dirty
from lomsong.probe.record import ClockState, Measurement

__all__ = ["IngestResult", "StoredRecord", "ingest"]

H3_RESOLUTION = 10


@dataclass(frozen=True)
class StoredRecord:
    """A validated record plus what the collector decided about its time."""

    measurement: Measurement
    time: datetime
    clock: ClockState


@dataclass(frozen=True)
class IngestResult:
    received: int
    stored: int

    @property
    def duplicates(self) -> int:
        return self.received - self.stored


def _h3(m: Measurement) -> int | None:
    if m.lat is None or m.lon is None:
        return None
    return h3_int.latlng_to_cell(m.lat, m.lon, H3_RESOLUTION)  # type: ignore[no-any-return]


_RECORD_FIELDS = COLUMNS[4:]
_CLOCK_INDEX = _RECORD_FIELDS.index("clock")
# Field values in column order, read straight from the validated model's __dict__ (no copies),
# split around `clock`, which the collector may have corrected.
_BEFORE_CLOCK = itemgetter(*_RECORD_FIELDS[:_CLOCK_INDEX])
_AFTER_CLOCK = itemgetter(*_RECORD_FIELDS[_CLOCK_INDEX + 1 :])


def _enum_types(name: str) -> list[type[Enum]]:
    annotation = Measurement.model_fields[name].annotation
    return [t for t in (annotation, *get_args(annotation))
            if isinstance(t, type) and issubclass(t, Enum)]


# Enum-valued fields go to COPY as they are: set_types makes them text, and a StrEnum member *is*
# its value as a string. Any other kind of enum would be written wrongly, so refuse it here.
_NOT_STR_ENUMS = [t for name in _RECORD_FIELDS for t in _enum_types(name) if not issubclass(t, str)]
if _NOT_STR_ENUMS:
    raise TypeError(f"ingest stores enums as text; make these StrEnum: {_NOT_STR_ENUMS}")


def _row(rec: StoredRecord, received_at: datetime) -> tuple[Any, ...]:
    m = rec.measurement
    fields = m.__dict__  # pydantic keeps validated field values here
    return (rec.time, m.measured_at, received_at, _h3(m),
            *_BEFORE_CLOCK(fields), rec.clock, *_AFTER_CLOCK(fields))


_COLUMN_LIST = sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS)
# Claim the ids in the ledger; only ids never seen before come back.
_CLAIM = sql.SQL(
    "INSERT INTO measurement_ids (id, probe_id, received_at)"
    " SELECT c.id, c.probe_id, %s FROM unnest(%s::uuid[], %s::text[]) AS c(id, probe_id)"
    " ON CONFLICT (id) DO NOTHING RETURNING id"
)
# Of the ids not claimed, those another probe stored first (NULL owner: rows from before owners
# were kept, whose probe is unknown; they count as resends).
_OWNERS = sql.SQL(
    "SELECT i.id, i.probe_id FROM measurement_ids AS i"
    " JOIN unnest(%s::uuid[], %s::text[]) AS c(id, probe_id) ON c.id = i.id"
    " WHERE i.probe_id IS NOT NULL AND i.probe_id <> c.probe_id"
)
_COPY = sql.SQL("COPY measurements ({}, ward_code) FROM STDIN (FORMAT BINARY)").format(
    _COLUMN_LIST)
_TYPES = sql.SQL(
    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
    " WHERE attrelid = 'measurements'::regclass AND attnum > 0 AND NOT attisdropped"
)


def ingest(
    conn: psycopg.Connection[Any], records: Sequence[StoredRecord], received_at: datetime,
    ward_code: str | None = None,
) -> IngestResult:
    """Store `records` once each, as measurements of the ward `ward_code` (None: the single
    ward of a database without ward records); ids already stored are counted as duplicates,
    not errors.

    In one transaction: ``INSERT ... ON CONFLICT (id) DO NOTHING RETURNING id`` into the id
    ledger claims the ids never seen before, then binary COPY writes exactly those records. A
    concurrent request carrying the same id waits on the ledger row and then finds it taken, so
    each id is stored once; an error anywhere rolls back both the claim and the rows. An id that
    another probe stored first raises `IdConflict` (and nothing of the batch is stored).
    """
    if not records:
        return IngestResult(received=0, stored=0)
    unique = {r.measurement.id: r for r in records}
    try:
        with conn.transaction(), conn.cursor() as cur:
            ids = list(unique)
            probes = [unique[i].measurement.probe_id for i in ids]
            claimed = cur.execute(_CLAIM, (received_at, ids, probes)).fetchall()
            if len(claimed) < len(ids):
                taken = {i for (i,) in claimed}
                rest = [i for i in ids if i not in taken]
                owners = cur.execute(
                    _OWNERS, (rest, [unique[i].measurement.probe_id for i in rest])).fetchall()
                if owners:
                    raise IdConflict({str(i): str(p) for i, p in owners})
            if claimed:
                types = dict(cur.execute(_TYPES).fetchall())
                with cur.copy(_COPY) as copy:
                    copy.set_types([*(types[c] for c in COLUMNS), "text"])
                    for (id_,) in claimed:
                        copy.write_row((*_row(unique[id_], received_at), ward_code))
                # The ward's city roll-ups are out of date (collector.storage.rollups).
                mark_dirty(conn, ward_code)
            stored = len(claimed)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"database unavailable during ingest: {exc}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"ingest failed: {exc}") from exc
    return IngestResult(received=len(unique), stored=stored)
