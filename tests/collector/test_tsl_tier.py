"""The TimescaleDB community-licence (TSL) tier on a real server: policies and the aggregate.

The server is the root conftest's ``tsl`` tier (PostgreSQL 18 with TimescaleDB 2.29,
``timescaledb.license = 'timescale'``). Most tests get a fresh database, migrated, with its policy
jobs paused and run them with ``CALL run_job``, so a background run cannot race the test's own
steps; ``test_the_job_scheduler_runs_the_policies`` leaves them to the scheduler itself.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from lomsong.collector.storage import migrate as migrate_module
from lomsong.collector.storage.ingest import IngestResult, StoredRecord, ingest
from lomsong.collector.storage.measurements import Filters, list_measurements, select_for_analysis
from lomsong.collector.storage.migrate import Migration, available_migrations, migrate
from lomsong.collector.storage.tier import Tier
from lomsong.collector.timefix import BatchClock, effective_time
from lomsong.probe.record import ClockState, Measurement
from lomsong.synthetic import survey

from .conftest import make_measurement

pytestmark = pytest.mark.db

JOB_IDLE_DEADLINE_S = 60.0
SCHEDULER_DEADLINE_S = 120.0
NOW = datetime.now(UTC).replace(microsecond=0)
COMPRESS_AFTER = timedelta(days=30)

# cell_hourly computed straight from the raw rows, to compare with the continuous aggregate.
RAW_CELL_HOURLY = """
SELECT date_trunc('hour', time, 'UTC') AS bucket, h3_r10, carrier, access, kind, source,
    count(*) AS tests, count(*) FILTER (WHERE error_kind IS NOT NULL) AS failed,
    count(download_mbps) AS down_n, sum(download_mbps) AS down_sum,
    min(download_mbps) AS down_min, max(download_mbps) AS down_max,
    count(*) FILTER (WHERE download_mbps < 10) AS down_below_10,
    count(*) FILTER (WHERE download_mbps < 30) AS down_below_30,
    count(*) FILTER (WHERE download_mbps < 40) AS down_below_40,
    count(*) FILTER (WHERE download_mbps < 50) AS down_below_50,
    count(*) FILTER (WHERE download_mbps < 100) AS down_below_100,
    count(upload_mbps) AS up_n, sum(upload_mbps) AS up_sum,
    count(rtt_ms) AS rtt_n, sum(rtt_ms) AS rtt_sum,
    count(rsrp_dbm) AS rsrp_n, sum(rsrp_dbm) AS rsrp_sum,
    count(sinr_db) AS sinr_n, sum(sinr_db) AS sinr_sum
FROM measurements WHERE h3_r10 IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6
"""
KEYS = ("bucket", "h3_r10", "carrier", "access", "kind", "source")
EXACT = ("tests", "failed", "down_n", "down_min", "down_max", "down_below_10", "down_below_30",
         "down_below_40", "down_below_50", "down_below_100", "up_n", "rtt_n", "rsrp_n", "sinr_n")
SUMS = ("down_sum", "up_sum", "rtt_sum", "rsrp_sum", "sinr_sum")  # summed in another order


def _pause_jobs(conn: psycopg.Connection[Any]) -> None:
    """Stop the scheduler starting this database's policies; wait for any run to end."""
    conn.execute("SELECT alter_job(job_id, scheduled => false)"
                 " FROM timescaledb_information.jobs WHERE job_id >= 1000")
    _wait_until_no_job_runs(conn)


def _wait_until_no_job_runs(conn: psycopg.Connection[Any]) -> None:
    deadline = time.monotonic() + JOB_IDLE_DEADLINE_S
    while conn.execute("SELECT count(*) FROM timescaledb_information.job_stats"
                       " WHERE job_status = 'Running'").fetchone() != (0,):
        assert time.monotonic() < deadline, "a background job is still running"
        time.sleep(0.2)


@pytest.fixture
def scheduled_url(pg_tsl: Any) -> Iterator[str]:
    """A fresh database on the TSL server, migrated, its policies left to the scheduler."""
    with pg_tsl.scratch_database("lomsong_tsl_") as url:
        status = migrate(url)
        assert status.tier is Tier.TIMESCALE_TSL, "the server is not a TSL TimescaleDB"
        yield url


@pytest.fixture
def tsl_url(scheduled_url: str) -> str:
    """`scheduled_url` with the database's policy jobs paused (run them with ``CALL run_job``)."""
    with psycopg.connect(scheduled_url, autocommit=True) as conn:
        _pause_jobs(conn)
    return scheduled_url


