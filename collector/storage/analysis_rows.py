"""Raw rows for the analysis when the statistics were computed in the database.

Only two selections of raw measurements still leave the database on that path: the rows of the
weak cells (for weak areas: their PCIs, bands, worst hour, area medians) and the rows near the
service points (for scorecards, where fixed probes make millions of rows in a large survey). Both
are streamed in time order (as the in-memory path reads them, so both give the same areas in the
same order on every tier; a hypertable returns rows chunk by chunk otherwise) as CSV (``COPY ...
TO STDOUT``, with a header line, times in UTC ISO 8601, NULL as an empty field) into a binary file
the caller gives, so nothing is held as Python objects per row and a table reader (pandas) parses
them at C speed.

Example
-------
>>> with tempfile.TemporaryFile() as out:  # doctest: +SKIP
...     n = copy_rows_in_cells(conn, [(0x8A415CB4E40FFFF, "viettel", "4g")], out)
...     out.seek(0)
...     frame = pandas.read_csv(out)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import IO, Any

import psycopg
from psycopg import sql

from lomsong.collector.errors import DatabaseUnavailable, StorageError
from lomsong.collector.storage.columns import ANALYSIS_COLUMNS
from lomsong.collector.storage.scope import SINGLE_WARD, Scope

__all__ = ["ROW_COLUMNS", "copy_rows_in_cells", "copy_rows_near"]

# What a row can carry: `time` (the collector's best time) is returned as `measured_at`, the other
# names are those of `Measurement` fields, as in `measurements.select_for_analysis`.
_SERVER_ONLY = ("time", "probe_time", "received_at", "h3_r10")
ROW_COLUMNS: tuple[str, ...] = (
    "measured_at", *(c for c in ANALYSIS_COLUMNS if c not in _SERVER_ONLY)
)


def _select(columns: Sequence[str]) -> sql.Composable:
    unknown = [c for c in columns if c not in ROW_COLUMNS]
    if unknown or not columns:
        raise ValueError(f"columns: unknown or none {unknown}; choose from {', '.join(ROW_COLUMNS)}")
    return sql.SQL(", ").join(
        sql.SQL("m.time AS measured_at") if c == "measured_at" else sql.SQL("m.{}").format(
            sql.Identifier(c)
        )
        for c in columns
    )


def _common(
    start: datetime | None, end: datetime | None, carriers: Sequence[str], accesses: Sequence[str],
    scope: Scope,
    sources: Sequence[str] | None,
) -> tuple[list[sql.Composable], list[Any]]:
    ward, params = scope.where("ward_code", "m")
    clauses: list[sql.Composable] = [ward]
    if sources is not None:
        clauses.append(sql.SQL("m.source = ANY(%s::text[])"))
        params.append(list(sources))
    if start is not None:
        clauses.append(sql.SQL("m.time >= %s"))
        params.append(start)
    if end is not None:
        clauses.append(sql.SQL("m.time < %s"))
        params.append(end)
    if carriers:
        clauses.append(sql.SQL("m.carrier = ANY(%s::text[])"))
        params.append(list(carriers))
    if accesses:
        clauses.append(sql.SQL("m.access = ANY(%s::text[])"))
        params.append(list(accesses))
    return clauses, params


def _copy(
    conn: psycopg.Connection[Any], query: sql.Composed, params: list[Any], out: IO[bytes]
) -> int:
    statement = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER)").format(query)
    rows = 0
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SET LOCAL TimeZone = 'UTC'")
            with cur.copy(statement, params) as copy:
                for chunk in copy:
                    out.write(chunk)
            rows = cur.rowcount
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"database unavailable: {exc}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"query failed: {exc}") from exc
    return rows


def _header(columns: Sequence[str], out: IO[bytes]) -> int:
    _select(columns)
    out.write((",".join(columns) + "\n").encode())
    return 0


def copy_rows_in_cells(
    conn: psycopg.Connection[Any],
    cells: Sequence[tuple[int, str, str]],
    out: IO[bytes],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    carriers: Sequence[str] = (),
    accesses: Sequence[str] = (),
    sources: Sequence[str] | None = None,
    columns: Sequence[str] = ROW_COLUMNS,
    scope: Scope = SINGLE_WARD,
) -> int:
    """Write the measurements of the given (resolution-10 H3 cell as int, carrier, access) groups
    to `out` as CSV with a header line; return how many rows were written. `sources` keeps only
    rows of those sources (every source when None).

    Raises
    ------
    ValueError
        An unknown column name.
    StorageError
        The query failed.
    """
    if not cells:
        return _header(columns, out)
    clauses, params = _common(start, end, carriers, accesses, scope, sources)
    clauses.append(sql.SQL(
        "(m.h3_r10, m.carrier, m.access) IN"
        " (SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[]))"
    ))
    params += [[int(c) for c, _, _ in cells], [ca for _, ca, _ in cells], [a for _, _, a in cells]]
    query = sql.SQL("SELECT {cols} FROM measurements m WHERE {where} ORDER BY m.time, m.id").format(
        cols=_select(columns), where=sql.SQL(" AND ").join(clauses)
    )
    return _copy(conn, query, params, out)


def copy_rows_near(
    conn: psycopg.Connection[Any],
    boxes: Sequence[tuple[float, float, float, float]],
    site_ids: Sequence[str],
    out: IO[bytes],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    carriers: Sequence[str] = (),
    accesses: Sequence[str] = (),
    sources: Sequence[str] | None = None,
    columns: Sequence[str] = ROW_COLUMNS,
    scope: Scope = SINGLE_WARD,
) -> int:
    """Write the measurements inside any of `boxes` (min_lon, min_lat, max_lon, max_lat, edges
    included) or tagged with one of `site_ids` to `out` as CSV with a header line; return how many
    rows were written. A cheap first cut: the caller measures exact distances. `sources` keeps
    only rows of those sources (every source when None).

    Raises
    ------
    ValueError
        An unknown column name.
    StorageError
        The query failed.
    """
    if not boxes and not site_ids:
        return _header(columns, out)
    clauses, params = _common(start, end, carriers, accesses, scope, sources)
    inside = [sql.SQL("m.site_id = ANY(%s::text[])")]
    params.append(list(site_ids))
    for min_lon, min_lat, max_lon, max_lat in boxes:
        inside.append(sql.SQL("(m.lon BETWEEN %s AND %s AND m.lat BETWEEN %s AND %s)"))
        params += [float(min_lon), float(max_lon), float(min_lat), float(max_lat)]
    clauses.append(sql.SQL("({})").format(sql.SQL(" OR ").join(inside)))
    query = sql.SQL("SELECT {cols} FROM measurements m WHERE {where} ORDER BY m.time, m.id").format(
        cols=_select(columns), where=sql.SQL(" AND ").join(clauses)
    )
    return _copy(conn, query, params, out)
