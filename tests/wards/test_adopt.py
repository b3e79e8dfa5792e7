"""Migration (issue 16, item 9): a one-ward database made with the schema before wards were
records becomes one ward (Định Công, 00316) of a city database with nothing lost, checked by
row counts and checksums of every column the old schema had."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from lomsong.collector.storage.measurements import select_for_analysis
from lomsong.collector.storage.migrate import available_migrations, migrate
from lomsong.collector.storage.scope import ScopeError
from lomsong.collector.storage.sites import get_ward, list_sites
from lomsong.collector.storage.tier import detect_tier
from lomsong.collector.storage.users import get_user
from lomsong.collector.storage.wards import adopt_single_ward, save_ward
from lomsong.collector.ward_catalog import read_official_units, read_ward_boundary

from .conftest import BOUNDARIES, DINH_CONG, DONG_DA, UNITS

REPO = Path(__file__).resolve().parents[2]
TABLES = {"measurements": "id", "service_points": "site_id", "api_tokens": "id",
          "dashboard_users": "id", "probe_status": "probe_name", "ward": "id",
          "measurement_ids": "id", "enrolments": "id", "browser_records": "measurement_id"}
_OLD_BOUNDARY = ('{"type": "Polygon", "coordinates": [[[105.82, 20.98], [105.84, 20.98], '
                 '[105.84, 20.99], [105.82, 20.98]]]}')


def _old_schema(url: str) -> None:
    """The schema before wards were records: every migration before core/011."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_migrations (name text PRIMARY KEY,"
                     " applied_at timestamptz NOT NULL DEFAULT now())")
        for m in available_migrations(detect_tier(conn)):
            if m.name.startswith("core/") and m.name >= "core/011":
                continue
            with conn.transaction():
                conn.execute(m.sql.encode())
                conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (m.name,))


