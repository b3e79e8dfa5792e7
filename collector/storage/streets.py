"""A ward's streets (a GeoJSON FeatureCollection of lines), one document per ward."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from lomsong.collector.errors import StorageError
from lomsong.collector.storage.scope import Scope, ScopeError

__all__ = ["MAX_STREETS_CHARS", "get_streets", "replace_streets", "streets_changed_at"]

MAX_STREETS_CHARS = 20_000_000


def replace_streets(conn: psycopg.Connection[Any], scope: Scope, streets_json: str) -> None:
    """Make `streets_json` (a GeoJSON FeatureCollection) the scope's ward's streets."""
    ward_code = scope.home()
    if ward_code is None:
        raise ScopeError("streets belong to a ward record: lomsong wards add first")
    if len(streets_json) > MAX_STREETS_CHARS:
        raise StorageError(f"streets: more than {MAX_STREETS_CHARS:,} characters of GeoJSON; "
                           "keep only the ward's own streets")
    try:
        conn.execute(
            "INSERT INTO ward_streets (ward_code, streets_json) VALUES (%s, %s)"
            " ON CONFLICT (ward_code) DO UPDATE SET streets_json = EXCLUDED.streets_json,"
            " updated_at = now()", (ward_code, streets_json))
    except psycopg.errors.ForeignKeyViolation as exc:
        raise StorageError(f"ward {ward_code!r} does not exist") from exc


def get_streets(conn: psycopg.Connection[Any], scope: Scope) -> str | None:
    """The streets of the scope's one ward, or None (none loaded, or a city-wide scope)."""
    if scope.city:
        return None
    where, params = scope.where("ward_code")
    row = conn.execute("SELECT streets_json FROM ward_streets WHERE " + where.as_string(conn),
                       params).fetchone()
    return None if row is None else str(row[0])


def streets_changed_at(conn: psycopg.Connection[Any], scope: Scope) -> datetime | None:
    """When the streets `get_streets` returns were last replaced, or None when it returns None:
    a change marker read without the document itself."""
    if scope.city:
        return None
    where, params = scope.where("ward_code")
    row = conn.execute("SELECT updated_at FROM ward_streets WHERE " + where.as_string(conn),
                       params).fetchone()
    if row is None:
        return None
    changed: datetime = row[0]
    return changed
