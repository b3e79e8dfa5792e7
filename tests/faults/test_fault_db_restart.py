"""The database server itself restarts while a probe uploads: each record arrives exactly once.

`pg_ctl restart -m immediate` kills the whole PostgreSQL server without a checkpoint, as a crash
would, and starts it again: it recovers from its WAL. The server is a throwaway tsl-tier cluster
(the production tier: PostgreSQL 18 with TimescaleDB and its policies) with PostgreSQL's
crash-safety defaults, so a commit the collector acknowledged must survive. The probe's real
`Spool` and `upload_pending` post to a real collector subprocess throughout.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from faultkit import PROBE, CollectorProcess, Ledger, ScenarioRow, ingesting, make_records, poll

from lomsong.collector.app import APPLICATION_NAME
from lomsong.probe.spool import Spool
from lomsong.probe.uploader import Backoff, CollectorClient, UploadReport, upload_pending

pytestmark = [pytest.mark.db, pytest.mark.timeout(240)]

FAST = Backoff(base_s=0.05, cap_s=0.2)
RESTARTS = 3
RECOVERY_DEADLINE_S = 60.0


@pytest.fixture
def db_server(own_tsl_cluster: tuple[Any, Any]) -> Any:
    """This module's databases live on a cluster of its own: the test restarts it."""
    return own_tsl_cluster[0]


def stored_count(url: str) -> int | None:
    """Rows in measurements, or None while the server does not answer."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=2) as conn:
            row = conn.execute("SELECT count(*) FROM measurements").fetchone()
    except psycopg.OperationalError:
        return None
    return None if row is None else int(row[0])


def test_database_server_restarted_immediately_during_ingest(
        tmp_path: Path, own_tsl_cluster: tuple[Any, Any], collector: CollectorProcess,
        probe_token: str, ledger: Ledger, fault_table: list[ScenarioRow]) -> None:
    _, cluster = own_tsl_cluster
    records = make_records(PROBE, 12_000, raw_chars=2_000)  # ~2.5 MB batches: a long transaction
    path = tmp_path / "spool.sqlite3"
    with Spool(path, max_rows=None) as spool:
        spool.add_many(records)
    collector.start()
    reports: list[UploadReport] = []

    def upload() -> None:
        with Spool(path, max_rows=None) as spool, \
                CollectorClient(collector.url, probe_token) as client:
            reports.append(upload_pending(spool, client, batch_size=1_000, backoff=FAST,
                                          max_retries=100))

    uploader = threading.Thread(target=upload)
    uploader.start()
    server_back_s: list[float] = []  # restart issued -> server accepts connections again
    ingest_back_s: list[float] = []  # restart issued -> the next batch is committed
    try:
        while len(server_back_s) < RESTARTS and uploader.is_alive():
            poll(lambda: not uploader.is_alive() or ingesting(ledger.database_url),
                 timeout_s=60, interval_s=0.005, what="an ingest in flight")
            if not uploader.is_alive():
                break
            # Hold the next claim of ids until the restart, so that the restart always meets
            # a batch inside its transaction (a quick batch could commit between the check
            # above and the kill: CI once saw all three restarts miss).
            holder = psycopg.connect(ledger.database_url)
            holder.execute("LOCK TABLE measurement_ids IN SHARE MODE")
            poll(lambda: not uploader.is_alive() or _waiting(ledger.database_url),
                 timeout_s=60, interval_s=0.005, what="a batch waiting inside its transaction")
            started = time.monotonic()
            cluster.restart_immediate()  # returns once the server accepts connections
            with contextlib.suppress(psycopg.Error):
                holder.close()  # its session died with the server
            server_back_s.append(time.monotonic() - started)
            after_restart = stored_count(ledger.database_url)
            assert after_restart is not None
            poll(_more_than(ledger.database_url, after_restart),
                 timeout_s=RECOVERY_DEADLINE_S, interval_s=0.01,
                 what="a batch committed after the restart")
            ingest_back_s.append(time.monotonic() - started)
    finally:
        uploader.join(timeout=180)
    (report,) = reports
    assert report.ok and report.rejected == 0, report
    with Spool(path, max_rows=None) as spool:
        assert spool.stats().pending == 0
    assert len(server_back_s) == RESTARTS, "the upload ended before every restart happened"
    assert report.retries > 0, "no batch was interrupted; the scenario did not happen"
    row = ledger.row(
        "database server restarted (pg_ctl restart -m immediate) during ingest",
        [m.id for m in records],
        note=(f"{RESTARTS} restarts; server back after {_span(server_back_s)} s, next batch "
              f"stored after {_span(ingest_back_s)} s (with the 1 s Retry-After); "
              f"{report.retries} retries, stored claimed {report.stored}"))
    fault_table.append(row)
    row.assert_exactly_once()
    assert report.stored <= row.stored


def _waiting(url: str) -> bool:
    """The collector's ingest waits for a lock inside its transaction."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
            " AND wait_event_type = 'Lock'",
            (APPLICATION_NAME,)).fetchone()
    return row is not None and row[0] > 0


def _more_than(url: str, count: int) -> Callable[[], bool]:
    def check() -> bool:
        now = stored_count(url)
        return now is not None and now > count
    return check


def _span(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"
