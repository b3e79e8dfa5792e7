"""Measurement.busy_tries: the pool's busy count as a field, its column, the backfill from `raw`
of rows stored before core/026_busy_tries, and the pool load the city reads from it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from lomsong.collector.storage import migrate as migrate_module
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.collector.storage.measurements import Filters, list_measurements
from lomsong.collector.storage.migrate import available_migrations, migrate
from lomsong.collector.storage.scope import Scope
from lomsong.collector.storage.servers import pool_load
from lomsong.collector.storage.tier import Tier
from lomsong.probe.record import ErrorKind

from .conftest import BASE_TIME, auth, batch_body, make_measurement

pytestmark = pytest.mark.db

# A row as the schema before core/026_busy_tries stored it, with the pool's note in `raw`.
OLD_ROW_SQL = """
INSERT INTO measurements (time, id, probe_id, schema_version, source, probe_time, clock,
    received_at, kind, tool, carrier, access, position_source, setting, raw, error_kind)
VALUES (%(t)s, gen_random_uuid(), 'pi-01', 1, 'probe', %(t)s, 'synced', %(t)s, 'throughput_down',
    %(tool)s, 'viettel', '4g', 'none', 'unknown', %(raw)s, %(error)s)
"""
OLD_ROWS = [  # (tool, raw, error_kind, the busy count the migration must find)
    ("iperf3", '{"end": {}}\nlomsong-pool: served by b.invalid:5201 after 0 busy', None, 0),
    ("iperf3", '{"end": {}}\nlomsong-pool: served by [2001:db8::1]:5202 after 3 busy '
               "(a.invalid:5201, c.invalid:5201, a.invalid:5201)", None, 3),
    ("iperf3", "iperf3: error - the server is busy running a test\nlomsong-pool: every try met a "
               "busy server: 12 busy (a.invalid:5201, ...)", "server_busy", 12),
    ("iperf3", '{"end": {}}', None, None),  # one server: no pool, no count
    ("iperf3", None, None, None),
    ("speedtest-cli", "lomsong-pool: served by x after 2 busy", None, None),  # not a pooled tool
]


def test_old_rows_get_the_count_from_raw_and_new_records_carry_it(
        db_url: str, db_tier: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def before_026(tier: Tier) -> list[migrate_module.Migration]:
        return [m for m in available_migrations(tier) if m.name != "core/026_busy_tries"]

    monkeypatch.setattr(migrate_module, "available_migrations", before_026)
    migrate(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        for i, (tool, raw, error, _) in enumerate(OLD_ROWS):
            conn.execute(OLD_ROW_SQL, {"t": BASE_TIME - timedelta(days=40, minutes=i), "tool": tool,
                                       "raw": raw, "error": error})
        if db_tier == "tsl":  # the upgrade must also reach rows in compressed chunks
            conn.execute("SELECT compress_chunk(c) FROM show_chunks('measurements') AS c")
            compressed = conn.execute("SELECT count(*) FROM timescaledb_information.chunks"
                                      " WHERE hypertable_name = 'measurements' AND is_compressed"
                                      ).fetchone()
            assert compressed is not None and compressed[0] >= 1
    monkeypatch.undo()
    status = migrate(db_url)
    assert status.current and "core/026_busy_tries" in status.applied
    with psycopg.connect(db_url, autocommit=True) as conn:
        got = conn.execute("SELECT busy_tries FROM measurements ORDER BY time DESC").fetchall()
        assert [r[0] for r in got] == [want for *_, want in OLD_ROWS]
        new = make_measurement(1, busy_tries=2)
        ingest(conn, [StoredRecord(new, new.measured_at, new.clock)], BASE_TIME)
        rows = list_measurements(conn, Filters(start=BASE_TIME - timedelta(days=1))).items
    assert [(r["id"], r["busy_tries"]) for r in rows] == [(new.id, 2)]


def test_pool_load_counts_pooled_tests_per_scope(conn: psycopg.Connection[Any]) -> None:
    records = [make_measurement(0, busy_tries=0), make_measurement(1, busy_tries=1),
               make_measurement(2, busy_tries=12, error_kind=ErrorKind.SERVER_BUSY,
                                download_mbps=None),
               make_measurement(3)]  # one server: not counted
    other = [make_measurement(4, busy_tries=5, probe_id="pi-02")]
    conn.execute("INSERT INTO wards (code, name, province_code, province_name)"
                 " VALUES ('00316', 'Phường Định Công', '01', 'Thành phố Hà Nội'),"
                 " ('00235', 'Phường Đống Đa', '01', 'Thành phố Hà Nội')")
    ingest(conn, [StoredRecord(m, m.measured_at, m.clock) for m in records], BASE_TIME, "00316")
    ingest(conn, [StoredRecord(m, m.measured_at, m.clock) for m in other], BASE_TIME, "00235")
    start, end = BASE_TIME - timedelta(hours=1), BASE_TIME + timedelta(hours=1)
    ward = pool_load(conn, Scope.ward("00316"), start, end)
    assert (ward.tests, ward.met_busy, ward.server_busy, ward.busy_tries) == (3, 2, 1, 13)
    assert ward.met_busy_share == pytest.approx(2 / 3)
    city = pool_load(conn, Scope.all_wards(), start, end)
    assert (city.tests, city.met_busy, city.busy_tries) == (4, 3, 18)
    empty = pool_load(conn, Scope.ward("00316"), end, end + timedelta(hours=1))
    assert empty.tests == 0 and empty.met_busy_share is None


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_records_without_the_field_still_ingest(client: TestClient, tokens: dict[str, str]) -> None:
    old = make_measurement(0).model_dump(mode="json")
    del old["busy_tries"]  # what a probe from before the field sends
    new = make_measurement(1, busy_tries=3)
    body = batch_body([new])
    body["measurements"].insert(0, old)
    resp = client.post("/api/v1/measurements", json=body, headers=auth(tokens["probe"]))
    assert resp.status_code == 200 and resp.json()["stored"] == 2, resp.text
    items = client.get("/api/v1/measurements", headers=auth(tokens["reader"])).json()["items"]
    assert sorted((i["id"], i["busy_tries"]) for i in items) == sorted(
        [(old["id"], None), (str(new.id), 3)])
    negative = make_measurement(2).model_dump(mode="json") | {"busy_tries": -1}
    resp = client.post("/api/v1/measurements", json={"measurements": [negative]},
                       headers=auth(tokens["probe"]))
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "busy_tries"
