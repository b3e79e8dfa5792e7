"""Service points and the ward's name and boundary, as the dashboard manages them.

Every function takes the caller's `Scope`: reads see the scope's ward(s) only, writes go to its
ward, and a service point of another ward is never changed (its ``site_id`` is reported taken).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from lomsong.collector.errors import StorageError
from lomsong.collector.storage.scope import SINGLE_WARD, Scope, ScopeError

__all__ = ["ServicePoint", "StoredServicePoint", "Ward", "delete_site", "get_ward",
           "list_sites", "replace_sites", "save_site", "set_ward"]

_COLUMNS = "site_id, name, site_type, address, lat, lon, created_at, updated_at, ward_code"


@dataclass(frozen=True)
class ServicePoint:
    """A service point as entered (form or file)."""

    site_id: str
    name: str
    site_type: str
    address: str
    lat: float
    lon: float


@dataclass(frozen=True)
class StoredServicePoint(ServicePoint):
    created_at: datetime
    updated_at: datetime
    ward_code: str | None = None


@dataclass(frozen=True)
class Ward:
    name: str
    boundary_json: str | None
    updated_at: datetime
    thresholds_toml: str | None = None  # the ward's override of the thresholds (ward records)


# A site id of another ward is left alone (the WHERE of DO UPDATE) and reported as taken.
_UPSERT = (
    "INSERT INTO service_points (site_id, name, site_type, address, lat, lon, ward_code)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (site_id) DO UPDATE SET name = EXCLUDED.name, site_type = EXCLUDED.site_type,"
    " address = EXCLUDED.address, lat = EXCLUDED.lat, lon = EXCLUDED.lon, updated_at = now()"
    " WHERE service_points.ward_code IS NOT DISTINCT FROM EXCLUDED.ward_code"
    " RETURNING site_id"
)


def _values(p: ServicePoint, ward_code: str | None) -> tuple[Any, ...]:
    return (p.site_id, p.name, p.site_type, p.address, p.lat, p.lon, ward_code)


def list_sites(conn: psycopg.Connection[Any],
               scope: Scope = SINGLE_WARD) -> list[StoredServicePoint]:
    where, params = scope.where("ward_code")
    rows = conn.execute(f"SELECT {_COLUMNS} FROM service_points WHERE " + where.as_string(conn)
                        + " ORDER BY site_id", params).fetchall()
    return [StoredServicePoint(*r) for r in rows]


def _upsert(cur: psycopg.Cursor[Any], point: ServicePoint, ward_code: str | None) -> None:
    if cur.execute(_UPSERT, _values(point, ward_code)).fetchone() is None:
        raise ScopeError(f"service point id {point.site_id!r} is taken by another ward")


def save_site(conn: psycopg.Connection[Any], point: ServicePoint,
              scope: Scope = SINGLE_WARD) -> None:
    """Add a service point to the scope's ward, or update its point with the same `site_id`."""
    ward_code = scope.home()
    try:
        with conn.transaction(), conn.cursor() as cur:
            _upsert(cur, point, ward_code)
    except psycopg.errors.CheckViolation as exc:
        raise StorageError(f"service point {point.site_id!r} has a value out of range") from exc


def replace_sites(conn: psycopg.Connection[Any], points: Sequence[ServicePoint],
                  scope: Scope = SINGLE_WARD) -> int:
    """Add or update every point in one transaction: all of them are saved, or none."""
    ward_code = scope.home()
    try:
        with conn.transaction(), conn.cursor() as cur:
            for p in points:
                _upsert(cur, p, ward_code)
    except psycopg.errors.CheckViolation as exc:
        raise StorageError(f"a service point has a value out of range: {exc}") from exc
    return len(points)


def delete_site(conn: psycopg.Connection[Any], site_id: str, scope: Scope = SINGLE_WARD) -> bool:
    """Delete the scope's ward's point `site_id`; False when its ward has no such point."""
    return conn.execute("DELETE FROM service_points WHERE site_id = %s"
                        " AND ward_code IS NOT DISTINCT FROM %s",
                        (site_id, scope.home())).rowcount > 0


def get_ward(conn: psycopg.Connection[Any], scope: Scope = SINGLE_WARD) -> Ward | None:
    """The name and boundary of the scope's ward (None for a city-wide scope)."""
    if scope.city:
        return None
    if scope.ward_code is None:
        row = conn.execute("SELECT name, boundary_json, updated_at FROM ward WHERE id = 1"
                           ).fetchone()
    else:
        row = conn.execute("SELECT name, boundary_json, updated_at, thresholds_toml FROM wards"
                           " WHERE code = %s", (scope.ward_code,)).fetchone()
    return None if row is None else Ward(*row)


def set_ward(conn: psycopg.Connection[Any], name: str, boundary_json: str | None,
             scope: Scope = SINGLE_WARD) -> None:
    """Set the scope's ward's name and boundary (GeoJSON text, validated by the caller)."""
    code = scope.home()
    if code is None:
        conn.execute(
            "INSERT INTO ward (id, name, boundary_json) VALUES (1, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,"
            " boundary_json = EXCLUDED.boundary_json, updated_at = now()",
            (name, boundary_json),
        )
    else:
        conn.execute("UPDATE wards SET name = %s, boundary_json = %s, updated_at = now()"
                     " WHERE code = %s", (name, boundary_json, code))
