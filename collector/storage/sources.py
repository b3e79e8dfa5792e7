"""Measurements per source and method, and the phones' results as their own map layer.

The database path of `analysis.sources`: counts grouped in SQL, and the browser records with a
position (bounded: a map layer, not an export).

Example
-------
>>> count_sources(conn, start=since)  # doctest: +SKIP
[('probe', 'iperf3', 1200), ('browser', 'lomsong-web', 14)]
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from lomsong.collector.errors import DatabaseUnavailable, StorageError
from lomsong.collector.storage.scope import SINGLE_WARD, Scope

__all__ = ["BROWSER_POINTS_MAX", "count_sources", "select_browser_points"]

# The most browser points one map layer draws (the newest are kept).
BROWSER_POINTS_MAX: Final = 20_000

_BROWSER_COLUMNS = ("source", "kind", "carrier", "access", "download_mbps", "upload_mbps", "rtt_ms",
                    "error_kind", "site_id", "lat", "lon")


def _period(start: datetime | None, end: datetime | None,
            scope: Scope) -> tuple[list[sql.Composable], list[Any]]:
    ward, params = scope.where("ward_code")
    clauses: list[sql.Composable] = [ward]
    if start is not None:
        clauses.append(sql.SQL("time >= %s"))
        params.append(start)
    if end is not None:
        clauses.append(sql.SQL("time < %s"))
        params.append(end)
    return clauses, params


def _run(conn: psycopg.Connection[Any], query: sql.Composed, params: list[Any],
         **kwargs: Any) -> list[Any]:
    try:
        with conn.cursor(**kwargs) as cur:
            cur.execute(query, params)
            rows: list[Any] = cur.fetchall()
            return rows
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"database unavailable: {exc}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"query failed: {exc}") from exc


def count_sources(conn: psycopg.Connection[Any], *, start: datetime | None = None,
                  end: datetime | None = None,
                  scope: Scope = SINGLE_WARD) -> list[tuple[str, str, int]]:
    """(source, method, count) of the ward's measurements in [start, end); the method is the
    tool."""
    clauses, params = _period(start, end, scope)
    where = sql.SQL("WHERE ") + sql.SQL(" AND ").join(clauses)
    query = sql.SQL("SELECT source, tool, count(*) FROM measurements {} GROUP BY 1, 2").format(
        where)
    return [(str(s), str(t), int(n)) for s, t, n in _run(conn, query, params)]


def select_browser_points(conn: psycopg.Connection[Any], *, start: datetime | None = None,
                          end: datetime | None = None,
                          limit: int = BROWSER_POINTS_MAX,
                          scope: Scope = SINGLE_WARD) -> list[dict[str, Any]]:
    """The ward's newest `limit` browser records with a position in [start, end), keyed like
    `Measurement` fields (`measured_at` is the collector's best time)."""
    clauses, params = _period(start, end, scope)
    clauses += [sql.SQL("source = 'browser'"), sql.SQL("lat IS NOT NULL AND lon IS NOT NULL")]
    query = sql.SQL(
        "SELECT time AS measured_at, {cols} FROM measurements WHERE {where}"
        " ORDER BY time DESC, id LIMIT %s"
    ).format(cols=sql.SQL(", ").join(sql.Identifier(c) for c in _BROWSER_COLUMNS),
             where=sql.SQL(" AND ").join(clauses))
    return _run(conn, query, [*params, int(limit)], row_factory=dict_row)