@pytest.fixture
def conn(tsl_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(tsl_url, autocommit=True) as connection:
        yield connection


def store(conn: psycopg.Connection[Any], records: list[Measurement]) -> IngestResult:
    return ingest(conn, [StoredRecord(m, m.measured_at, m.clock) for m in records], NOW)


def two_months() -> list[Measurement]:
    """About 7,000 synthetic records over the last 60 days (half of them older than 30 days)."""
    return list(survey(NOW - timedelta(days=60), days=60, pi_interval_min=360, walks=2))


def job_id(conn: psycopg.Connection[Any], proc: str) -> int:
    row = conn.execute("SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = %s",
                       (proc,)).fetchone()
    assert row is not None, proc
    return int(row[0])


def chunks(conn: psycopg.Connection[Any]) -> list[tuple[datetime, bool]]:
    return [(r[0], bool(r[1])) for r in conn.execute(
        "SELECT range_end, is_compressed FROM timescaledb_information.chunks"
        " WHERE hypertable_name = 'measurements' ORDER BY range_start")]


def cagg_mismatches(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    """Groups where cell_hourly and the raw rows disagree (sums within 1e-9 relative)."""
    exact = [sql.SQL("r.{0} IS DISTINCT FROM c.{0}").format(sql.Identifier(c)) for c in EXACT]
    sums = [sql.SQL("abs(r.{0} - c.{0}) > 1e-9 * greatest(1, abs(r.{0}))").format(
        sql.Identifier(c)) for c in SUMS]
    query = sql.SQL(
        "SELECT {keys}, r.tests, c.tests FROM ({raw}) r FULL JOIN cell_hourly c USING ({keys})"
        " WHERE r.tests IS NULL OR c.tests IS NULL OR {diff}"
    ).format(keys=sql.SQL(", ").join(sql.Identifier(k) for k in KEYS), raw=sql.SQL(RAW_CELL_HOURLY),
             diff=sql.SQL(" OR ").join([*exact, *sums]))
    return conn.execute(query).fetchall()


def cagg_tests(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT coalesce(sum(tests), 0) FROM cell_hourly").fetchone()
    assert row is not None
    return int(row[0])


def test_migrations_add_policies_and_the_continuous_aggregate(tsl_url: str,
                                                              conn: psycopg.Connection[Any]) -> None:
    status = migrate(tsl_url)
    assert status.current
    assert list(status.applied) == sorted(m.name for m in available_migrations(Tier.TIMESCALE_TSL))
    assert {n.split("/")[0] for n in status.applied} == {"core", "timescale", "tsl"}
    policies = {r[0]: r[1] for r in conn.execute(
        "SELECT proc_name, config FROM timescaledb_information.jobs WHERE job_id >= 1000")}
    assert policies["policy_compression"]["compress_after"] == "30 days"
    assert policies["policy_retention"]["drop_after"] == "5 years"
    refresh = policies["policy_refresh_continuous_aggregate"]
    assert (refresh["start_offset"], refresh["end_offset"]) == (None, "01:00:00")
    assert conn.execute(
        "SELECT materialized_only FROM timescaledb_information.continuous_aggregates"
        " WHERE view_name = 'cell_hourly'").fetchone() == (False,)


def test_compression_policy_compresses_old_chunks_and_keeps_every_record(
        conn: psycopg.Connection[Any]) -> None:
    records = two_months()
    assert store(conn, records).stored == len(records)
    old_end = NOW - timedelta(days=40)
    before_old = list_measurements(conn, Filters(end=old_end), limit=len(records))
    assert not any(compressed for _, compressed in chunks(conn))

    conn.execute("CALL run_job(%s)", (job_id(conn, "policy_compression"),))

    after = chunks(conn)
    assert any(compressed for _, compressed in after)
    for range_end, compressed in after:
        assert compressed == (range_end <= NOW - COMPRESS_AFTER), range_end
    stats = conn.execute("SELECT sum(before_compression_total_bytes),"
                         " sum(after_compression_total_bytes) FROM chunk_compression_stats("
                         "'measurements') WHERE compression_status = 'Compressed'").fetchone()
    assert stats is not None and stats[1] < stats[0]
    assert conn.execute("SELECT count(*) FROM measurements").fetchone() == (len(records),)
    by_carrier = Counter(m.carrier.value for m in records)
    assert dict(conn.execute("SELECT carrier, count(*) FROM measurements GROUP BY 1").fetchall()) \
        == dict(by_carrier)
    after_old = list_measurements(conn, Filters(end=old_end), limit=len(records))
    assert after_old.items == before_old.items and after_old.items
    rows = select_for_analysis(conn, end=old_end)
    assert [r["id"] for r in rows] == [r["id"] for r in after_old.items]


def job_runs(conn: psycopg.Connection[Any], job: int) -> tuple[int, int]:
    """(successes, failures) the scheduler has recorded for `job` (``CALL run_job`` adds none)."""
    row = conn.execute("SELECT coalesce(total_successes, 0), coalesce(total_failures, 0)"
                       " FROM timescaledb_information.job_stats WHERE job_id = %s",
                       (job,)).fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def materialised_tests(conn: psycopg.Connection[Any]) -> int:
    """Tests counted in cell_hourly's materialisation table (the refreshed part only)."""
    row = conn.execute(
        "SELECT materialization_hypertable_schema, materialization_hypertable_name"
        " FROM timescaledb_information.continuous_aggregates WHERE view_name = 'cell_hourly'"
    ).fetchone()
    assert row is not None
    total = conn.execute(sql.SQL("SELECT coalesce(sum(tests), 0) FROM {}.{}").format(
        sql.Identifier(row[0]), sql.Identifier(row[1]))).fetchone()
    assert total is not None
    return int(total[0])


def test_the_job_scheduler_runs_the_policies(scheduled_url: str) -> None:
    """Compression and the aggregate's refresh run as background jobs of the scheduler itself."""
    with psycopg.connect(scheduled_url, autocommit=True) as conn:
        records = two_months()
        assert store(conn, records).stored == len(records)
        jobs = [job_id(conn, "policy_compression"),
                job_id(conn, "policy_refresh_continuous_aggregate")]
        _wait_until_no_job_runs(conn)  # a run started before the records were stored ends
        before = {job: job_runs(conn, job) for job in jobs}
        for job in jobs:  # due now: the scheduler starts them, the test only waits
            conn.execute("SELECT alter_job(%s, next_start => now())", (job,))

        deadline = time.monotonic() + SCHEDULER_DEADLINE_S
        while any(job_runs(conn, job)[0] <= before[job][0] for job in jobs):
            failed = {job: job_runs(conn, job)[1] - before[job][1] for job in jobs}
            assert not any(failed.values()), f"background job failures: {failed}"
            assert time.monotonic() < deadline, "the scheduler did not run both policies"
            time.sleep(0.2)

        statuses = conn.execute("SELECT job_id, last_run_status FROM"
                                " timescaledb_information.job_stats WHERE job_id = ANY(%s)",
                                (jobs,)).fetchall()
        assert sorted(statuses) == sorted((job, "Success") for job in jobs)
        after = chunks(conn)
        assert any(compressed for _, compressed in after)
        for range_end, compressed in after:
            assert compressed == (range_end <= NOW - COMPRESS_AFTER), range_end
        assert materialised_tests(conn) == len(records)
        assert cagg_mismatches(conn) == []
        assert conn.execute("SELECT count(*) FROM measurements").fetchone() == (len(records),)


def test_cell_hourly_matches_the_raw_rows_through_refresh_compression_and_late_data(
        conn: psycopg.Connection[Any]) -> None:
    records = two_months()
    store(conn, records)
    assert cagg_mismatches(conn) == []  # real-time aggregation before any refresh
    refresh = job_id(conn, "policy_refresh_continuous_aggregate")
    conn.execute("CALL run_job(%s)", (refresh,))
    assert cagg_mismatches(conn) == []  # every hour materialised, none lost behind the watermark
    assert cagg_tests(conn) == len(records)

    conn.execute("CALL run_job(%s)", (job_id(conn, "policy_compression"),))
    assert cagg_mismatches(conn) == []

    # A probe's late backlog (older than 30 days: lands in compressed chunks) plus a resend.
    # Its start is 43 h after the first survey's: its walk falls on another local day than that
    # survey's walks, and its Pi tests 1 h off the 6-hour grid, so no id (derived from probe,
    # site and time) repeats one of the first survey's, whatever the time of day.
    late = list(survey(NOW - timedelta(days=58, hours=5), days=3, seed=11, pi_interval_min=360,
                       walks=1))
    assert not {m.id for m in late} & {m.id for m in records}
    assert max(m.measured_at for m in late) < NOW - COMPRESS_AFTER - timedelta(days=7)
    result = store(conn, records[:500] + late)
    assert (result.stored, result.duplicates) == (len(late), 500)
    total = len(records) + len(late)
    assert conn.execute("SELECT count(*) FROM measurements").fetchone() == (total,)
    assert any(compressed for _, compressed in chunks(conn))

    conn.execute("CALL run_job(%s)", (refresh,))
    assert cagg_mismatches(conn) == []
    assert cagg_tests(conn) == total
    conn.execute("CALL refresh_continuous_aggregate('cell_hourly', NULL, NULL)")
    assert cagg_mismatches(conn) == []
    page = list_measurements(conn, Filters(end=NOW - COMPRESS_AFTER), limit=100)
    assert len(page.items) == 100 and page.next_cursor is not None
    old = conn.execute("SELECT count(*) FROM measurements WHERE time < %s",
                       (NOW - COMPRESS_AFTER,)).fetchone()
    assert old == (len(select_for_analysis(conn, end=NOW - COMPRESS_AFTER)),)


def test_a_record_from_an_unsynced_clock_in_1970_survives_the_retention_policy(
        conn: psycopg.Connection[Any]) -> None:
    """A Pi without NTP stamps 1970; under that time the 5-year retention would delete it."""
    received = datetime.now(UTC)
    epoch = datetime(1970, 1, 1, 0, 5, tzinfo=UTC)
    m = make_measurement(0, measured_at=epoch, clock=ClockState.UNSYNCED)  # no boot id: uncorrectable
    time_, state = effective_time(m, BatchClock(None, None), received, future_tolerance_s=300)
    assert ingest(conn, [StoredRecord(m, time_, state)], received).stored == 1

    conn.execute("CALL run_job(%s)", (job_id(conn, "policy_retention"),))

    rows = conn.execute("SELECT id, time, probe_time, clock FROM measurements").fetchall()
    assert rows == [(m.id, received, epoch, "unsynced")]


# Hourly rows as the schema before core/004_ca_bands stored them (NOT NULL columns only).
OLD_ROWS_SQL = """
INSERT INTO measurements (time, id, probe_id, schema_version, source, probe_time, clock,
    received_at, kind, tool, carrier, access, position_source, setting)
SELECT t, gen_random_uuid(), 'pi-01', 1, 'probe', t, 'synced', t, 'radio_snapshot', 'quectel-qeng',
    'viettel', '4g', 'none', 'unknown'
FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz, interval '1 hour') AS t
"""


def test_ca_bands_column_is_added_to_a_hypertable_with_compressed_chunks(
        pg_tsl: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The upgrade path of core/004_ca_bands: a database with compressed chunks gets the column,
    keeps its rows, and takes new records (also late ones landing in compressed chunks)."""
    def before_004(tier: Tier) -> list[Migration]:
        return [m for m in available_migrations(tier) if m.name != "core/004_ca_bands"]

    with pg_tsl.scratch_database("lomsong_tsl_") as url:
        monkeypatch.setattr(migrate_module, "available_migrations", before_004)
        assert migrate(url).tier is Tier.TIMESCALE_TSL
        with psycopg.connect(url, autocommit=True) as conn:
            _pause_jobs(conn)
            conn.execute(OLD_ROWS_SQL, {"start": NOW - timedelta(days=60), "end": NOW})
            conn.execute("CALL run_job(%s)", (job_id(conn, "policy_compression"),))
            assert any(compressed for _, compressed in chunks(conn))
        monkeypatch.undo()
        status = migrate(url)
        assert status.current and "core/004_ca_bands" in status.applied
        with psycopg.connect(url, autocommit=True) as conn:
            late = make_measurement(0, measured_at=NOW - timedelta(days=45, minutes=30),
                                    ca_bands="B3+B1")  # between two hourly rows
            fresh = make_measurement(1, measured_at=NOW - timedelta(minutes=5), ca_bands="n41+n71")
            assert store(conn, [late, fresh]).stored == 2
            counts = conn.execute("SELECT count(*), count(ca_bands) FROM measurements").fetchone()
            assert counts == (60 * 24 + 1 + 2, 2)
            window = Filters(start=late.measured_at, end=late.measured_at + timedelta(seconds=1))
            (row,) = list_measurements(conn, window).items
            assert (row["id"], row["ca_bands"]) == (late.id, "B3+B1")
            assert any(compressed for _, compressed in chunks(conn))
