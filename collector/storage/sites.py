"""Service points and the ward's name and boundary, as the dashboard manages them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from lomsong.collector.errors import StorageError

__all__ = ["ServicePoint", "StoredServicePoint", "Ward", "delete_site", "get_ward",
           "list_sites", "replace_sites", "save_site", "set_ward"]

_COLUMNS = "site_id, name, site_type, address, lat, lon, created_at, updated_at"


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


@dataclass(frozen=True)
class Ward:
    name: str
    boundary_json: str | None
    updated_at: datetime


_UPSERT = (
    "INSERT INTO service_points (site_id, name, site_type, address, lat, lon)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (site_id) DO UPDATE SET name = EXCLUDED.name, site_type = EXCLUDED.site_type,"
    " address = EXCLUDED.address, lat = EXCLUDED.lat, lon = EXCLUDED.lon, updated_at = now()"
)


def _values(p: ServicePoint) -> tuple[str, str, str, str, float, float]:
    return (p.site_id, p.name, p.site_type, p.address, p.lat, p.lon)


def list_sites(conn: psycopg.Connection[Any]) -> list[StoredServicePoint]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM service_points ORDER BY site_id").fetchall()
    return [StoredServicePoint(*r) for r in rows]


def save_site(conn: psycopg.Connection[Any], point: ServicePoint) -> None:
    """Add a service point, or update the one with the same `site_id`."""
    try:
        conn.execute(_UPSERT, _values(point))
    except psycopg.errors.CheckViolation as exc:
        raise StorageError(f"service point {point.site_id!r} has a value out of range") from exc


def replace_sites(conn: psycopg.Connection[Any], points: Sequence[ServicePoint]) -> int:
    """Add or update every point in one transaction: all of them are saved, or none."""
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(_UPSERT, [_values(p) for p in points])
    except psycopg.errors.CheckViolation as exc:
        raise StorageError(f"a service point has a value out of range: {exc}") from exc
    return len(points)


def delete_site(conn: psycopg.Connection[Any], site_id: str) -> bool:
    return conn.execute("DELETE FROM service_points WHERE site_id = %s", (site_id,)).rowcount > 0


def get_ward(conn: psycopg.Connection[Any]) -> Ward | None:
    row = conn.execute("SELECT name, boundary_json, updated_at FROM ward WHERE id = 1").fetchone()
    return None if row is None else Ward(*row)


def set_ward(conn: psycopg.Connection[Any], name: str, boundary_json: str | None) -> None:
    """Set the ward's name and boundary (GeoJSON text, already validated by the caller)."""
    conn.execute(
        "INSERT INTO ward (id, name, boundary_json) VALUES (1, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,"
        " boundary_json = EXCLUDED.boundary_json, updated_at = now()",
        (name, boundary_json),
    )
