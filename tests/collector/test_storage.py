"""Storage on a real PostgreSQL, on both tiers available here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import h3
import psycopg
import pytest

from lomsong.collector.errors import MigrationError
from lomsong.collector.storage import migrate as migrate_module
from lomsong.collector.storage.columns import RECORD_COLUMNS
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.collector.storage.measurements import Filters, list_measurements, select_for_analysis
from lomsong.collector.storage.migrate import available_migrations, migrate, migration_status
from lomsong.collector.storage.tier import Tier
from lomsong.probe.record import Carrier, PositionSource, Source

from .conftest import BASE_TIME, make_measurement

pytestmark = pytest.mark.db


def stored(records: list[Any]) -> list[StoredRecord]:
    return [StoredRecord(m, m.measured_at, m.clock) for m in records]


def test_migrations_produce_the_expected_schema(db_url: str, db_tier: str) -> None:
    status = migrate(db_url)
    expected_tier = {"plain": Tier.POSTGRES, "timescale": Tier.TIMESCALE_APACHE,
                     "tsl": Tier.TIMESCALE_TSL}[db_tier]
    assert status.tier is expected_tier
    assert status.current
    assert list(status.applied) == sorted(m.name for m in available_migrations(status.tier))
    with psycopg.connect(db_url) as conn:
        columns = {
            r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'measurements'")
        }
        assert set(RECORD_COLUMNS) <= columns
        assert {"time", "probe_time", "received_at", "h3_r10"} <= columns
        hyper = conn.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        assert hyper is not None
        if db_tier != "plain":
            row = conn.execute(
                "SELECT count(*) FROM timescaledb_information.hypertables"
                " WHERE hypertable_name = 'measurements'").fetchone()
            assert row == (1,)
        else:
            assert hyper == (0,)


def test_migrate_twice_is_a_no_op(db_url: str) -> None:
    first = migrate(db_url)
    second = migrate(db_url)
    assert first.applied == second.applied
    assert migration_status(db_url).current


def _migrated_but_026(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every migration applied but core/026_busy_tries (an ALTER TABLE of measurements)."""
    def before_026(tier: Tier) -> list[migrate_module.Migration]:
        return [m for m in available_migrations(tier) if m.name != "core/026_busy_tries"]

    monkeypatch.setattr(migrate_module, "available_migrations", before_026)
    migrate(db_url)
    monkeypatch.undo()


