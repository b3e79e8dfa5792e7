"""Fault-test toolkit: a real collector in a subprocess, record factories, ledger checks.

The collector runs as ``python -m uvicorn --factory collector.asgi:app`` against a
fresh, migrated test database, so a SIGKILL kills a real server with real connections open.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from lomsong.collector.app import APPLICATION_NAME
from lomsong.probe.record import Access, Carrier, ClockState, Kind, Measurement, PositionSource

__all__ = ["REPO_ROOT", "CollectorProcess", "Ledger", "ScenarioRow", "free_port", "ingesting",
           "make_records", "poll"]

REPO_ROOT = Path(__file__).resolve().parents[2]
PROBE = "pi-fault-01"  # the probe every fault scenario writes as
START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def poll(predicate: Any, *, timeout_s: float, interval_s: float = 0.02, what: str) -> None:
    """Call `predicate` until it is true; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def make_records(probe_id: str, n: int, *, raw_chars: int = 0, start: datetime | None = None,
                 **fields: Any) -> list[Measurement]:
    """`n` realistic 4G download results of `probe_id`, one second apart, two days ago."""
    base = start or datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    values: dict[str, Any] = dict(
        kind=Kind.THROUGHPUT_DOWN, tool="iperf3", carrier=Carrier.VIETTEL, access=Access.LTE,
        bytes_used=12_000_000, duration_s=5.0, rsrp_dbm=-101.0, sinr_db=4.5, lon=105.8542,
        position_source=PositionSource.SITE, clock=ClockState.SYNCED,
        raw="x" * raw_chars if raw_chars else None,
    )
    values.update(fields)
    return [
        Measurement(probe_id=probe_id, measured_at=base + timedelta(seconds=i),
                    download_mbps=5.0 + i % 60, lat=21.0285 + (i % 500) * 1e-5, **values)
        for i in range(n)
    ]


def ingesting(database_url: str) -> bool:
    """A batch is being written: the collector's transaction is open (claiming ids, COPY, or
    in between). Only the collector's sessions count: TimescaleDB's policy jobs run in the same
    database and may sit in a transaction too."""
    dbname = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
            " AND application_name = %s"
            " AND (state = 'idle in transaction' OR (state = 'active' AND"
            "      (query ILIKE 'COPY %%' OR query ILIKE '%%measurement_ids%%')))",
            (dbname, APPLICATION_NAME)).fetchone()
    return row is not None and row[0] > 0


@dataclass
class CollectorProcess:
    """A collector subprocess (uvicorn) on `host:port`, optionally inside a network namespace."""

    database_url: str
    log_path: Path
    host: str = "127.0.0.1"
    port: int = 0
    netns: str | None = None
    env: dict[str, str] | None = None
    _proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        if not self.port:
            self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Start and wait for uvicorn's 'startup complete' line (the lifespan opened the pool)."""
        env = {**os.environ, "LOMSONG_DATABASE_URL": self.database_url,
               "LOMSONG_POOL_MIN_SIZE": "1", "LOMSONG_POOL_MAX_SIZE": "4",
               "LOMSONG_POOL_TIMEOUT_S": "3", "LOMSONG_RETRY_AFTER_S": "1",
               **(self.env or {})}
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        argv = [*prefix, sys.executable, "-m", "uvicorn", "--factory",
                "lomsong.collector.asgi:app", "--host", self.host, "--port", str(self.port),
                "--log-level", "info", "--no-access-log"]
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=log,
                                      stderr=subprocess.STDOUT)
        log.close()

        def ready() -> bool:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise AssertionError(f"collector exited {self._proc.returncode}:\n{self.log()}")
            with self.log_path.open("rb") as f:
                f.seek(offset)
                return b"Application startup complete" in f.read()

        poll(ready, timeout_s=START_TIMEOUT_S, what="the collector to start")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, connections dropped mid-flight."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait(timeout=10)
        self._proc = None

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._proc = None


class Ledger:
    """What the collector's database holds, for exactly-once checks."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def ids(self) -> list[uuid.UUID]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return [r[0] for r in conn.execute("SELECT id FROM measurements").fetchall()]

    def row(self, scenario: str, made: Sequence[uuid.UUID | str], *,
            dropped_by_policy: int = 0, note: str = "") -> ScenarioRow:
        """Compare what the probe made with what the database holds."""
        stored = self.ids()
        made_set = {uuid.UUID(str(i)) for i in made}
        stored_set = set(stored)
        return ScenarioRow(
            scenario=scenario, made=len(made_set), stored=len(made_set & stored_set),
            lost=len(made_set - stored_set) - dropped_by_policy,
            duplicated=len(stored) - len(stored_set), dropped_by_policy=dropped_by_policy,
            unexpected=len(stored_set - made_set), note=note,
        )


@dataclass(frozen=True)
class ScenarioRow:
    scenario: str
    made: int
    stored: int
    lost: int
    duplicated: int
    dropped_by_policy: int = 0
    unexpected: int = 0
    note: str = ""

    def assert_exactly_once(self) -> None:
        assert (self.lost, self.duplicated, self.unexpected) == (0, 0, 0), self
