"""Dashboard users: stored with an argon2id hash (made by the caller), a role and a session epoch."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg import sql

from lomsong.collector.errors import StorageError
from lomsong.collector.storage.scope import SINGLE_WARD, Scope, ScopeError

__all__ = ["USER_ROLES", "UserRole", "UserRow", "case_scope", "create_carrier_user",
           "create_user", "end_sessions", "get_user", "list_carrier_users", "list_users",
           "role_scope", "set_carrier_disabled", "set_disabled", "set_password_hash"]

MAX_CARRIER_USERS = 1_000

# admin and officer: of one ward; city_officer (reads every ward), city_admin; carrier: the
# account of a carrier organisation (its cases only).
UserRole = Literal["admin", "officer", "city_officer", "city_admin", "carrier"]
USER_ROLES: tuple[UserRole, ...] = ("admin", "officer", "city_officer", "city_admin", "carrier")
_COLUMNS = ("id, username, password_hash, role, created_at, disabled_at, session_epoch,"
            " ward_code, carrier")


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

    @property
    def scope(self) -> Scope:
        """What this user may see and change of the wards' data (`Scope`)."""
        return role_scope(self.role, self.ward_code, self.carrier)

    @property
    def case_scope(self) -> Scope:
        """What this user may see and change of the asks (`storage.cases`)."""
        return case_scope(self.role, self.ward_code, self.carrier)


def role_scope(role: str, ward_code: str | None, carrier: str | None) -> Scope:
    """The `Scope` of an account's role: admin (writes) and officer of one ward, the city's
    roles (city_admin writes), a carrier organisation (no ward data)."""
    if role in ("city_officer", "city_admin"):
        return Scope.city_wide(write=role == "city_admin")
    if role == "carrier":
        return Scope.of_carrier(carrier)
    return Scope.ward(ward_code, write=role == "admin")


def case_scope(role: str, ward_code: str | None, carrier: str | None) -> Scope:
    """The asks an account sees (as `role_scope`), and changes: every role but the city
    officer, who only reads (ward officers send asks, carriers reply to theirs)."""
    return replace(role_scope(role, ward_code, carrier), write=role != "city_officer")


def create_user(conn: psycopg.Connection[Any], username: str, password_hash: str,
                role: UserRole, *, ward_code: str | None = None,
                carrier: str | None = None) -> UserRow:
    """Insert a user; `StorageError` if the name is taken or not allowed (a-z, 0-9, . _ -).

    `ward_code` is the ward of an ``admin`` or ``officer`` (None: the single ward of a database
    without ward records); a carrier account names its carrier (viettel, vnpt, mobifone).
    """
    try:
        row = conn.execute(
            f"INSERT INTO dashboard_users (username, password_hash, role, ward_code, carrier)"
            f" VALUES (%s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
            (username, password_hash, role, ward_code, carrier),
        ).fetchone()
    except psycopg.errors.UniqueViolation as exc:
        raise StorageError(f"user {username!r} exists") from exc
    except psycopg.errors.ForeignKeyViolation as exc:
        raise StorageError(f"ward {ward_code!r} does not exist") from exc
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


def list_users(conn: psycopg.Connection[Any], scope: Scope = SINGLE_WARD) -> list[UserRow]:
    """The users of the scope's ward(s) (a city-wide scope also sees city and carrier users)."""
    where, params = scope.where("ward_code")
    if not scope.city:  # a ward sees its own staff only
        where = sql.SQL("{} AND role IN ('admin', 'officer')").format(where)
    rows = conn.execute(sql.SQL("SELECT {} FROM dashboard_users WHERE {} ORDER BY username")
                        .format(sql.SQL(_COLUMNS), where), params).fetchall()
    return [UserRow(*r) for r in rows]


def set_disabled(conn: psycopg.Connection[Any], username: str, disabled: bool,
                 scope: Scope = SINGLE_WARD) -> bool:
    """Disable (ending every session) or enable a user of the scope's ward(s); False when it
    has no such user."""
    where, params = scope.where("ward_code")
    if not scope.write:
        raise ScopeError("this account may not change users")
    cur = conn.execute(
        sql.SQL("UPDATE dashboard_users SET disabled_at = CASE WHEN %s THEN now() END,"
                " session_epoch = session_epoch + 1 WHERE username = %s AND {}").format(where),
        (disabled, username, *params),
    )
    return cur.rowcount > 0


def _city_admin(scope: Scope) -> None:
    if not (scope.city and scope.write):
        raise ScopeError("only the city's administrator manages carrier accounts")


def create_carrier_user(conn: psycopg.Connection[Any], username: str, password_hash: str,
                        carrier: str, scope: Scope) -> UserRow:
    """A user of carrier organisation `carrier` (viettel, vnpt, mobifone), made by the city's
    administrator (`ScopeError` for any other scope); `StorageError` as `create_user`."""
    _city_admin(scope)
    return create_user(conn, username, password_hash, "carrier", carrier=carrier)


def list_carrier_users(conn: psycopg.Connection[Any], scope: Scope) -> list[UserRow]:
    """The carrier organisations' users, for a city-wide scope (none for a ward's)."""
    if not scope.city:
        return []
    rows = conn.execute(f"SELECT {_COLUMNS} FROM dashboard_users WHERE role = 'carrier'"
                        f" ORDER BY carrier, username LIMIT {MAX_CARRIER_USERS}").fetchall()
    return [UserRow(*r) for r in rows]


def set_carrier_disabled(conn: psycopg.Connection[Any], username: str, disabled: bool,
                         scope: Scope) -> bool:
    """Disable (ending every session) or enable a carrier organisation's user; only the city's
    administrator may; False when there is no such carrier user."""
    _city_admin(scope)
    cur = conn.execute(
        "UPDATE dashboard_users SET disabled_at = CASE WHEN %s THEN now() END,"
        " session_epoch = session_epoch + 1 WHERE username = %s AND role = 'carrier'",
        (disabled, username))
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
