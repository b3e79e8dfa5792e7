"""Dashboard users: stored with an argon2id hash (made by the caller), a role and a session epoch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg

from lomsong.collector.errors import StorageError

__all__ = ["UserRole", "UserRow", "create_user", "end_sessions", "get_user", "list_users",
           "set_disabled", "set_password_hash"]

UserRole = Literal["admin", "officer", "carrier"]
_COLUMNS = ("id, username, password_hash, role, created_at, disabled_at, session_epoch, ward_code,"
            " carrier")


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    password_hash: str
    role: UserRole
    created_at: datetime
    disabled_at: datetime | None
    session_epoch: int
    ward_code: str | None = None  # a ward officer's ward (official 2025 code)
    carrier: str | None = None  # a carrier account's carrier

    @property
    def active(self) -> bool:
        return self.disabled_at is None


def create_user(conn: psycopg.Connection[Any], username: str, password_hash: str,
                role: UserRole, *, ward_code: str | None = None,
                carrier: str | None = None) -> UserRow:
    """Insert a user; `StorageError` if the name is taken or not allowed (a-z, 0-9, . _ -).

    A carrier account names its carrier (viettel, vnpt, mobifone); an officer may name a ward.
    """
    try:
        row = conn.execute(
            f"INSERT INTO dashboard_users (username, password_hash, role, ward_code, carrier)"
            f" VALUES (%s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
            (username, password_hash, role, ward_code, carrier),
        ).fetchone()
    except psycopg.errors.UniqueViolation as exc:
        raise StorageError(f"user {username!r} exists") from exc
    except psycopg.errors.CheckViolation as exc:
        raise StorageError(
            f"user name {username!r}, role {role!r}, ward {ward_code!r} or carrier {carrier!r} not"
            f" allowed (2-64 of a-z 0-9 . _ -; a 5-digit ward code; a carrier account names one"
            f" of viettel, vnpt, mobifone)"
        ) from exc
    assert row is not None
    return UserRow(*row)


def get_user(conn: psycopg.Connection[Any], username: str) -> UserRow | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM dashboard_users WHERE username = %s",
                       (username,)).fetchone()
    return None if row is None else UserRow(*row)


def list_users(conn: psycopg.Connection[Any]) -> list[UserRow]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM dashboard_users ORDER BY username").fetchall()
    return [UserRow(*r) for r in rows]


def set_disabled(conn: psycopg.Connection[Any], username: str, disabled: bool) -> bool:
    """Disable (ending every session) or enable a user; False when there is no such user."""
    cur = conn.execute(
        "UPDATE dashboard_users SET disabled_at = CASE WHEN %s THEN now() END,"
        " session_epoch = session_epoch + 1 WHERE username = %s",
        (disabled, username),
    )
    return cur.rowcount > 0


def end_sessions(conn: psycopg.Connection[Any], username: str) -> bool:
    """End every session of `username` (sign-out): cookies signed before stop working."""
    cur = conn.execute(
        "UPDATE dashboard_users SET session_epoch = session_epoch + 1 WHERE username = %s",
        (username,),
    )
    return cur.rowcount > 0


def set_password_hash(conn: psycopg.Connection[Any], username: str, password_hash: str) -> bool:
    """Replace a user's password hash and end their sessions; False when there is no such user."""
    cur = conn.execute(
        "UPDATE dashboard_users SET password_hash = %s, session_epoch = session_epoch + 1"
        " WHERE username = %s",
        (password_hash, username),
    )
    return cur.rowcount > 0
