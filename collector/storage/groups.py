"""A ward's residential groups (tổ dân phố / thôn), stored as GeoJSON geometries per ward."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from lomsong.collector.errors import StorageError
from lomsong.collector.storage.scope import Scope, ScopeError

__all__ = ["StoredGroup", "groups_version", "list_groups", "replace_groups"]


@dataclass(frozen=True)
class StoredGroup:
    ward_code: str
    group_id: str
    name: str
    geometry_json: str


def replace_groups(conn: psycopg.Connection[Any], scope: Scope,
                   groups: Sequence[tuple[str, str, str]]) -> int:
    """Make (group_id, name, GeoJSON geometry) the scope's ward's groups, all or none."""
    ward_code = scope.home()
    if ward_code is None:
        raise ScopeError("residential groups belong to a ward record: lomsong wards add first")
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("DELETE FROM residential_groups WHERE ward_code = %s", (ward_code,))
            cur.executemany(
                "INSERT INTO residential_groups (ward_code, group_id, name, geometry_json)"
                " VALUES (%s, %s, %s, %s)", [(ward_code, *g) for g in groups])
    except psycopg.errors.ForeignKeyViolation as exc:
        raise StorageError(f"ward {ward_code!r} does not exist") from exc
    except (psycopg.errors.CheckViolation, psycopg.errors.UniqueViolation) as exc:
        raise StorageError(f"a residential group is not valid: {exc}") from exc
    return len(groups)


def list_groups(conn: psycopg.Connection[Any], scope: Scope) -> list[StoredGroup]:
    """The groups of the scope's ward(s), by ward and id."""
    where, params = scope.where("ward_code")
    rows = conn.execute(
        "SELECT ward_code, group_id, name, geometry_json FROM residential_groups WHERE "
        + where.as_string(conn) + " ORDER BY ward_code, group_id", params).fetchall()
    return [StoredGroup(*r) for r in rows]


def groups_version(conn: psycopg.Connection[Any], scope: Scope) -> tuple[int, datetime | None]:
    """(how many, when the newest was stored) of the groups `list_groups` returns: a change
    marker read without their geometries. `replace_groups` stores every group of a ward anew, so
    each replacement changes it."""
    where, params = scope.where("ward_code")
    row = conn.execute("SELECT count(*), max(updated_at) FROM residential_groups WHERE "
                       + where.as_string(conn), params).fetchone()
    assert row is not None  # an aggregate always returns a row
    return int(row[0]), row[1]