def test_a_migration_that_meets_a_passing_lock_runs_again(
        db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A migration whose table another session holds (as TimescaleDB's policy jobs do) is
    rolled back and run again once the other session is done, instead of failing the start."""
    import threading

    _migrated_but_026(db_url, monkeypatch)
    monkeypatch.setattr(migrate_module, "RETRY_S", 0.05)
    held, free = threading.Event(), threading.Event()

    def hold() -> None:
        with psycopg.connect(db_url) as other:
            other.execute("LOCK TABLE measurements IN ACCESS SHARE MODE")
            held.set()
            free.wait(30)  # then commit: the lock goes

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(30)
    # this session may not wait for locks: the ALTER TABLE fails at once (lock_not_available)
    timer = threading.Timer(0.3, free.set)
    timer.start()
    try:
        status = migrate(psycopg.conninfo.make_conninfo(db_url, options="-c lock_timeout=50"))
    finally:
        free.set()
        holder.join()
    assert status.current and "core/026_busy_tries" in status.applied
    assert "core/026_busy_tries met a conflict" in caplog.text
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT busy_tries FROM measurements LIMIT 0").description


def test_a_migration_that_keeps_meeting_the_lock_fails_naming_it(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _migrated_but_026(db_url, monkeypatch)
    monkeypatch.setattr(migrate_module, "RETRY_S", 0.01)
    with psycopg.connect(db_url) as other:
        other.execute("LOCK TABLE measurements IN ACCESS SHARE MODE")
        with pytest.raises(MigrationError, match=r"core/026_busy_tries failed: .*lock"):
            migrate(psycopg.conninfo.make_conninfo(db_url, options="-c lock_timeout=20"))


# A row as the schema before core/004_ca_bands stored it (its NOT NULL columns only).
OLD_ROW_SQL = """
INSERT INTO measurements (time, id, probe_id, schema_version, source, probe_time, clock,
    received_at, kind, tool, carrier, access, position_source, setting)
VALUES (%(t)s, gen_random_uuid(), 'pi-01', 1, 'probe', %(t)s, 'synced', %(t)s, 'radio_snapshot',
    'quectel-qeng', 'viettel', '4g', 'none', 'unknown')
"""


def test_ca_bands_migration_upgrades_a_database_with_rows(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def before_004(tier: Tier) -> list[migrate_module.Migration]:
        return [m for m in available_migrations(tier) if m.name != "core/004_ca_bands"]

    monkeypatch.setattr(migrate_module, "available_migrations", before_004)
    migrate(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(OLD_ROW_SQL, {"t": BASE_TIME})
    monkeypatch.undo()
    status = migrate(db_url)  # on the timescale tier: ALTER TABLE of a hypertable with a chunk
    assert status.current and "core/004_ca_bands" in status.applied
    with psycopg.connect(db_url, autocommit=True) as conn:
        new = make_measurement(1, ca_bands="B3+B1+B8")
        ingest(conn, stored([new]), BASE_TIME)
        rows = list_measurements(conn, Filters()).items
    assert [(r["tool"], r["ca_bands"]) for r in rows] == [("quectel-qeng", None), ("iperf3", "B3+B1+B8")]


_SOURCE_MIGRATIONS = ("core/013_cell_hourly_source", "tsl/013_cell_hourly_source")


def test_cell_hourly_source_migration_upgrades_a_database_with_rows(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On every tier (the tsl one: a continuous aggregate already built without `source`)."""
    def before_013(tier: Tier) -> list[migrate_module.Migration]:
        return [m for m in available_migrations(tier) if m.name not in _SOURCE_MIGRATIONS]

    monkeypatch.setattr(migrate_module, "available_migrations", before_013)
    migrate(db_url)
    records = [make_measurement(i, lat=21.0285) for i in range(3)]
    records.append(make_measurement(3, lat=21.0285, source=Source.BROWSER, tool="lomsong-web",
                                    position_source=PositionSource.BROWSER,
                                    probe_id="web-0123456789abcdef"))
    with psycopg.connect(db_url, autocommit=True) as conn:
        ingest(conn, stored(records), BASE_TIME)
    monkeypatch.undo()
    status = migrate(db_url)
    assert status.current and set(_SOURCE_MIGRATIONS) & set(status.applied)
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute("SELECT source, sum(tests)::int, sum(down_n)::int FROM cell_hourly"
                            " GROUP BY source ORDER BY source").fetchall()
    assert rows == [("browser", 1, 1), ("probe", 3, 3)]


def test_ingest_is_idempotent_by_id(conn: psycopg.Connection[Any]) -> None:
    records = [make_measurement(i) for i in range(50)]
    first = ingest(conn, stored(records), BASE_TIME)
    assert (first.received, first.stored, first.duplicates) == (50, 50, 0)
    again = ingest(conn, stored([*records[:20], make_measurement(99)]), BASE_TIME)
    assert (again.received, again.stored, again.duplicates) == (21, 1, 20)
    assert conn.execute("SELECT count(*) FROM measurements").fetchone() == (51,)


def test_duplicate_ids_inside_one_batch_are_stored_once(conn: psycopg.Connection[Any]) -> None:
    m = make_measurement(1)
    result = ingest(conn, stored([m, m, m]), BASE_TIME)
    assert (result.received, result.stored) == (1, 1)
    assert conn.execute("SELECT count(*) FROM measurements").fetchone() == (1,)


def test_a_failed_ingest_writes_nothing(conn: psycopg.Connection[Any]) -> None:
    conn.execute("ALTER TABLE measurements ADD CONSTRAINT no_mobifone CHECK (carrier <> 'mobifone')")
    from lomsong.collector.errors import StorageError
    records = [make_measurement(1), make_measurement(2, carrier=Carrier.MOBIFONE)]
    with pytest.raises(StorageError, match="no_mobifone"):
        ingest(conn, stored(records), BASE_TIME)
    assert conn.execute("SELECT count(*) FROM measurements").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM measurement_ids").fetchone() == (0,)


def test_round_trip_keeps_every_field(conn: psycopg.Connection[Any]) -> None:
    m = make_measurement(3, raw='{"end": {}}', pci=301, earfcn=1850, band="B3",
                         mcc="452", mnc="04", error_kind=None)
    ingest(conn, stored([m]), BASE_TIME)
    page = list_measurements(conn, Filters(), include_raw=True)
    row = page.items[0]
    for field in RECORD_COLUMNS:
        value = getattr(m, field)
        expected = getattr(value, "value", value)
        assert row[field] == expected, field
    assert row["time"] == m.measured_at
    assert m.lat is not None and m.lon is not None
    assert row["h3_r10"] == int(h3.latlng_to_cell(m.lat, m.lon, 10), 16)


def test_filters_and_cursor_pagination(conn: psycopg.Connection[Any]) -> None:
    records = [make_measurement(i, carrier=Carrier.VIETTEL if i % 2 else Carrier.VNPT) for i in range(25)]
    ingest(conn, stored(records), BASE_TIME)
    seen = []
    cursor = None
    while True:
        page = list_measurements(conn, Filters(carriers=["vnpt"]), limit=4, cursor=cursor)
        seen += [r["id"] for r in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = [m.id for m in records if m.carrier == "vnpt"]
    assert seen == expected  # ordered by time, each once
    window = Filters(start=BASE_TIME + timedelta(minutes=5), end=BASE_TIME + timedelta(minutes=10))
    assert len(list_measurements(conn, window).items) == 5
    box = Filters(bbox=(105.85, 21.0285, 105.86, 21.0290))
    assert len(list_measurements(conn, box).items) == 6  # lat 21.0285 .. 21.0290


def test_select_for_analysis_names_columns_like_the_record(conn: psycopg.Connection[Any]) -> None:
    ingest(conn, stored([make_measurement(i) for i in range(3)]), BASE_TIME)
    rows = select_for_analysis(conn, carriers=["viettel"])
    assert len(rows) == 3
    assert "measured_at" in rows[0] and "raw" not in rows[0] and "time" not in rows[0]


def test_cell_hourly_view_aggregates_per_cell(conn: psycopg.Connection[Any]) -> None:
    same_cell = [make_measurement(i, lat=21.0285, download_mbps=float(v))
                 for i, v in enumerate([10, 35, 45, 120])]
    ingest(conn, stored(same_cell), BASE_TIME)
    rows = conn.execute(
        "SELECT sum(tests), sum(down_n), sum(down_sum), sum(down_below_40), sum(down_below_100)"
        " FROM cell_hourly").fetchone()
    assert rows == (4, 4, 210.0, 2, 3)
    assert conn.execute("SELECT DISTINCT source FROM cell_hourly").fetchall() == [("probe",)]


def test_token_use_is_noted_at_most_once_a_minute(conn: psycopg.Connection[Any]) -> None:
    from lomsong.collector.storage.tokens import create_token, lookup_token

    token = create_token(conn, "pi-09", "probe")
    first = lookup_token(conn, token)
    assert first is not None and first.last_used_at is None  # the row as found
    noted = lookup_token(conn, token)
    assert noted is not None and noted.last_used_at is not None
    assert lookup_token(conn, token).last_used_at == noted.last_used_at  # type: ignore[union-attr]
    conn.execute("UPDATE api_tokens SET last_used_at = now() - interval '2 minutes'")
    stale = lookup_token(conn, token)
    assert stale is not None
    assert lookup_token(conn, token).last_used_at > stale.last_used_at  # type: ignore[union-attr,operator]
    assert lookup_token(conn, "lsk_not-a-token") is None
