"""The collector or its database fails while a probe uploads: each record arrives exactly once.

Real pieces on loopback: the probe's `Spool` and `upload_pending` against a uvicorn collector
subprocess on a fresh PostgreSQL database. Only the waits between retries are shortened.
"""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest
from faultkit import (
    PROBE,
    CollectorProcess,
    Ledger,
    ScenarioRow,
    ingesting,
    make_records,
    poll,
)

from lomsong.probe.spool import Spool
from lomsong.probe.uploader import Backoff, CollectorClient, UploadReport, upload_pending

pytestmark = [pytest.mark.db, pytest.mark.timeout(120)]

FAST = Backoff(base_s=0.05, cap_s=0.2)


def drain(spool: Spool, collector: CollectorProcess, token: str, **kwargs: object) -> UploadReport:
    with CollectorClient(collector.url, token) as client:
        return upload_pending(spool, client, backoff=FAST, **kwargs)  # type: ignore[arg-type]


def test_collector_down_for_the_whole_walk_then_back(
        tmp_path: Path, collector: CollectorProcess, probe_token: str, ledger: Ledger,
        fault_table: list[ScenarioRow]) -> None:
    records = make_records(PROBE, 600)
    with Spool(tmp_path / "spool.sqlite3") as spool:
        for i in range(0, len(records), 20):  # the walk: a few results at a time
            spool.add_many(records[i:i + 20])
            down = drain(spool, collector, probe_token, batch_size=100, max_retries=1,
                         sleep=lambda s: None)
            assert down.stopped == "gave_up" and down.acked == 0
        assert spool.stats().pending == 600
        collector.start()
        back = drain(spool, collector, probe_token, batch_size=250)
        assert back.ok and back.acked == 600 and back.stored == 600 and back.duplicates == 0
        assert spool.stats().pending == 0
    row = ledger.row("collector down for the whole walk, then back", [m.id for m in records])
    fault_table.append(row)
    row.assert_exactly_once()


def test_collector_sigkilled_in_the_middle_of_a_batch(
        tmp_path: Path, collector: CollectorProcess, probe_token: str, ledger: Ledger,
        fault_table: list[ScenarioRow]) -> None:
    records = make_records(PROBE, 12_000, raw_chars=2_000)  # batches of ~6 MB take a while
    kills, claimed_stored = 0, 0
    path = tmp_path / "spool.sqlite3"
    with Spool(path, max_rows=None) as spool:
        spool.add_many(records)
    collector.start()

    def upload(reports: list[UploadReport]) -> None:
        with Spool(path, max_rows=None) as spool:  # SQLite connections stay in their thread
            reports.append(drain(spool, collector, probe_token, batch_size=2_000, max_retries=0))

    for _ in range(3):
        stored_before = len(ledger.ids())
        reports: list[UploadReport] = []
        uploader = threading.Thread(target=upload, args=(reports,))
        uploader.start()
        # Kill as soon as the database shows a batch being ingested (COPY or INSERT).
        poll(lambda t=uploader: not t.is_alive() or ingesting(ledger.database_url),  # type: ignore[misc]
             timeout_s=60, interval_s=0.005, what="an ingest in flight")
        collector.kill()
        kills += 1
        uploader.join(timeout=60)
        (report,) = reports
        assert report.stopped == "gave_up"
        claimed_stored += report.stored
        # Every acknowledged record is in the database: nothing acked was lost.
        assert len(ledger.ids()) >= stored_before + report.stored
        collector.start()
    with Spool(path, max_rows=None) as spool:
        final = drain(spool, collector, probe_token, batch_size=2_000)
        claimed_stored += final.stored
        assert final.ok and final.rejected == 0 and spool.stats().pending == 0
    row = ledger.row("collector SIGKILLed mid-batch (x3, 6 MB batches)", [m.id for m in records],
                     note=f"{kills} kills; stored claimed by 200 responses = {claimed_stored}")
    fault_table.append(row)
    row.assert_exactly_once()
    # Never claims what was not committed; a batch killed after commit is counted as duplicates.
    assert claimed_stored <= row.stored


MAX_INTERRUPTIONS = 30


def test_database_connections_terminated_during_ingest(
        tmp_path: Path, collector: CollectorProcess, probe_token: str, ledger: Ledger,
        fault_table: list[ScenarioRow]) -> None:
    records = make_records(PROBE, 8_000, raw_chars=500)
    dbname = ledger.database_url.rsplit("/", 1)[1]
    admin = ledger.database_url.rsplit("/", 1)[0] + "/postgres"
    done = threading.Event()
    terminated: list[int] = []

    def terminator() -> None:
        # A bounded number of interruptions, spaced out, so batches still get through between
        # them however slow the machine is (killing every in-flight ingest could starve them).
        with psycopg.connect(admin, autocommit=True) as conn:
            while not done.is_set() and len(terminated) < MAX_INTERRUPTIONS:
                if ingesting(ledger.database_url):
                    row = conn.execute(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,)).fetchone()
                    terminated.append(int(row[0]) if row else 0)
                    done.wait(0.25)
                done.wait(0.01)

    collector.start()
    killer = threading.Thread(target=terminator)
    with Spool(tmp_path / "spool.sqlite3", max_rows=None) as spool:
        spool.add_many(records)
        killer.start()
        try:
            report = drain(spool, collector, probe_token, batch_size=400, max_retries=50)
        finally:
            done.set()
            killer.join(timeout=30)
        assert report.ok and report.rejected == 0, report
        assert spool.stats().pending == 0
    assert sum(terminated) > 0, "no ingest was interrupted; the scenario did not happen"
    row = ledger.row("database backends terminated during ingest", [m.id for m in records],
                     note=f"{sum(terminated)} backends terminated, {report.retries} retries "
                          f"(503 + Retry-After), stored claimed {report.stored}")
    fault_table.append(row)
    row.assert_exactly_once()
    assert report.stored <= row.stored
