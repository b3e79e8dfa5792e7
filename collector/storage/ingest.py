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
from typing import Any, get_args

import h3
import psycopg
from psycopg import sql

from collector.errors import DatabaseUnavailable, StorageError
from collector.storage.columns import COLUMNS
from probe.record import ClockState, Measurement

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
    return int(h3.str_to_int(h3.latlng_to_cell(m.lat, m.lon, H3_RESOLUTION)))


_RECORD_FIELDS = COLUMNS[4:]
# Positions of enum-valued fields: stored as their string values.
_ENUM_INDEXES = tuple(
    i for i, name in enumerate(_RECORD_FIELDS)
    if any(isinstance(t, type) and issubclass(t, Enum)
           for t in (Measurement.model_fields[name].annotation,
                     *get_args(Measurement.model_fields[name].annotation)))
)


def _row(rec: StoredRecord, received_at: datetime) -> tuple[Any, ...]:
    m = rec.measurement
    fields = m.__dict__  # pydantic keeps validated field values here; read once, no copies
    record = list(map(fields.__getitem__, _RECORD_FIELDS))
    for i in _ENUM_INDEXES:
        value = record[i]
        if value is not None:
            record[i] = value.value
    record[_CLOCK_INDEX] = rec.clock.value
    return (rec.time, m.measured_at, received_at, _h3(m), *record)


_CLOCK_INDEX = _RECORD_FIELDS.index("clock")
_COLUMN_LIST = sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS)
# Claim the ids in the ledger; only ids never seen before come back.
_CLAIM = sql.SQL(
    "INSERT INTO measurement_ids (id, received_at) SELECT unnest(%s::uuid[]), %s"
    " ON CONFLICT (id) DO NOTHING RETURNING id"
)
_COPY = sql.SQL("COPY measurements ({}) FROM STDIN (FORMAT BINARY)").format(_COLUMN_LIST)
_TYPES = sql.SQL(
    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
    " WHERE attrelid = 'measurements'::regclass AND attnum > 0 AND NOT attisdropped"
)


def ingest(
    conn: psycopg.Connection[Any], records: Sequence[StoredRecord], received_at: datetime
) -> IngestResult:
    """Store `records` once each; ids already stored are counted as duplicates, not errors.

    In one transaction: ``INSERT ... ON CONFLICT (id) DO NOTHING RETURNING id`` into the id
    ledger claims the ids never seen before, then binary COPY writes exactly those records. A
    concurrent request carrying the same id waits on the ledger row and then finds it taken, so
    each id is stored once; an error anywhere rolls back both the claim and the rows.
    """
    if not records:
        return IngestResult(received=0, stored=0)
    unique = {r.measurement.id: r for r in records}
    try:
        with conn.transaction(), conn.cursor() as cur:
            claimed = cur.execute(_CLAIM, (list(unique), received_at)).fetchall()
            if claimed:
                types = dict(cur.execute(_TYPES).fetchall())
                with cur.copy(_COPY) as copy:
                    copy.set_types([types[c] for c in COLUMNS])
                    for (id_,) in claimed:
                        copy.write_row(_row(unique[id_], received_at))
            stored = len(claimed)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"database unavailable during ingest: {exc}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"ingest failed: {exc}") from exc
    return IngestResult(received=len(unique), stored=stored)
