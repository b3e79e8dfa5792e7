"""Per-ward roll-ups of the city view: stored figures per ward, period kind and carrier.

The city page and the city PDF read `read_rollups` only (one small table, one row per ward),
never the measurements. `collector.city_rollup` computes the figures (a ward's analysis) and
stores them with `save_rollup`; ingest and the service-point and ward triggers of migration
core/024 mark a ward dirty (`mark_dirty`), and `due_wards` says which wards a refresh must
recompute: dirty ones, those with no roll-up yet, and those whose stored period is no longer the
kind's current one (a new day moved the last 30 days on).

Example
-------
>>> rows = read_rollups(conn, Scope.all_wards(), "last30")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from lomsong.collector.storage.scope import Scope, ScopeError

__all__ = ["KINDS", "DirtyMark", "WardRollup", "clear_dirty", "due_wards", "mark_dirty",
           "read_rollups", "save_rollup"]

# The period kinds kept (migration core/024's check): the dashboard's default period and the
# current month to date.
KINDS = ("last30", "month")


@dataclass(frozen=True)
class WardRollup:
    """One ward's stored figures for one period kind; `carriers` as `analysis.city.ward_summary`
    records; `dirty_since` is set when newer data arrived after `computed_at`."""

    ward_code: str
    kind: str
    period_first: date
    period_last: date
    status: str
    measurements: int
    carriers: list[dict[str, Any]]
    data_version: dict[str, Any]
    computed_at: datetime
    compute_ms: int
    dirty_since: datetime | None


@dataclass(frozen=True)
class DirtyMark:
    ward_code: str
    mark: int


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown roll-up kind {kind!r}; one of {', '.join(KINDS)}")


def mark_dirty(conn: psycopg.Connection[Any], ward_code: str | None) -> None:
    """Note that `ward_code`'s roll-ups are out of date (no-op for the unassigned ward)."""
    if ward_code is None:
        return
    conn.execute("INSERT INTO ward_rollup_dirty (ward_code) VALUES (%s)"
                 " ON CONFLICT (ward_code) DO UPDATE SET mark = EXCLUDED.mark", (ward_code,))


def read_rollups(conn: psycopg.Connection[Any], scope: Scope, kind: str,
                 codes: list[str] | None = None) -> dict[str, WardRollup]:
    """The stored roll-ups of `kind` of the wards `scope` sees (only `codes` when given), by
    ward code. Reads `ward_rollup` and `ward_rollup_dirty` only."""
    _check_kind(kind)
    where, params = scope.where("ward_code", "r")
    query = sql.SQL(
        "SELECT r.ward_code, r.kind, r.period_first, r.period_last, r.status, r.measurements,"
        " r.carriers, r.data_version, r.computed_at, r.compute_ms, d.since"
        " FROM ward_rollup AS r LEFT JOIN ward_rollup_dirty AS d ON d.ward_code = r.ward_code"
        " WHERE r.kind = %s AND {where}{codes} ORDER BY r.ward_code").format(
            where=where,
            codes=sql.SQL(" AND r.ward_code = ANY(%s::text[])") if codes is not None
            else sql.SQL(""))
    args: list[Any] = [kind, *params]
    if codes is not None:
        args.append(list(codes))
    out = {}
    for row in conn.execute(query, args).fetchall():
        carriers = row[6] if isinstance(row[6], list) else json.loads(row[6])
        version = row[7] if isinstance(row[7], dict) else json.loads(row[7])
        out[row[0]] = WardRollup(
            ward_code=row[0], kind=row[1], period_first=row[2], period_last=row[3],
            status=row[4], measurements=row[5], carriers=carriers, data_version=version,
            computed_at=row[8], compute_ms=row[9], dirty_since=row[10])
    return out


def save_rollup(conn: psycopg.Connection[Any], scope: Scope, ward_code: str, kind: str,
                period_first: date, period_last: date, status: str, measurements: int,
                carriers: list[dict[str, Any]], data_version: dict[str, Any],
                compute_ms: int) -> None:
    """Store (replace) `ward_code`'s roll-up of `kind`."""
    _check_kind(kind)
    if not scope.sees(ward_code):
        raise ScopeError(f"ward {ward_code!r} is outside this scope")
    conn.execute(
        "INSERT INTO ward_rollup (ward_code, kind, period_first, period_last, status,"
        " measurements, carriers, data_version, computed_at, compute_ms)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now(), %s)"
        " ON CONFLICT (ward_code, kind) DO UPDATE SET period_first = EXCLUDED.period_first,"
        " period_last = EXCLUDED.period_last, status = EXCLUDED.status,"
        " measurements = EXCLUDED.measurements, carriers = EXCLUDED.carriers,"
        " data_version = EXCLUDED.data_version, computed_at = EXCLUDED.computed_at,"
        " compute_ms = EXCLUDED.compute_ms",
        (ward_code, kind, period_first, period_last, status, measurements,
         Jsonb(carriers), Jsonb(data_version), compute_ms))


def due_wards(conn: psycopg.Connection[Any], scope: Scope,
              periods: dict[str, tuple[date, date]]) -> tuple[list[str], dict[str, int]]:
    """The wards of `scope` whose roll-ups must be recomputed for `periods` (kind -> first and
    last day): dirty, missing a kind, or stored for another period; and the dirty marks read
    (ward code -> mark) to hand to `clear_dirty` after the refresh."""
    for kind in periods:
        _check_kind(kind)
    where, params = scope.where("code", "w")
    kinds = list(periods)
    firsts = [periods[k][0] for k in kinds]
    lasts = [periods[k][1] for k in kinds]
    query = sql.SQL(
        "WITH want (kind, first, last) AS ("
        "  SELECT * FROM unnest(%s::text[], %s::date[], %s::date[]))"
        " SELECT w.code, d.mark FROM wards AS w"
        " LEFT JOIN ward_rollup_dirty AS d ON d.ward_code = w.code"
        " WHERE {where} AND (d.mark IS NOT NULL OR EXISTS ("
        "   SELECT 1 FROM want LEFT JOIN ward_rollup AS r ON r.ward_code = w.code"
        "   AND r.kind = want.kind WHERE r.ward_code IS NULL OR r.period_first <> want.first"
        "   OR r.period_last <> want.last))"
        " ORDER BY w.code").format(where=where)
    rows = conn.execute(query, [kinds, firsts, lasts, *params]).fetchall()
    return [r[0] for r in rows], {r[0]: r[1] for r in rows if r[1] is not None}


def clear_dirty(conn: psycopg.Connection[Any], ward_code: str, mark: int) -> bool:
    """Clear `ward_code`'s dirty flag if it is still the marking `mark` (a newer marking, made
    while the refresh computed, stays). True when cleared."""
    return conn.execute("DELETE FROM ward_rollup_dirty WHERE ward_code = %s AND mark = %s",
                        (ward_code, mark)).rowcount > 0
