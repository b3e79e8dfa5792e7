"""Wards as records (official 2025 code and name, province, boundary, threshold overrides), and
the adoption of a one-ward database's rows by one ward of a city database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from lomsong.collector.errors import StorageError
from lomsong.collector.storage.rollups import mark_dirty
from lomsong.collector.storage.scope import Scope, ScopeError

__all__ = ["ADOPTED_TABLES", "WardRecord", "adopt_single_ward", "get_ward_record", "list_wards",
           "save_ward"]

_COLUMNS = ("code, name, province_code, province_name, boundary_json, thresholds_toml,"
            " created_at, updated_at")
# Tables whose unassigned rows (ward_code NULL) belong to the single ward of an older database.
ADOPTED_TABLES = ("service_points", "api_tokens", "dashboard_users", "enrolments", "measurements")


@dataclass(frozen=True)
class WardRecord:
    code: str
    name: str
    province_code: str
    province_name: str
    boundary_json: str | None
    thresholds_toml: str | None
    created_at: datetime
    updated_at: datetime


def save_ward(conn: psycopg.Connection[Any], code: str, name: str, province_code: str,
              province_name: str, boundary_json: str | None,
              thresholds_toml: str | None = None) -> None:
    """Add a ward or update the one with `code` (a boundary or thresholds of None keep the old)."""
    try:
        conn.execute(
            "INSERT INTO wards (code, name, province_code, province_name, boundary_json,"
            " thresholds_toml) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name,"
            " province_code = EXCLUDED.province_code, province_name = EXCLUDED.province_name,"
            " boundary_json = coalesce(EXCLUDED.boundary_json, wards.boundary_json),"
            " thresholds_toml = coalesce(EXCLUDED.thresholds_toml, wards.thresholds_toml),"
            " updated_at = now()",
            (code, name, province_code, province_name, boundary_json, thresholds_toml))
    except psycopg.errors.CheckViolation as exc:
        raise StorageError(f"ward {code!r}: code must be 5 digits, province 2, name 1-200 "
                           "characters") from exc


def list_wards(conn: psycopg.Connection[Any], scope: Scope) -> list[WardRecord]:
    """The wards `scope` sees, by code."""
    where, params = scope.where("code")
    rows = conn.execute(f"SELECT {_COLUMNS} FROM wards WHERE " + where.as_string(conn)
                        + " ORDER BY code", params).fetchall()
    return [WardRecord(*r) for r in rows]


def get_ward_record(conn: psycopg.Connection[Any], scope: Scope, code: str) -> WardRecord | None:
    """The ward `code` when `scope` sees it, else None."""
    if not scope.sees(code):
        return None
    row = conn.execute(f"SELECT {_COLUMNS} FROM wards WHERE code = %s", (code,)).fetchone()
    return None if row is None else WardRecord(*row)


def adopt_single_ward(conn: psycopg.Connection[Any], code: str) -> dict[str, int]:
    """Give every unassigned row the ward `code` (which must exist), in one transaction.

    The old database's ward name and boundary (table ``ward``) become the ward's when it has
    none. Returns the number of rows adopted per table. Running it again adopts nothing.
    """
    counts: dict[str, int] = {}
    with conn.transaction():
        ward = conn.execute("SELECT boundary_json FROM wards WHERE code = %s FOR UPDATE",
                            (code,)).fetchone()
        if ward is None:
            raise ScopeError(f"ward {code!r} does not exist: add it first (lomsong wards add)")
        conn.execute(
            "UPDATE wards SET boundary_json = coalesce(wards.boundary_json, w.boundary_json),"
            " updated_at = now() FROM ward w WHERE wards.code = %s AND w.id = 1", (code,))
        for table in ADOPTED_TABLES:
            cur = conn.execute(
                f"UPDATE {table} SET ward_code = %s WHERE ward_code IS NULL"
                + (" AND role IN ('admin', 'officer', 'ward_officer')" if table == "dashboard_users"
                   else ""),
                (code,))
            counts[table] = cur.rowcount
        mark_dirty(conn, code)  # its city roll-ups now count the adopted rows
    return counts
