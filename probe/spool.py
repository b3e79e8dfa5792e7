"""The probe's on-disk buffer: measurements wait here until the collector acknowledged them.

SQLite in WAL mode with ``synchronous=FULL``: a record counts as taken only once its transaction
is committed and synced, so a power cut on a Raspberry Pi loses at most the record being written.
Add -> batch -> ack (delete) or reject (quarantine); nothing is deleted before an acknowledgement.
The buffer is bounded (rows and/or bytes): `drop_oldest` makes room by dropping the oldest pending
records, `refuse_new` keeps the old ones and refuses the new; either way the loss is counted by
reason in a persistent table.

A full disk must not stop the spool from draining: deleting acknowledged records writes to the WAL
first, which needs free bytes. So the spool keeps a pre-allocated reserve file beside it
(``<spool>-reserve``, `RESERVE_BYTES`); when an acknowledgement or a quarantine fails because the
disk is full, the reserve is given back to the file system, the delete is tried again and the
WAL is truncated. The reserve is made again (as much of it as fits) after each change.

Example
-------
>>> import tempfile, pathlib
>>> with Spool(pathlib.Path(tempfile.mkdtemp()) / "spool.sqlite3") as spool:
...     spool.stats().pending
0
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Final

from pydantic import ValidationError

from lomsong.probe.disk_reserve import DiskReserve
from lomsong.probe.errors import SpoolError
from lomsong.probe.record import Measurement

__all__ = [
    "DROP_FULL_OLDEST",
    "DROP_FULL_REFUSED",
    "DROP_REJECTED_OVERFLOW",
    "RESERVE_BYTES",
    "Spool",
    "SpoolPolicy",
    "SpoolStats",
    "open_sqlite",
]

DROP_FULL_OLDEST: Final = "spool_full_dropped_oldest"
DROP_FULL_REFUSED: Final = "spool_full_refused_new"
DROP_REJECTED_OVERFLOW: Final = "rejected_overflow"
# Room given back on a full disk so acknowledged records can still be deleted (a WAL frame per
# changed page: an acknowledged batch of 1,000 records changes well under 1 MiB).
RESERVE_BYTES: Final = 4 * 1024 * 1024

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS pending (
    id TEXT PRIMARY KEY, created_at TEXT NOT NULL, payload TEXT NOT NULL, size_bytes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    id TEXT PRIMARY KEY, created_at TEXT NOT NULL, rejected_at TEXT NOT NULL, reason TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dropped (reason TEXT PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class SpoolPolicy(StrEnum):
    """What to do when the spool is full."""

    DROP_OLDEST = "drop_oldest"
    REFUSE_NEW = "refuse_new"


@dataclass(frozen=True, slots=True)
class SpoolStats:
    pending: int
    pending_bytes: int
    rejected: int
    dropped: dict[str, int]
    oldest_pending_at: datetime | None
    file_bytes: int
    last_upload_attempt_at: datetime | None
    last_upload_success_at: datetime | None
    last_upload_error: str | None


def open_sqlite(path: Path, schema: str, *, what: str, durable: bool) -> sqlite3.Connection:
    """An autocommit SQLite connection to `path` in WAL mode with `schema` applied (the parent
    folder is made). `durable`: ``synchronous=FULL``, each commit fsync'd before it returns.

    Raises `SpoolError` naming `path` and `what` when the file cannot be opened.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        if durable:
            db.execute("PRAGMA synchronous=FULL")
        db.executescript(schema)
    except (OSError, sqlite3.Error) as exc:
        raise SpoolError(f"{path}: cannot open {what}: {exc}") from exc
    return db


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Spool:
    """A bounded SQLite queue of `Measurement` records. Use as a context manager or `close()`."""

    def __init__(
        self,
        path: Path,
        *,
        max_rows: int | None = 100_000,
        max_bytes: int | None = None,
        policy: SpoolPolicy = SpoolPolicy.DROP_OLDEST,
        max_rejected_rows: int = 10_000,
    ) -> None:
        self.path = path
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.policy = policy
        self.max_rejected_rows = max_rejected_rows
        self.reserve = DiskReserve(Path(f"{path}-reserve"), RESERVE_BYTES)
        self._db = open_sqlite(path, _SCHEMA, what="the spool", durable=True)
        self.reserve.keep()

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                if self._db.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL)
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise SpoolError(f"{self.path}: {exc}") from exc

    def add(self, measurement: Measurement) -> bool:
        """Store one record; False when the full spool refused it (counted as dropped)."""
        return self.add_many([measurement]) == 1

    def add_many(self, measurements: Iterable[Measurement]) -> int:
        """Store records in one transaction; returns how many were stored (or already present)."""
        stored = 0
        with self._transaction() as db:
            # Running totals: summing `size_bytes` walks every payload's overflow pages, so it is
            # read once per transaction, not once per record.
            rows, total = db.execute("SELECT count(*), coalesce(sum(size_bytes), 0) FROM pending").fetchone()
            for m in measurements:
                if db.execute("SELECT 1 FROM pending WHERE id = ?", (str(m.id),)).fetchone():
                    stored += 1  # already spooled: resending the same id is harmless
                    continue
                payload = m.model_dump_json()
                size = len(payload.encode())
                room = self._make_room(db, size, rows, total)
                if room is None:
                    self._count_dropped(db, DROP_FULL_REFUSED, 1)
                    continue
                db.execute(
                    "INSERT INTO pending (id, created_at, payload, size_bytes) VALUES (?, ?, ?, ?)",
                    (str(m.id), _now(), payload, size),
                )
                rows, total = room[0] + 1, room[1] + size
                stored += 1
        return stored

    def _make_room(self, db: sqlite3.Connection, size: int, rows: int, total: int) -> tuple[int, int] | None:
        """Make room for `size` more bytes; the (rows, bytes) left pending, or None if refused."""
        over_rows = self.max_rows is not None and rows + 1 > self.max_rows
        over_bytes = self.max_bytes is not None and total + size > self.max_bytes
        if not (over_rows or over_bytes):
            return rows, total
        if self.policy is SpoolPolicy.REFUSE_NEW or (self.max_bytes is not None and size > self.max_bytes):
            return None
        dropped = 0
        cursor = db.execute("SELECT rowid, size_bytes FROM pending ORDER BY rowid")
        victims = []
        for rowid, row_size in cursor:
            if (self.max_rows is None or rows - dropped + 1 <= self.max_rows) and (
                self.max_bytes is None or total + size <= self.max_bytes
            ):
                break
            victims.append((rowid,))
            dropped += 1
            total -= row_size
        db.executemany("DELETE FROM pending WHERE rowid = ?", victims)
        self._count_dropped(db, DROP_FULL_OLDEST, dropped)
        return rows - dropped, total

    @staticmethod
    def _count_dropped(db: sqlite3.Connection, reason: str, count: int) -> None:
        if count:
            db.execute(
                "INSERT INTO dropped (reason, count) VALUES (?, ?)"
                " ON CONFLICT (reason) DO UPDATE SET count = count + excluded.count",
                (reason, count),
            )

    def batch(self, limit: int) -> list[Measurement]:
        """The oldest `limit` pending records, oldest first (they stay pending until acked).

        A payload that no longer validates (damaged file, older code) is moved to `rejected` with
        the reason, so one bad row never blocks the spool."""
        while True:
            query = "SELECT id, payload FROM pending ORDER BY rowid LIMIT ?"
            rows = self._db.execute(query, (limit,)).fetchall()
            good, bad = [], {}
            for record_id, payload in rows:
                try:
                    good.append(Measurement.model_validate_json(payload))
                except ValidationError as exc:
                    bad[str(record_id)] = f"spooled payload no longer validates: {exc}"[:2000]
            if not bad:
                return good
            for record_id, reason in bad.items():
                self.reject([record_id], reason)

    def _on_full_disk(self, change: Callable[[], int]) -> int:
        """Run `change`; if the disk is full, give the reserve back and run it once more."""
        try:
            result = change()
        except SpoolError as exc:
            full = isinstance(exc.__cause__, sqlite3.Error) and (
                getattr(exc.__cause__, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL)
            if not full or not self.reserve.release():
                raise
            # Move the WAL's frames into the database and empty the WAL, then delete into it.
            self._checkpoint()
            result = change()
            self._checkpoint()  # give the WAL's bytes back, so the reserve can be made again
        self.reserve.keep()
        return result

    def _checkpoint(self) -> None:
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise SpoolError(f"{self.path}: {exc}") from exc

    def ack(self, ids: Sequence[str]) -> int:
        """Delete exactly these pending records (the collector holds them); returns how many.

        Works on a full disk (see the reserve, above)."""

        def delete() -> int:
            with self._transaction() as db:
                cursor = db.executemany("DELETE FROM pending WHERE id = ?", [(i,) for i in ids])
                return cursor.rowcount

        return self._on_full_disk(delete)

    def reject(self, ids: Sequence[str], reason: str) -> int:
        """Move these pending records to the `rejected` table, kept for inspection."""
        return self._on_full_disk(lambda: self._move_to_rejected(ids, reason))

    def _move_to_rejected(self, ids: Sequence[str], reason: str) -> int:
        moved = 0
        with self._transaction() as db:
            for record_id in ids:
                cursor = db.execute(
                    "INSERT OR REPLACE INTO rejected (id, created_at, rejected_at, reason, payload)"
                    " SELECT id, created_at, ?, ?, payload FROM pending WHERE id = ?",
                    (_now(), reason, record_id),
                )
                moved += cursor.rowcount
                db.execute("DELETE FROM pending WHERE id = ?", (record_id,))
            (count,) = db.execute("SELECT count(*) FROM rejected").fetchone()
            overflow = count - self.max_rejected_rows
            if overflow > 0:
                db.execute(
                    "DELETE FROM rejected WHERE rowid IN (SELECT rowid FROM rejected ORDER BY rowid LIMIT ?)",
                    (overflow,),
                )
                self._count_dropped(db, DROP_REJECTED_OVERFLOW, overflow)
        return moved

    def rejected(self, limit: int = 100) -> list[tuple[str, str, str]]:
        """The newest rejected records as (id, rejected_at, reason)."""
        rows = self._db.execute(
            "SELECT id, rejected_at, reason FROM rejected ORDER BY rowid DESC LIMIT ?", (limit,)
        ).fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    def set_meta(self, **values: str) -> None:
        """Remember small facts (e.g. the last upload attempt) across runs."""
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                list(values.items()),
            )

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def record_upload(self, *, success: bool, error: str | None = None) -> None:
        """Note an upload attempt and its outcome (success clears the last error)."""
        now = _now()
        if success:
            self.set_meta(last_upload_attempt_at=now, last_upload_success_at=now, last_upload_error="")
        else:
            self.set_meta(last_upload_attempt_at=now, last_upload_error=error or "unknown error")

    def update_pending(self, measurements: Iterable[Measurement]) -> int:
        """Replace still-pending records by new versions (same ids); returns how many."""
        rows = [(p, len(p.encode()), str(m.id)) for m in measurements for p in [m.model_dump_json()]]
        with self._transaction() as db:
            return sum(
                db.execute("UPDATE pending SET payload = ?, size_bytes = ? WHERE id = ?", row).rowcount
                for row in rows
            )

    def integrity_check(self) -> str:
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    def stats(self) -> SpoolStats:
        db = self._db
        pending, pending_bytes = db.execute(
            "SELECT count(*), coalesce(sum(size_bytes), 0) FROM pending"
        ).fetchone()
        (rejected,) = db.execute("SELECT count(*) FROM rejected").fetchone()
        dropped = dict(db.execute("SELECT reason, count FROM dropped ORDER BY reason").fetchall())
        oldest = db.execute("SELECT created_at FROM pending ORDER BY rowid LIMIT 1").fetchone()
        file_bytes = sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())

        def when(key: str) -> datetime | None:
            value = self.meta(key)
            return datetime.fromisoformat(value) if value else None

        return SpoolStats(
            pending=pending,
            pending_bytes=pending_bytes,
            rejected=rejected,
            dropped=dropped,
            oldest_pending_at=None if oldest is None else datetime.fromisoformat(oldest[0]),
            file_bytes=file_bytes,
            last_upload_attempt_at=when("last_upload_attempt_at"),
            last_upload_success_at=when("last_upload_success_at"),
            last_upload_error=self.meta("last_upload_error") or None,
        )
