"""Reading measurements back: the query API's pages and the analysis selection."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from lomsong.collector.errors import DatabaseUnavailable, StorageError
from lomsong.collector.storage.columns import ANALYSIS_COLUMNS, COLUMNS
from lomsong.collector.storage.scope import SINGLE_WARD, Scope

__all__ = ["Filters", "Page", "decode_cursor", "encode_cursor", "list_measurements",
           "run_query", "select_for_analysis"]


@dataclass(frozen=True)
class Filters:
    start: datetime | None = None
    end: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None  # min_lon, min_lat, max_lon, max_lat
    carriers: Sequence[str] = ()
    accesses: Sequence[str] = ()
    kinds: Sequence[str] = ()
    probe_ids: Sequence[str] = ()
    sources: Sequence[str] = ()


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(time: datetime, id_: uuid.UUID) -> str:
    raw = json.dumps([time.isoformat(), str(id_)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Inverse of `encode_cursor`; ValueError when the cursor was not made by us."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        time_s, id_s = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(time_s), uuid.UUID(id_s)
    except (ValueError, TypeError) as exc:
        raise ValueError("cursor is not valid; use next_cursor from a previous page") from exc


def _where(filters: Filters, scope: Scope) -> tuple[list[sql.Composable], list[Any]]:
    ward, params = scope.where("ward_code")
    clauses: list[sql.Composable] = [ward]
    if filters.start is not None:
        clauses.append(sql.SQL("time >= %s"))
        params.append(filters.start)
    if filters.end is not None:
        clauses.append(sql.SQL("time < %s"))
        params.append(filters.end)
    if filters.bbox is not None:
        clauses.append(sql.SQL("lon BETWEEN %s AND %s AND lat BETWEEN %s AND %s"))
        min_lon, min_lat, max_lon, max_lat = filters.bbox
        params += [min_lon, max_lon, min_lat, max_lat]
    for column, values in (
        ("carrier", filters.carriers),
        ("access", filters.accesses),
        ("kind", filters.kinds),
        ("probe_id", filters.probe_ids),
        ("source", filters.sources),
    ):
        if values:
            clauses.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(column)))
            params.append(list(values))
    return clauses, params


def run_query(
    conn: psycopg.Connection[Any], query: sql.Composed, params: list[Any]
) -> list[dict[str, Any]]:
    """The rows of `query` as dicts; `DatabaseUnavailable` or `StorageError` when it fails."""
    try:
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return cur.fetchall()
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"database unavailable: {exc}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"query failed: {exc}") from exc


def list_measurements(
    conn: psycopg.Connection[Any],
    filters: Filters,
    *,
    limit: int = 500,
    cursor: str | None = None,
    include_raw: bool = False,
    scope: Scope = SINGLE_WARD,
) -> Page:
    """One page of the scope's measurements ordered by (time, id); `next_cursor` continues."""
    clauses, params = _where(filters, scope)
    if cursor is not None:
        after_time, after_id = decode_cursor(cursor)
        clauses.append(sql.SQL("(time, id) > (%s, %s)"))
        params += [after_time, after_id]
    columns = COLUMNS if include_raw else ANALYSIS_COLUMNS
    query = sql.SQL("SELECT {cols} FROM measurements {where} ORDER BY time, id LIMIT %s").format(
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        where=sql.SQL("WHERE ") + sql.SQL(" AND ").join(clauses),
    )
    rows = run_query(conn, query, [*params, limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1]["time"], rows[-1]["id"]) if more and rows else None
    return Page(items=rows, next_cursor=next_cursor)


def select_for_analysis(
    conn: psycopg.Connection[Any],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    carriers: Sequence[str] = (),
    accesses: Sequence[str] = (),
    scope: Scope = SINGLE_WARD,
    sources: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Every measurement of the scope's ward(s) in the selection as dicts keyed like `Measurement` fields.

    `sources` keeps only those sources (all when empty); `compute_survey` reads every source,
    counts them and leaves the ones the ward does not count to `analysis.sources`.

    `measured_at` holds the collector's best time (corrected when the probe clock was off);
    records whose time could not be trusted keep `clock = 'unsynced'` so analysis can drop them.
    """
    filters = Filters(start=start, end=end, bbox=bbox, carriers=carriers, accesses=accesses,
                      sources=sources)
    clauses, params = _where(filters, scope)
    cols = [c for c in ANALYSIS_COLUMNS if c not in ("time", "probe_time", "received_at", "h3_r10")]
    query = sql.SQL("SELECT time AS measured_at, {cols} FROM measurements {where} ORDER BY time, id").format(
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in cols),
        where=sql.SQL("WHERE ") + sql.SQL(" AND ").join(clauses),
    )
    return run_query(conn, query, params)
