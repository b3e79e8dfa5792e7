"""Raw rows for the analysis when the statistics were computed in the database.

Only two small selections of raw measurements still leave the database on that path: the rows of
the weak cells (for weak areas: their PCIs, bands, worst hour, area medians) and the rows near the
service points (for scorecards). Both come back column by column (one list per column, as the
query returns tuples), which is much cheaper than a dict per row when there are millions.

Example
-------
>>> cols = select_rows_in_cells(conn, [(0x8A415CB4E40FFFF, "viettel", "4g")])  # doctest: +SKIP
>>> cols["download_mbps"][:3]  # doctest: +SKIP
[38.5, 41.0, None]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from collector.errors import DatabaseUnavailable, StorageError
from collector.storage.columns import ANALYSIS_COLUMNS

__all__ = ["ROW_COLUMNS", "select_rows_in_cells", "select_rows_near"]

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
    start: datetime | None, end: datetime | None, carriers: Sequence[str], accesses: Sequence[str]
) -> tuple[list[sql.Composable], list[Any]]:
    clauses: list[sql.Composable] = []
    params: list[Any] = []
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


def _columns(
    conn: psycopg.Connection[Any], query: sql.Composed, params: list[Any], names: Sequence[str]
) -> dict[str, list[Any]]:
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            rows = cur.fetchall()
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"database unavailable: {exc}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"query failed: {exc}") from exc
    if not rows:
        return {name: [] for name in names}
    return {name: list(values) for name, values in zip(names, zip(*rows, strict=True), strict=True)}


def select_rows_in_cells(
    conn: psycopg.Connection[Any],
    cells: Sequence[tuple[int, str, str]],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    carriers: Sequence[str] = (),
    accesses: Sequence[str] = (),
    columns: Sequence[str] = ROW_COLUMNS,
) -> dict[str, list[Any]]:
    """Measurements of the given (resolution-10 H3 cell as int, carrier, access) groups.

    Returns
    -------
    dict of column name -> list of values (one entry per measurement, same order in every list).
    """
    if not cells:
        return {name: [] for name in columns}
    clauses, params = _common(start, end, carriers, accesses)
    clauses.append(sql.SQL(
        "(m.h3_r10, m.carrier, m.access) IN"
        " (SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[]))"
    ))
    params += [[int(c) for c, _, _ in cells], [ca for _, ca, _ in cells], [a for _, _, a in cells]]
    query = sql.SQL("SELECT {cols} FROM measurements m WHERE {where}").format(
        cols=_select(columns), where=sql.SQL(" AND ").join(clauses)
    )
    return _columns(conn, query, params, columns)


def select_rows_near(
    conn: psycopg.Connection[Any],
    boxes: Sequence[tuple[float, float, float, float]],
    site_ids: Sequence[str] = (),
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    carriers: Sequence[str] = (),
    accesses: Sequence[str] = (),
    columns: Sequence[str] = ROW_COLUMNS,
) -> dict[str, list[Any]]:
    """Measurements inside any of `boxes` (min_lon, min_lat, max_lon, max_lat, edges included)
    or tagged with one of `site_ids`; a cheap first cut, the caller measures exact distances.

    Returns
    -------
    dict of column name -> list of values (one entry per measurement, same order in every list).
    """
    if not boxes and not site_ids:
        return {name: [] for name in columns}
    clauses, params = _common(start, end, carriers, accesses)
    inside = [sql.SQL("m.site_id = ANY(%s::text[])")]
    params.append(list(site_ids))
    for min_lon, min_lat, max_lon, max_lat in boxes:
        inside.append(sql.SQL("(m.lon BETWEEN %s AND %s AND m.lat BETWEEN %s AND %s)"))
        params += [float(min_lon), float(max_lon), float(min_lat), float(max_lat)]
    clauses.append(sql.SQL("({})").format(sql.SQL(" OR ").join(inside)))
    query = sql.SQL("SELECT {cols} FROM measurements m WHERE {where}").format(
        cols=_select(columns), where=sql.SQL(" AND ").join(clauses)
    )
    return _columns(conn, query, params, columns)
