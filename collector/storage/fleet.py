"""Probe health: the last status each probe reported, joined with its token and last record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from lomsong.collector.storage.scope import SINGLE_WARD, Scope

__all__ = ["DataVersion", "ProbeHealth", "ProbeStatus", "data_version", "list_fleet",
           "record_status"]


@dataclass(frozen=True)
class ProbeStatus:
    """What a probe says about itself (`collector.schemas_probe.ProbeStatusIn`, validated)."""

    queue_pending: int
    rejected: int
    dropped: int
    last_upload_at: datetime | None
    budget_used_bytes: int | None
    budget_limit_bytes: int | None
    clock: str
    last_error: str | None
    version: str | None


@dataclass(frozen=True)
class ProbeHealth:
    name: str
    token_created_at: datetime
    revoked_at: datetime | None
    token_last_used_at: datetime | None
    last_measured_at: datetime | None
    status: ProbeStatus | None
    reported_at: datetime | None


@dataclass(frozen=True)
class DataVersion:
    """Changes whenever the measurements of a period or the service points/ward change."""

    measurements: int
    latest_received_at: datetime | None
    sites_changed_at: datetime | None
    sites: int


def record_status(conn: psycopg.Connection[Any], probe_name: str, status: ProbeStatus,
                  reported_at: datetime) -> None:
    """Store `status` as the latest of `probe_name` (replacing the previous report)."""
    conn.execute(
        "INSERT INTO probe_status (probe_name, queue_pending, rejected, dropped, last_upload_at,"
        " budget_used_bytes, budget_limit_bytes, clock, last_error, version, reported_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (probe_name) DO UPDATE SET queue_pending = EXCLUDED.queue_pending,"
        " rejected = EXCLUDED.rejected, dropped = EXCLUDED.dropped,"
        " last_upload_at = EXCLUDED.last_upload_at, budget_used_bytes = EXCLUDED.budget_used_bytes,"
        " budget_limit_bytes = EXCLUDED.budget_limit_bytes, clock = EXCLUDED.clock,"
        " last_error = EXCLUDED.last_error, version = EXCLUDED.version,"
        " reported_at = EXCLUDED.reported_at",
        (probe_name, status.queue_pending, status.rejected, status.dropped, status.last_upload_at,
         status.budget_used_bytes, status.budget_limit_bytes, status.clock, status.last_error,
         status.version, reported_at),
    )


def list_fleet(conn: psycopg.Connection[Any], scope: Scope = SINGLE_WARD) -> list[ProbeHealth]:
    """Every probe name of the scope's ward(s) that ever had a token (its newest token), active
    ones first."""
    where, params = scope.where("ward_code")
    rows = conn.execute(sql.SQL(
        "SELECT t.name, t.created_at, t.revoked_at, t.last_used_at, lm.last_measured_at,"
        " s.queue_pending, s.rejected, s.dropped, s.last_upload_at, s.budget_used_bytes,"
        " s.budget_limit_bytes, s.clock, s.last_error, s.version, s.reported_at"
        " FROM (SELECT DISTINCT ON (name) * FROM api_tokens WHERE role = 'probe' AND {}"
        "       ORDER BY name, revoked_at IS NULL DESC, created_at DESC) t"
        " LEFT JOIN probe_status s ON s.probe_name = t.name"
        " LEFT JOIN LATERAL (SELECT max(m.time) AS last_measured_at FROM measurements m"
        "                    WHERE m.probe_id = t.name"
        "                    AND m.ward_code IS NOT DISTINCT FROM t.ward_code) lm ON true"
        " ORDER BY t.revoked_at IS NOT NULL, t.name").format(where), params
    ).fetchall()
    fleet = []
    for r in rows:
        status = None if r[14] is None else ProbeStatus(*r[5:14])
        fleet.append(ProbeHealth(r[0], r[1], r[2], r[3], r[4], status, r[14]))
    return fleet


def data_version(conn: psycopg.Connection[Any], start: datetime, end: datetime,
                 scope: Scope = SINGLE_WARD) -> DataVersion:
    """A cheap fingerprint of what an analysis of the scope's [start, end) would read."""
    where, params = scope.where("ward_code")
    # One scan of the period's rows for both the count and the latest arrival.
    row = conn.execute(sql.SQL(
        "SELECT m.n, m.latest,"
        " greatest((SELECT max(updated_at) FROM service_points WHERE {w}),"
        "          (SELECT updated_at FROM ward), (SELECT max(updated_at) FROM wards WHERE {c})),"
        " (SELECT count(*) FROM service_points WHERE {w})"
        " FROM (SELECT count(*) AS n, max(received_at) AS latest FROM measurements"
        "       WHERE time >= %s AND time < %s AND {w}) AS m").format(
            w=where, c=scope.where("code")[0]),
        (*params, *scope.where("code")[1], *params, start, end, *params),
    ).fetchone()
    assert row is not None
    return DataVersion(*row)
