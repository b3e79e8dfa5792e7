"""Enrolment links for the phone page, and the collector's notes on each browser record."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from lomsong.collector.errors import StorageError
from lomsong.collector.storage.scope import SINGLE_WARD, Scope
from lomsong.collector.storage.sites import get_ward

__all__ = ["BrowserNote", "DeviceRecord", "Enrolment", "create_enrolment", "get_enrolment", "list_enrolments",
           "note_browser_records", "recent_device_records", "revoke_enrolment"]

_COLUMNS = "id, ward, site_id, label, created_at, expires_at, revoked_at, ward_code"


@dataclass(frozen=True)
class Enrolment:
    id: int
    ward: str
    site_id: str | None
    label: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    ward_code: str | None = None  # the ward whose data the link's records become


@dataclass(frozen=True)
class BrowserNote:
    measurement_id: uuid.UUID
    enrolment_id: int
    device: str
    flags: tuple[str, ...]


def create_enrolment(conn: psycopg.Connection[Any], *, ward: str, site_id: str | None,
                     label: str, expires_at: datetime,
                     scope: Scope = SINGLE_WARD) -> Enrolment:
    """Record a new enrolment link for `ward` (and the service point `site_id`, which must exist,
    when given); the ward must be the scope's ward, whose data the link's records become."""
    ward_code = scope.home()
    with conn.transaction():
        current = get_ward(conn, scope)
        if current is None:
            raise StorageError("the ward is not set yet; an admin sets it on the admin page")
        if current.name != ward:
            raise StorageError(f"this collector serves the ward {current.name!r}, not {ward!r}")
        if site_id is not None and conn.execute(
                "SELECT 1 FROM service_points WHERE site_id = %s"
                " AND ward_code IS NOT DISTINCT FROM %s", (site_id, ward_code)).fetchone() is None:
            raise StorageError(f"no service point {site_id!r}")
        try:
            made = conn.execute(
                f"INSERT INTO enrolments (ward, site_id, label, expires_at, ward_code)"
                f" VALUES (%s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
                (ward, site_id, label, expires_at, ward_code)).fetchone()
        except psycopg.errors.CheckViolation as exc:
            raise StorageError(f"enrolment has a value out of range: {exc}") from exc
    assert made is not None
    return Enrolment(*made)


def get_enrolment(conn: psycopg.Connection[Any], enrolment_id: int,
                  scope: Scope = SINGLE_WARD) -> Enrolment | None:
    """The link if it belongs to the scope's ward(s) (the phone routes, where the signed link is
    the credential, look it up in every ward)."""
    where, params = scope.where("ward_code")
    row = conn.execute(sql.SQL("SELECT {} FROM enrolments WHERE id = %s AND {}").format(
        sql.SQL(_COLUMNS), where), [enrolment_id, *params]).fetchone()
    return None if row is None else Enrolment(*row)


def list_enrolments(conn: psycopg.Connection[Any], limit: int | None = None,
                    scope: Scope = SINGLE_WARD) -> list[Enrolment]:
    """The scope's links, oldest first; with `limit`, only the newest `limit`, newest first."""
    where, params = scope.where("ward_code")
    order = sql.SQL("ORDER BY id") if limit is None else sql.SQL("ORDER BY id DESC LIMIT %s")
    rows = conn.execute(sql.SQL("SELECT {} FROM enrolments WHERE {} {}").format(
        sql.SQL(_COLUMNS), where, order), [*params, *([] if limit is None else [limit])]
    ).fetchall()
    return [Enrolment(*r) for r in rows]


def revoke_enrolment(conn: psycopg.Connection[Any], enrolment_id: int,
                     scope: Scope = SINGLE_WARD) -> bool:
    """Revoke an active link of the scope's ward(s); False when there was none."""
    where, params = scope.where("ward_code")
    cur = conn.execute(sql.SQL("UPDATE enrolments SET revoked_at = now()"
                               " WHERE id = %s AND revoked_at IS NULL AND {}").format(where),
                       [enrolment_id, *params])
    return cur.rowcount > 0


def note_browser_records(conn: psycopg.Connection[Any], notes: Sequence[BrowserNote],
                         received_at: datetime) -> None:
    """Keep which link and phone sent each record and its flags (a resent id keeps the first)."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO browser_records (measurement_id, enrolment_id, device, received_at, flags)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (measurement_id) DO NOTHING",
            [(n.measurement_id, n.enrolment_id, n.device, received_at, list(n.flags))
             for n in notes])


@dataclass(frozen=True)
class DeviceRecord:
    """An earlier record of one phone, as the plausibility checks compare it."""

    id: uuid.UUID
    time: datetime
    kind: str
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    download_mbps: float | None
    upload_mbps: float | None
    rtt_ms: float | None


def recent_device_records(conn: psycopg.Connection[Any], device: str, now: datetime,
                          *, days: int = 2, limit: int = 500) -> list[DeviceRecord]:
    """The phone's records of the last `days` (at most `limit`, the newest), oldest first."""
    rows = conn.execute(
        "SELECT m.id, m.time, m.kind, m.lat, m.lon, m.accuracy_m, m.download_mbps,"
        " m.upload_mbps, m.rtt_ms FROM browser_records b"
        " JOIN measurements m ON m.id = b.measurement_id"
        "  AND m.time > %(now)s - make_interval(days => %(days)s)"
        " WHERE b.device = %(device)s AND b.received_at > %(now)s - make_interval(days => %(days)s)"
        " ORDER BY m.time DESC LIMIT %(limit)s",
        {"device": device, "now": now, "days": days, "limit": limit}).fetchall()
    return [DeviceRecord(*r) for r in reversed(rows)]
