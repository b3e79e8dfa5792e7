"""Ordered plain-SQL migrations, chosen by tier and recorded in ``schema_migrations``.

Migration files live in ``migrations/<group>/NNN_name.sql``. The ``core`` group runs on every
tier; ``timescale`` adds what any TimescaleDB build offers (hypertable); ``tsl`` adds what needs
the community licence (compression and retention policies, the continuous aggregate). Each file
runs in its own transaction under an advisory lock, so several collectors starting at once apply
each migration exactly once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

from lomsong.collector.errors import DatabaseUnavailable, MigrationError, SchemaMissing
from lomsong.collector.storage.tier import Tier, detect_tier

__all__ = [
    "Migration", "MigrationStatus", "available_migrations", "migrate", "migration_status",
    "require_schema", "status_of",
]

_LOCK_KEY = 0x6C6F6D736F6E67  # "lomsong"
# A migration that meets a passing conflict is run again this many times, after RETRY_S,
# 2 x RETRY_S, ... seconds: serialization failure, deadlock, lock not available, and the
# catalog conflicts PostgreSQL reports only in words (SQLSTATE XX000).
RETRIES = 5
RETRY_S = 0.2
_TRANSIENT_STATES = frozenset({"40001", "40P01", "55P03"})
_TRANSIENT_TEXTS = ("tuple concurrently updated", "tuple concurrently deleted")
log = logging.getLogger(__name__)
_GROUPS: dict[Tier, tuple[str, ...]] = {
    Tier.POSTGRES: ("core",),
    Tier.TIMESCALE_APACHE: ("core", "timescale"),
    Tier.TIMESCALE_TSL: ("core", "timescale", "tsl"),
}


@dataclass(frozen=True)
class Migration:
    name: str  # "<group>/<file stem>", e.g. "core/001_core"
    sql: str


@dataclass(frozen=True)
class MigrationStatus:
    tier: Tier
    applied: tuple[str, ...]
    pending: tuple[str, ...]
    unknown: tuple[str, ...]  # applied in the database but not known to this code

    @property
    def current(self) -> bool:
        return not self.pending and not self.unknown


def available_migrations(tier: Tier) -> list[Migration]:
    """Migrations for `tier`, in the order they must run."""
    root = resources.files("lomsong.collector.storage") / "migrations"
    found: list[Migration] = []
    for group in _GROUPS[tier]:
        files = sorted(
            (f for f in (root / group).iterdir() if f.name.endswith(".sql")), key=lambda f: f.name
        )
        found.extend(Migration(f"{group}/{f.name[:-4]}", f.read_text("utf-8")) for f in files)
    return found


def _ensure_table(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )


def _applied(conn: psycopg.Connection[Any]) -> list[str]:
    return [str(r[0]) for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]


def status_of(conn: psycopg.Connection[Any]) -> MigrationStatus:
    """What is applied and what is pending on `conn`'s database."""
    tier = detect_tier(conn)
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    applied = _applied(conn) if exists and exists[0] else []
    known = [m.name for m in available_migrations(tier)]
    return MigrationStatus(
        tier=tier,
        applied=tuple(applied),
        pending=tuple(n for n in known if n not in applied),
        unknown=tuple(n for n in applied if n not in known),
    )


def migration_status(conninfo: str) -> MigrationStatus:
    """What is applied and what is pending, without changing anything but the tier extension."""
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
            return status_of(conn)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"cannot reach the database: {exc}") from exc


def require_schema(conninfo: str) -> MigrationStatus:
    """The status of a database whose schema is current; `SchemaMissing` when any is pending."""
    status = migration_status(conninfo)
    if status.pending:
        raise SchemaMissing(
            f"cơ sở dữ liệu chưa có lược đồ ({len(status.pending)} migration chưa chạy): chạy "
            f"lomsong db migrate (the database lacks the schema, {len(status.pending)} pending "
            f"migrations: run lomsong db migrate)")
    return status


class _Again(Exception):
    """A migration met a passing conflict; its transaction is rolled back and it runs again."""


def _transient(exc: psycopg.Error) -> bool:
    """Errors of a migration that met another session (TimescaleDB's policy jobs refresh and
    compress in the background) changing the same rows or catalog entries at that moment."""
    if isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None:
        return False  # the connection itself is gone
    return exc.sqlstate in _TRANSIENT_STATES or any(t in str(exc) for t in _TRANSIENT_TEXTS)


def _apply(conn: psycopg.Connection[Any], migration: Migration, *, last: bool) -> None:
    """Run `migration` in one transaction unless it is recorded as applied."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        done = conn.execute(
            "SELECT 1 FROM schema_migrations WHERE name = %s", (migration.name,)
        ).fetchone()
        if done:
            return
        try:
            conn.execute(migration.sql.encode())
        except psycopg.Error as exc:
            if not last and _transient(exc):
                raise _Again(str(exc).strip()) from exc
            raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
        conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (migration.name,))


def migrate(conninfo: str) -> MigrationStatus:
    """Apply every pending migration for the detected tier; return the resulting status.

    Each migration runs in its own transaction; one that meets a passing conflict (a
    deadlock, a lock it may not wait for, a catalog row a background job changed meanwhile)
    is rolled back and run again, up to `RETRIES` times."""
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
            tier = detect_tier(conn)
            _ensure_table(conn)
            for migration in available_migrations(tier):
                for attempt in range(RETRIES + 1):
                    try:
                        _apply(conn, migration, last=attempt == RETRIES)
                        break
                    except _Again as again:
                        log.warning("migration %s met a conflict (%s); trying again",
                                    migration.name, again)
                        time.sleep(RETRY_S * 2 ** attempt)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"cannot reach the database: {exc}") from exc
    status = migration_status(conninfo)
    if status.unknown:
        raise MigrationError(
            "the database has migrations this version does not know: " + ", ".join(status.unknown)
        )
    return status
