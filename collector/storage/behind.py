"""The measurements behind a figure of the dashboard, newest first, one batch per query.

A `Selection` names the place as the analysis assigned samples to it (`analysis.behind`): stored
H3 cells (`h3_r10`, the resolution the dashboard's statistics use), a circle around a service
point (the same arithmetic as `analysis.sites`, so the same rows fall inside) or the point's
`site_id`, plus what the page filters by. Records with an unsynchronised clock are never
selected (the analysis leaves them out). The ward filter is the caller's `Scope`.

Batches are read by keyset on (time, id) descending, so any page of a long history costs the
same; a caller that filters rows further in Python (a dead spot's outline) reads the next batch
after the last row it saw.

Example
-------
>>> sel = Selection(cells=(0x8A415CB4E40FFFF,), carriers=("viettel",))  # doctest: +SKIP
>>> rows = select_behind(conn, sel, scope=scope, limit=100)  # doctest: +SKIP
"""

from __future__ import annotations

import uuid
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from lomsong.collector.errors import DatabaseUnavailable, StorageError
from lomsong.collector.storage.measurements import run_query
from lomsong.collector.storage.scope import Scope

__all__ = ["BEHIND_COLUMNS", "OUTCOMES", "Circle", "Counts", "Selection", "count_behind",
           "select_behind", "stream_behind"]

# What a drill-down shows and exports of each measurement (`time` is the collector's best time).
BEHIND_COLUMNS: tuple[str, ...] = (
    "time", "id", "probe_id", "source", "clock", "kind", "tool", "carrier", "access",
    "download_mbps", "upload_mbps", "rtt_ms", "jitter_ms", "loss_pct", "rsrp_dbm", "rsrq_db",
    "sinr_db", "cell_id", "pci", "band", "lat", "lon", "accuracy_m", "position_source",
    "site_id", "error_kind", "error_message",
)
OUTCOMES: tuple[str, ...] = ("all", "failed", "ok")
# Batches larger than this are refused (a caller's bug, or a stranger's request).
_MAX_BATCH = 5_000


@dataclass(frozen=True)
class Circle:
    """Within `radius_m` of (`lat`, `lon`), with the metres per degree of `analysis.sites`;
    `cells` (H3 resolution 10) cover the circle, so the index on `h3_r10` finds its rows."""

    lat: float
    lon: float
    radius_m: float
    m_per_deg_lat: float
    m_per_deg_lon: float
    cells: tuple[int, ...]


@dataclass(frozen=True)
class Selection:
    """Which measurements: in `cells` (H3 resolution 10 as integers), or within `circle`, or
    tagged with `site_id` (any of the given places), in [start, end), of `carriers`/`accesses`
    (all when empty), taken at one of `local_hours` in `timezone` (every hour when None), of
    `sources` (all when None), all / failed / successful (`outcome`)."""

    cells: tuple[int, ...] = ()
    circle: Circle | None = None
    site_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    carriers: tuple[str, ...] = ()
    accesses: tuple[str, ...] = ()
    local_hours: tuple[int, ...] | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    sources: tuple[str, ...] | None = None
    outcome: str = "all"

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome: {self.outcome!r} is not one of {', '.join(OUTCOMES)}")
        if not self.cells and self.circle is None and self.site_id is None:
            raise ValueError("selection: name cells, a circle or a site_id")


def _place(sel: Selection) -> tuple[sql.Composable, list[Any]]:
    parts: list[sql.Composable] = []
    params: list[Any] = []
    if sel.cells:
        parts.append(sql.SQL("h3_r10 = ANY(%s::bigint[])"))
        params.append(list(sel.cells))
    if sel.site_id is not None:
        parts.append(sql.SQL("site_id = %s"))
        params.append(sel.site_id)
    if sel.circle is not None:
        c = sel.circle
        # The covering cells and the box first (cheap), then the scorecards' exact test, as they
        # compute it:
        # ((lat - y) * m_lat)^2 + ((lon - x) * m_lon)^2 <= r^2, squares as products.
        dlat = 2 * c.radius_m / c.m_per_deg_lat
        dlon = 2 * c.radius_m / c.m_per_deg_lon
        parts.append(sql.SQL(
            "(h3_r10 = ANY(%s::bigint[]) AND lat BETWEEN %s AND %s AND lon BETWEEN %s AND %s AND "
            "((lat - %s) * %s) * ((lat - %s) * %s) + ((lon - %s) * %s) * ((lon - %s) * %s)"
            " <= %s)"))
        params += [list(c.cells), c.lat - dlat, c.lat + dlat, c.lon - dlon, c.lon + dlon,
                   c.lat, c.m_per_deg_lat, c.lat, c.m_per_deg_lat,
                   c.lon, c.m_per_deg_lon, c.lon, c.m_per_deg_lon, c.radius_m * c.radius_m]
    return sql.SQL("({})").format(sql.SQL(" OR ").join(parts)), params


