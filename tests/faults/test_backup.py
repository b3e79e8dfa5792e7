"""Backup and restore (docs/security.md): `pg_dump -Fc` of a populated database, `pg_restore`
into a new one; counts and a checksum of ids match, and the restored database takes new data.

On TimescaleDB the target gets the extension first and the restore is wrapped in
`timescaledb_pre_restore()` / `timescaledb_post_restore()`, as TimescaleDB documents.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from faultkit import PROBE, make_records
from psycopg import sql

from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.collector.storage.migrate import migration_status
from lomsong.collector.storage.tokens import create_token, lookup_token

pytestmark = [pytest.mark.db, pytest.mark.timeout(300)]

TABLES = ("measurements", "measurement_ids", "api_tokens")
TOOL_TIMEOUT_S = 240


def _fingerprint(url: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        counts = {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t)))
                  .fetchone() for t in TABLES}
        ids = conn.execute("SELECT md5(string_agg(id::text, ',' ORDER BY id)),"
                           " sum(download_mbps), min(time), max(time) FROM measurements"
                           ).fetchone()
    return {"counts": counts, "ids": ids}


def _store(url: str, n: int) -> None:
    received = datetime.now(UTC)
    records = [StoredRecord(m, m.measured_at, m.clock) for m in make_records(PROBE, n)]
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(0, n, 1_000):
            ingest(conn, records[i:i + 1_000], received)


@pytest.fixture
def restore_target(db_server: Any) -> Iterator[str]:
    with db_server.scratch_database("lomsong_restore_") as url:
        yield url


def _run(db_server: Any, tool: str, *args: str) -> None:
    """Run the client `tool` of the server's own PostgreSQL version (pg_dump refuses newer ones)."""
    done = subprocess.run([db_server.tool(tool), *args], capture_output=True, text=True,
                          timeout=TOOL_TIMEOUT_S, env=db_server.tool_env())
    assert done.returncode == 0, f"{tool} exited {done.returncode}: {done.stderr[-3000:]}"


@pytest.mark.parametrize("db_server", ["plain", "timescale", "tsl"], indirect=True)
def test_pg_dump_and_restore_round_trip(db_server: Any, migrated_url: str, restore_target: str,
                                        tmp_path: Path) -> None:
    _store(migrated_url, 5_000)
    with psycopg.connect(migrated_url, autocommit=True) as conn:
        token = create_token(conn, PROBE, "probe")
    before = _fingerprint(migrated_url)
    dump = tmp_path / "lomsong.dump"
    _run(db_server, "pg_dump", "-Fc", "--file", str(dump), "--dbname", migrated_url)
    timescale = db_server.tier in ("timescale", "tsl")
    if timescale:
        with psycopg.connect(restore_target, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            conn.execute("SELECT timescaledb_pre_restore()")
    _run(db_server, "pg_restore", "--no-owner", "--dbname", restore_target, str(dump))
    if timescale:
        with psycopg.connect(restore_target, autocommit=True) as conn:
            conn.execute("SELECT timescaledb_post_restore()")
    after = _fingerprint(restore_target)
    assert after == before
    assert before["counts"]["measurements"] == (5_000,)
    source, restored = migration_status(migrated_url), migration_status(restore_target)
    assert restored.current and (restored.tier, restored.applied) == (source.tier, source.applied)
    if timescale:
        with psycopg.connect(restore_target, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM timescaledb_information.hypertables"
                                " WHERE hypertable_name = 'measurements'").fetchone() == (1,)
    with psycopg.connect(restore_target, autocommit=True) as conn:
        assert lookup_token(conn, token) is not None  # probes keep their tokens
    _store(restore_target, 10)  # and the restored database takes new data
    assert _fingerprint(restore_target)["counts"]["measurements"] == (5_010,)
