"""Stored analyses of a (ward, period): the `survey_snapshots` table (migration core/027).

`collector.survey_snapshot` turns a survey into bytes and back; this module only keeps them.
`save_snapshot` replaces the (ward, period)'s snapshot and keeps at most `keep` per ward (the
most recently used); `load_snapshot` reads one whose fingerprint matches (another analysis
code or thresholds file made the others: they are never shown) and marks it used.

Example
-------
>>> save_snapshot(conn, Scope.ward("00316"), period, "f1", {"measurements": 3}, made_at, 1.5,
...               body)  # doctest: +SKIP
>>> load_snapshot(conn, Scope.ward("00316"), period, "f1").took_s  # doctest: +SKIP
1.5
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from lomsong.analysis.period import Period
from lomsong.collector.storage.scope import Scope, ScopeError

__all__ = ["KEEP_PER_WARD", "StoredSnapshot", "load_snapshot", "save_snapshot", "snapshot_key"]

# Snapshots kept per ward: the default period, the current month and a few periods chosen by hand.
KEEP_PER_WARD = 6


@dataclass(frozen=True)
class StoredSnapshot:
    data_version: dict[str, Any]
    made_at: datetime
    took_s: float
    body: bytes


def snapshot_key(scope: Scope) -> str:
    """The ward a snapshot belongs to: its code, or '' for the single unassigned ward.

    Raises
    ------
    ScopeError
        `scope` is not one ward's (the city, or a carrier's account): it has no survey.
    """
    if scope.city or scope.carrier is not None:
        raise ScopeError("a survey snapshot belongs to one ward")
    return scope.ward_code or ""


def save_snapshot(conn: psycopg.Connection[Any], scope: Scope, period: Period,
                  fingerprint: str, data_version: dict[str, Any], made_at: datetime,
                  took_s: float, body: bytes, *, keep: int = KEEP_PER_WARD) -> None:
    """Store (replace) the snapshot of `period` in `scope`'s ward; drop that ward's least
    recently used snapshots beyond `keep`. One transaction."""
    ward = snapshot_key(scope)
    with conn.transaction():
        conn.execute(
            "INSERT INTO survey_snapshots (ward_code, start_utc, end_utc, fingerprint,"
            " data_version, made_at, took_s, body, used_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now())"
            " ON CONFLICT (ward_code, start_utc, end_utc, fingerprint) DO UPDATE SET"
            " data_version = EXCLUDED.data_version,"
            " made_at = EXCLUDED.made_at, took_s = EXCLUDED.took_s, body = EXCLUDED.body,"
            " used_at = EXCLUDED.used_at"
            # an older analysis finishing late never replaces a newer one
            " WHERE survey_snapshots.made_at <= EXCLUDED.made_at",
            (ward, period.start_utc, period.end_utc, fingerprint, Jsonb(data_version), made_at,
             took_s, body))
        conn.execute(
            "DELETE FROM survey_snapshots WHERE ward_code = %s"
            " AND (start_utc, end_utc, fingerprint) IN ("
            " SELECT start_utc, end_utc, fingerprint FROM survey_snapshots WHERE ward_code = %s"
            " ORDER BY used_at DESC OFFSET %s)", (ward, ward, keep))


def load_snapshot(conn: psycopg.Connection[Any], scope: Scope, period: Period,
                  fingerprint: str) -> StoredSnapshot | None:
    """The stored snapshot of `period` in `scope`'s ward made with `fingerprint`, or None."""
    ward = snapshot_key(scope)
    row = conn.execute(
        "UPDATE survey_snapshots SET used_at = now()"
        " WHERE ward_code = %s AND start_utc = %s AND end_utc = %s AND fingerprint = %s"
        " RETURNING data_version, made_at, took_s, body",
        (ward, period.start_utc, period.end_utc, fingerprint)).fetchone()
    if row is None:
        return None
    version = row[0] if isinstance(row[0], dict) else json.loads(row[0])
    return StoredSnapshot(version, row[1], float(row[2]), bytes(row[3]))