def _where(sel: Selection, scope: Scope) -> tuple[sql.Composable, list[Any]]:
    ward, params = scope.where("ward_code")
    clauses: list[sql.Composable] = [ward, sql.SQL("clock <> 'unsynced'")]
    place, place_params = _place(sel)
    clauses.append(place)
    params += place_params
    if sel.start is not None:
        clauses.append(sql.SQL("time >= %s"))
        params.append(sel.start)
    if sel.end is not None:
        clauses.append(sql.SQL("time < %s"))
        params.append(sel.end)
    for column, values in (("carrier", sel.carriers), ("access", sel.accesses)):
        if values:
            clauses.append(sql.SQL("{} = ANY(%s::text[])").format(sql.Identifier(column)))
            params.append(list(values))
    if sel.sources is not None:
        clauses.append(sql.SQL("source = ANY(%s::text[])"))
        params.append(list(sel.sources))
    if sel.local_hours is not None:
        clauses.append(sql.SQL(
            "extract(hour FROM time AT TIME ZONE %s)::int = ANY(%s::int[])"))
        params += [sel.timezone, list(sel.local_hours)]
    if sel.outcome == "failed":
        clauses.append(sql.SQL("error_kind IS NOT NULL"))
    elif sel.outcome == "ok":
        clauses.append(sql.SQL("error_kind IS NULL"))
    return sql.SQL(" AND ").join(clauses), params


def select_behind(
    conn: psycopg.Connection[Any],
    selection: Selection,
    *,
    scope: Scope,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
    columns: tuple[str, ...] = BEHIND_COLUMNS,
) -> list[dict[str, Any]]:
    """Up to `limit` measurements of `selection` in the scope's ward(s), newest first, older
    than `after` (time, id) when given.

    Raises
    ------
    ValueError
        `limit` outside 1-5000, or a column that is not in `BEHIND_COLUMNS`.
    StorageError
        The query failed.
    """
    if not 1 <= limit <= _MAX_BATCH:
        raise ValueError(f"limit: {limit} outside 1-{_MAX_BATCH}")
    unknown = [c for c in columns if c not in BEHIND_COLUMNS]
    if unknown or "time" not in columns or "id" not in columns:
        raise ValueError(f"columns: unknown {unknown} (time and id are needed for paging)")
    where, params = _where(selection, scope)
    if after is not None:
        where = sql.SQL("{} AND (time, id) < (%s, %s)").format(where)
        params += [after[0], after[1]]
    query = sql.SQL("SELECT {cols} FROM measurements WHERE {where} "
                    "ORDER BY time DESC, id DESC LIMIT %s").format(
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns), where=where)
    return run_query(conn, query, [*params, limit])


def stream_behind(
    conn: psycopg.Connection[Any],
    selection: Selection,
    *,
    scope: Scope,
    limit: int,
) -> Generator[dict[str, Any], None, None]:
    """Up to `limit` measurements of `selection`, newest first, in one pass through a
    server-side cursor (for exports: one read of the selection, whatever its size). The
    connection is busy until the iterator ends or is closed.

    Raises
    ------
    StorageError
        The query failed.
    """
    where, params = _where(selection, scope)
    query = sql.SQL("SELECT {cols} FROM measurements WHERE {where} "
                    "ORDER BY time DESC, id DESC LIMIT %s").format(
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in BEHIND_COLUMNS), where=where)
    try:
        with conn.transaction(), conn.cursor(name="lomsong_behind", row_factory=dict_row) as cur:
            cur.itersize = 2_000
            cur.execute(query, [*params, limit])
            yield from cur
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"database unavailable: {exc}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"query failed: {exc}") from exc


@dataclass(frozen=True)
class Counts:
    """How many measurements a selection holds: all, download tests, failed."""

    rows: int
    downloads: int
    failed: int


def count_behind(conn: psycopg.Connection[Any], selection: Selection, *,
                 scope: Scope) -> Counts:
    """The measurements of `selection` in the scope's ward(s): how many, how many download
    tests, how many failed."""
    where, params = _where(selection, scope)
    query = sql.SQL(
        "SELECT count(*) AS rows, count(*) FILTER (WHERE kind = 'throughput_down') AS downloads,"
        " count(*) FILTER (WHERE error_kind IS NOT NULL) AS failed "
        "FROM measurements WHERE {where}").format(where=where)
    row = run_query(conn, query, params)[0]
    return Counts(int(row["rows"]), int(row["downloads"]), int(row["failed"]))
