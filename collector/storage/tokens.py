"""API tokens for probes and readers: random, shown once, stored as SHA-256, revocable."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg import sql

from lomsong.collector.errors import StorageError
from lomsong.collector.storage.scope import SINGLE_WARD, Scope

__all__ = ["PROBE_NAME", "Role", "TokenInfo", "check_probe_name", "create_token", "hash_token",
           "list_tokens", "lookup_token", "revoke_token"]

Role = Literal["probe", "reader"]
_PREFIX = "lsk_"
# The wire record's rule for `probe_id` (lomsong.probe.record.Measurement).
PROBE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    ward_code: str | None = None

    @property
    def scope(self) -> Scope:
        """A reader reads its ward's data; a probe writes its measurements to its ward."""
        return Scope.ward(self.ward_code, write=self.role == "probe")


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def check_probe_name(name: str) -> None:
    """A probe's token name is the `probe_id` its records carry, so it follows that field's rule.

    >>> try:
    ...     check_probe_name("bad name<x>")
    ... except ValueError as exc:
    ...     print(str(exc)[:50])
    tên probe không hợp lệ (invalid probe name) 'bad n
    """
    if not PROBE_NAME.fullmatch(name):
        raise ValueError(f"tên probe không hợp lệ (invalid probe name) {name[:80]!r}: 1-64 of "
                         "A-Z a-z 0-9 . _ - starting with a letter or digit")


def create_token(conn: psycopg.Connection[Any], name: str, role: Role,
                 scope: Scope = SINGLE_WARD) -> str:
    """Make a token for `name` in the scope's ward; the plain token is returned once and never
    stored.

    Raises ``ValueError`` for a probe name that could never upload (`check_probe_name`).
    """
    if role == "probe":
        check_probe_name(name)
    token = _PREFIX + secrets.token_urlsafe(32)
    try:
        conn.execute(
            "INSERT INTO api_tokens (name, role, token_hash, ward_code) VALUES (%s, %s, %s, %s)",
            (name, role, hash_token(token), scope.home()),
        )
    except psycopg.errors.UniqueViolation as exc:
        raise StorageError(
            f"an active {role} token named {name!r} exists; revoke it first"
        ) from exc
    except psycopg.errors.ForeignKeyViolation as exc:
        raise StorageError(f"ward {scope.ward_code!r} does not exist") from exc
    return token


def lookup_token(conn: psycopg.Connection[Any], token: str) -> TokenInfo | None:
    """The active token matching `token`, or None; its last use is noted at most once a minute
    (so a busy probe does not turn every request into a write)."""
    row = conn.execute(
        "WITH found AS ("
        " SELECT id, name, role, created_at, revoked_at, last_used_at, ward_code FROM api_tokens"
        " WHERE token_hash = %s AND revoked_at IS NULL),"
        " touched AS ("
        " UPDATE api_tokens SET last_used_at = now() WHERE id IN ("
        "  SELECT id FROM found"
        "  WHERE last_used_at IS NULL OR last_used_at < now() - interval '1 minute'))"
        " SELECT * FROM found",
        (hash_token(token),),
    ).fetchone()
    return None if row is None else TokenInfo(*row)


def list_tokens(conn: psycopg.Connection[Any], scope: Scope = SINGLE_WARD) -> list[TokenInfo]:
    where, params = scope.where("ward_code")
    rows = conn.execute(sql.SQL(
        "SELECT id, name, role, created_at, revoked_at, last_used_at, ward_code FROM api_tokens"
        " WHERE {} ORDER BY id").format(where), params).fetchall()
    return [TokenInfo(*r) for r in rows]


def revoke_token(conn: psycopg.Connection[Any], name: str, role: Role,
                 scope: Scope = SINGLE_WARD) -> bool:
    """Revoke the active token of `name` in the scope's ward; False when there was none."""
    cur = conn.execute(
        "UPDATE api_tokens SET revoked_at = now()"
        " WHERE name = %s AND role = %s AND revoked_at IS NULL"
        " AND ward_code IS NOT DISTINCT FROM %s",
        (name, role, scope.home()),
    )
    return cur.rowcount > 0
