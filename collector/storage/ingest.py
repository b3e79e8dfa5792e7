"""Idempotent bulk ingest: COPY into a staging table, then insert only ids never seen before.

One transaction per batch: either every record of the batch is stored (or was already known), or
nothing is written and the caller gets an error. The response never claims more than was
committed, because counts are read from the same transaction before it commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

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


def _row(rec: StoredRecord, received_at: datetime) -> tuple[Any, ...]:
    m = rec.measurement
    values: dict[str, Any] = {
        "time": rec.time,
        "probe_time": m.measured_at,
        "received_at": received_at,
        "h3_r10": _h3(m),
    }
    for name in COLUMNS[4:]:
        value = getattr(m, name)
        values[name] = value.value if isinstance(value, Enum) else value
    values["clock"] = rec.clock.value
    return tuple(values[c] for c in COLUMNS)


_COLUMN_LIST = sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS)
_STAGE = sql.SQL(
    "CREATE TEMP TABLE IF NOT EXISTS ingest_staging"
    " (LIKE measurements INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_COPY = sql.SQL("COPY ingest_staging ({}) FROM STDIN").format(_COLUMN_LIST)
_MOVE = sql.SQL(
    "WITH new_ids AS ("
    " INSERT INTO measurement_ids (id, received_at)"
    " SELECT DISTINCT ON (id) id, received_at FROM ingest_staging ORDER BY id"
    " ON CONFLICT (id) DO NOTHING RETURNING id)"
    " INSERT INTO measurements ({cols})"
    " SELECT {cols} FROM (SELECT DISTINCT ON (id) * FROM ingest_staging ORDER BY id) s"
    " WHERE s.id IN (SELECT id FROM new_ids)"
).format(cols=_COLUMN_LIST)


def ingest(
    conn: psycopg.Connection[Any], records: Sequence[StoredRecord], received_at: datetime
) -> IngestResult:
    """Store `records` once each; ids already stored are counted as duplicates, not errors."""
    if not records:
        return IngestResult(received=0, stored=0)
    distinct = len({r.measurement.id for r in records})
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(_STAGE)
            with cur.copy(_COPY) as copy:
                for rec in records:
                    copy.write_row(_row(rec, received_at))
            cur.execute(_MOVE)
            stored = cur.rowcount
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"database unavailable during ingest: {exc}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"ingest failed: {exc}") from exc
    return IngestResult(received=distinct, stored=stored)
