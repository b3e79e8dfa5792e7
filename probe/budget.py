"""Data budgets per SIM (path): bytes spent per local day and calendar month, kept on disk.

A small SQLite file next to the spool (``probe-budget.sqlite3``) holds, per path and local day,
the bytes the probe's tests moved (`Measurement.bytes_used`), and per path and test the largest
cost seen, used to estimate a test before it runs.

Enforcement happens before each test: a test whose estimate (its byte cap, else the largest cost
seen for it) would take the day or the month over the limit is not run. It is recorded as a
Measurement with ``error_kind = budget_exhausted`` rather than only logged, because the
collector must tell "no test: budget spent" from "no test: probe dead"; the analysis leaves such
records out of its statistics (they say nothing about the network).

Example
-------
>>> import tempfile, pathlib
>>> from datetime import UTC, datetime
>>> from zoneinfo import ZoneInfo
>>> ledger = Ledger(pathlib.Path(tempfile.mkdtemp()) / "b.sqlite3", ZoneInfo("Asia/Ho_Chi_Minh"))
>>> at = datetime(2026, 11, 2, 20, 0, tzinfo=UTC)  # 03:00 on 3 Nov in Hanoi
>>> ledger.charge("viettel-4g", "iperf3-down", 40_000_000, at)
>>> ledger.usage("viettel-4g", at)
Usage(day_bytes=40000000, month_bytes=40000000)
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Final
from zoneinfo import ZoneInfo

from lomsong.probe.errors import SpoolError
from lomsong.probe.plan import BudgetSettings
from lomsong.probe.spool import open_sqlite

__all__ = ["Ledger", "Usage", "budget_path", "refusal"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS usage (
    path TEXT NOT NULL, day TEXT NOT NULL, bytes INTEGER NOT NULL, PRIMARY KEY (path, day)
);
CREATE TABLE IF NOT EXISTS cost (
    path TEXT NOT NULL, test TEXT NOT NULL, bytes INTEGER NOT NULL, PRIMARY KEY (path, test)
);
"""


def budget_path(spool_path: Path) -> Path:
    """Where the ledger of a spool lives (same folder)."""
    return spool_path.with_name("probe-budget.sqlite3")


@dataclass(frozen=True, slots=True)
class Usage:
    day_bytes: int
    month_bytes: int


def refusal(usage: Usage, estimate_bytes: int, limits: BudgetSettings | None) -> str | None:
    """Why a test of `estimate_bytes` may not run now (None: it may).

    >>> refusal(Usage(90, 90), 20, BudgetSettings(daily_bytes=100))
    'daily budget: 90 + 20 > 100 bytes'
    """
    if limits is None:
        return None
    if limits.daily_bytes is not None and usage.day_bytes + estimate_bytes > limits.daily_bytes:
        return f"daily budget: {usage.day_bytes} + {estimate_bytes} > {limits.daily_bytes} bytes"
    if limits.monthly_bytes is not None and usage.month_bytes + estimate_bytes > limits.monthly_bytes:
        return f"monthly budget: {usage.month_bytes} + {estimate_bytes} > {limits.monthly_bytes} bytes"
    return None


class Ledger:
    """Bytes used per path and local day; the day and month boundaries are in `zone`."""

    def __init__(self, path: Path, zone: ZoneInfo) -> None:
        self.path = path
        self.zone = zone
        self._db = open_sqlite(path, _SCHEMA, what="the budget ledger", durable=False)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _day(self, at: datetime) -> str:
        return at.astimezone(self.zone).date().isoformat()

    def charge(self, path: str, test: str, nbytes: int, at: datetime) -> None:
        """Add `nbytes` spent by `test` on `path` at `at`, and remember the test's largest cost."""
        if nbytes <= 0:
            return
        try:
            self._db.execute(
                "INSERT INTO usage (path, day, bytes) VALUES (?, ?, ?)"
                " ON CONFLICT (path, day) DO UPDATE SET bytes = bytes + excluded.bytes",
                (path, self._day(at), nbytes),
            )
            self._db.execute(
                "INSERT INTO cost (path, test, bytes) VALUES (?, ?, ?)"
                " ON CONFLICT (path, test) DO UPDATE SET bytes = max(bytes, excluded.bytes)",
                (path, test, nbytes),
            )
        except sqlite3.Error as exc:
            raise SpoolError(f"{self.path}: {exc}") from exc

    def usage(self, path: str, at: datetime) -> Usage:
        """Bytes spent on `path` on the local day and in the local month of `at`."""
        day = self._day(at)
        row = self._db.execute(
            "SELECT coalesce(sum(CASE WHEN day = ? THEN bytes END), 0), coalesce(sum(bytes), 0)"
            " FROM usage WHERE path = ? AND day LIKE ?",
            (day, path, day[:7] + "-%"),
        ).fetchone()
        return Usage(int(row[0]), int(row[1]))

    def estimate(self, path: str, test: str, cap_bytes: int | None) -> int:
        """What `test` will cost: its byte cap, else the largest cost seen, else 0 (first run)."""
        if cap_bytes is not None:
            return cap_bytes
        row = self._db.execute("SELECT bytes FROM cost WHERE path = ? AND test = ?", (path, test)).fetchone()
        return 0 if row is None else int(row[0])