def _seed_old(url: str) -> None:
    """A ward's data as the old code stored it (plain SQL, the old columns only)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO ward (id, name, boundary_json) VALUES (1, 'Phường Định Công',"
                     " %s)", (_OLD_BOUNDARY,))
        conn.execute("INSERT INTO dashboard_users (username, password_hash, role) VALUES"
                     " ('an.admin', '$argon2id$x', 'admin'), ('binh.canbo', '$argon2id$y',"
                     " 'officer')")
        conn.execute("INSERT INTO service_points (site_id, name, site_type, address, lat, lon)"
                     " SELECT 'sp-' || i, 'Điểm ' || i, 'public_service_point', 'Số ' || i,"
                     " 20.98 + i / 1000.0, 105.83 FROM generate_series(1, 5) i")
        conn.execute("INSERT INTO api_tokens (name, role, token_hash) VALUES"
                     " ('pi-1', 'probe', '\\x01'), ('reader-1', 'reader', '\\x02')")
        conn.execute("INSERT INTO probe_status (probe_name, queue_pending, rejected, dropped,"
                     " clock, reported_at) VALUES ('pi-1', 3, 0, 1, 'synced', now())")
        conn.execute(
            "WITH rows AS (SELECT i, md5(i::text)::uuid AS id,"
            " timestamptz '2026-11-02 02:00Z' + i * interval '7 minutes' AS t"
            " FROM generate_series(1, 3000) i)"
            " , ids AS (INSERT INTO measurement_ids (id, received_at) SELECT id, t FROM rows)"
            " INSERT INTO measurements (time, id, probe_id, schema_version, source, probe_time,"
            " clock, received_at, kind, tool, carrier, access, download_mbps, lat, lon,"
            " position_source, setting, error_kind)"
            " SELECT t, id, 'pi-1', 1, 'probe', t, 'synced', t, 'throughput_down', 'iperf3',"
            " (ARRAY['viettel', 'vnpt', 'mobifone'])[1 + i % 3], '4g',"
            " CASE WHEN i % 11 = 0 THEN NULL ELSE 5 + i % 90 END, 20.98 + (i % 50) / 5000.0,"
            " 105.83 + (i % 37) / 5000.0, 'gps', 'outdoor',"
            " CASE WHEN i % 11 = 0 THEN 'no_service' END FROM rows")
        conn.execute("INSERT INTO enrolments (ward, site_id, label, expires_at) VALUES"
                     " ('Phường Định Công', 'sp-1', 'poster', '2027-12-01Z')")
        conn.execute("INSERT INTO browser_records (measurement_id, enrolment_id, device,"
                     " received_at, flags) SELECT id, 1, 'phone-1', time, '{fast}'"
                     " FROM measurements ORDER BY time LIMIT 7")


def _columns(conn: psycopg.Connection[Any], table: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
        " ORDER BY ordinal_position", (table,))]


def _fingerprint(conn: psycopg.Connection[Any], columns: dict[str, list[str]]
                 ) -> dict[str, tuple[int, str]]:
    """Row count and MD5 of every row (the given columns, in key order) of each table."""
    out = {}
    for table, key in TABLES.items():
        row = conn.execute(sql.SQL(
            "SELECT count(*), md5(coalesce(string_agg(row({cols})::text, '|' ORDER BY {key}),"
            " '')) FROM {table}").format(
                cols=sql.SQL(", ").join(map(sql.Identifier, columns[table])),
                key=sql.Identifier(key), table=sql.Identifier(table))).fetchone()
        assert row is not None
        out[table] = (int(row[0]), str(row[1]))
    return out


@pytest.mark.parametrize("db_server", ["plain", "tsl"], indirect=True)
def test_a_one_ward_database_becomes_a_ward_of_the_city(db_url: str, db_tier: str) -> None:
    """On the tsl tier the old measurements sit in compressed chunks while the columns are
    added and the rows adopted."""
    _old_schema(db_url)
    _seed_old(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        if db_tier == "tsl":
            conn.execute("SELECT compress_chunk(c, if_not_compressed => true)"
                         " FROM show_chunks('measurements') c")
            compressed = conn.execute(
                "SELECT count(*) FILTER (WHERE is_compressed), count(*) FROM"
                " timescaledb_information.chunks WHERE hypertable_name = 'measurements'"
            ).fetchone()
            assert compressed is not None and compressed[0] == compressed[1] > 0
        old_columns = {t: _columns(conn, t) for t in TABLES}
        before = _fingerprint(conn, old_columns)
    assert before["measurements"][0] == 3000

    migrate(db_url)
    units = read_official_units(UNITS)
    with psycopg.connect(db_url, autocommit=True) as conn:
        for seed in (DINH_CONG, DONG_DA):
            u = units[seed.code]
            boundary = None if seed is DINH_CONG else read_ward_boundary(
                BOUNDARIES / seed.file).geojson
            save_ward(conn, seed.code, u.name, u.province_code, u.province_name, boundary)
        adopted = adopt_single_ward(conn, DINH_CONG.code)
        assert adopted == {"service_points": 5, "api_tokens": 2, "dashboard_users": 2,
                           "enrolments": 1, "measurements": 3000}
        assert _fingerprint(conn, old_columns) == before
        for table in ("service_points", "api_tokens", "dashboard_users", "enrolments",
                      "measurements"):
            left = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE ward_code IS DISTINCT"
                                        " FROM %s").format(sql.Identifier(table)),
                                (DINH_CONG.code,)).fetchone()
            assert left == (0,), table
        # The old admin now works as Định Công's admin and sees exactly the old data.
        admin = get_user(conn, "an.admin")
        assert admin is not None and admin.ward_code == DINH_CONG.code
        assert [s.site_id for s in list_sites(conn, admin.scope)] == [
            f"sp-{i}" for i in range(1, 6)]
        assert len(select_for_analysis(conn, scope=admin.scope)) == 3000
        ward = get_ward(conn, admin.scope)
        assert ward is not None and ward.name == "Phường Định Công"
        assert ward.boundary_json == _OLD_BOUNDARY  # the old outline, kept
        # Adopting again changes nothing; the other ward got none of it.
        assert set(adopt_single_ward(conn, DINH_CONG.code).values()) == {0}
        assert conn.execute("SELECT count(*) FROM measurements WHERE ward_code = %s",
                            (DONG_DA.code,)).fetchone() == (0,)


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_adopting_a_ward_that_is_not_there_changes_nothing(migrated_url: str) -> None:
    with psycopg.connect(migrated_url, autocommit=True) as conn:
        conn.execute("INSERT INTO service_points (site_id, name, site_type, lat, lon)"
                     " VALUES ('sp-1', 'Điểm 1', 'public_service_point', 21, 105.8)")
        with pytest.raises(ScopeError, match="ward '00316' does not exist"):
            adopt_single_ward(conn, DINH_CONG.code)
        assert conn.execute("SELECT ward_code FROM service_points").fetchone() == (None,)


def _lomsong(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOMSONG_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "lomsong.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120, cwd=REPO)


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_wards_cli_import_add_list_and_adopt(migrated_url: str, tmp_path: Path) -> None:
    hai_phong = BOUNDARIES / "haiphong_2025_wards"
    done = _lomsong(migrated_url, "wards", "import", "--units", str(UNITS),
                    str(hai_phong / "10543_viet_hoa.geojson"),
                    str(hai_phong / "10714_nhi_chieu.geojson"))
    assert done.returncode == 0, done.stderr
    added = _lomsong(migrated_url, "wards", "add", DINH_CONG.code, "--units", str(UNITS),
                     "--boundary", str(BOUNDARIES / DINH_CONG.file))
    assert added.returncode == 0, added.stderr
    wrong = _lomsong(migrated_url, "wards", "add", DONG_DA.code, "--units", str(UNITS),
                     "--boundary", str(BOUNDARIES / DINH_CONG.file))
    assert wrong.returncode == 1 and "00316" in wrong.stderr and "00235" in wrong.stderr
    unknown = _lomsong(migrated_url, "wards", "add", "99999", "--units", str(UNITS))
    assert unknown.returncode == 1 and "99999" in unknown.stderr
    listed = _lomsong(migrated_url, "wards", "list").stdout.splitlines()
    assert listed == ["00316\tPhường Định Công\tThành phố Hà Nội\tboundary",
                      "10543\tPhường Việt Hoà\tThành phố Hải Phòng\tboundary",
                      "10714\tPhường Nhị Chiểu\tThành phố Hải Phòng\tboundary"]
    adopt = _lomsong(migrated_url, "wards", "adopt", DINH_CONG.code)
    assert adopt.returncode == 0, adopt.stderr
    assert "measurements\t0" in adopt.stdout
