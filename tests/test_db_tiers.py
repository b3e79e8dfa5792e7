"""The database tier fixtures give each test a fresh, empty database on the tier it names."""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.db

USER_TABLES_SQL = """
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
"""

# Databases handed out so far in this module, per tier, to check they differ and get dropped.
_seen_databases: dict[str, set[str]] = {}


def _current_database(conn: psycopg.Connection[tuple[str]]) -> str:
    row = conn.execute("SELECT current_database()").fetchone()
    assert row is not None
    return row[0]


def test_fresh_database_is_empty_and_named_in_url(db_url: str, db_tier: str) -> None:
    with psycopg.connect(db_url) as conn:
        name = _current_database(conn)
        relations = conn.execute(USER_TABLES_SQL).fetchone()
        extensions = conn.execute("SELECT array_agg(extname) FROM pg_extension").fetchone()
    _seen_databases.setdefault(db_tier, set()).add(name)
    assert db_url.endswith(f"/{name}")
    assert name.startswith("lomsong_test_")
    assert relations == (0,)
    assert extensions == (["plpgsql"],), f"{db_tier}: a template0 copy holds plpgsql only"


@pytest.mark.parametrize("round_no", [1, 2])
def test_each_test_gets_its_own_database(db_url: str, db_tier: str, round_no: int) -> None:
    with psycopg.connect(db_url) as conn:
        name = _current_database(conn)
        earlier = conn.execute("SELECT to_regclass('marker')").fetchone()
        conn.execute("CREATE TABLE marker (round_no int)")
        conn.execute("INSERT INTO marker VALUES (%s)", (round_no,))
    seen = _seen_databases.setdefault(db_tier, set())
    assert name not in seen
    assert earlier == (None,)
    seen.add(name)


def test_earlier_databases_were_dropped(db_url: str, db_tier: str) -> None:
    with psycopg.connect(db_url) as conn:
        name = _current_database(conn)
        rows = conn.execute("SELECT datname FROM pg_database").fetchall()
    existing = {r[0] for r in rows}
    assert name in existing
    assert not existing & _seen_databases.get(db_tier, set())


@pytest.mark.parametrize(("db_server", "license_name"),
                         [("timescale", "apache"), ("tsl", "timescale")], indirect=["db_server"])
def test_timescaledb_tiers_run_timescaledb_2_under_their_licence(db_url: str,
                                                                 license_name: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION timescaledb")
        version = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        license_ = conn.execute("SELECT current_setting('timescaledb.license')").fetchone()
        conn.execute("CREATE TABLE m (time timestamptz NOT NULL, rtt_ms double precision)")
        conn.execute("SELECT create_hypertable('m', by_range('time'))")
        conn.execute("INSERT INTO m VALUES ('2025-01-01T00:10:00Z', 12.5)")
        bucket = conn.execute(
            "SELECT time_bucket('1 hour', time) = '2025-01-01T00:00:00Z'::timestamptz FROM m"
        ).fetchone()
    assert version is not None and version[0].split(".")[0] == "2"
    assert license_ == (license_name,)
    assert bucket == (True,)


@pytest.mark.parametrize("db_server", ["timescale"], indirect=True)
def test_apache_tier_refuses_the_community_features(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION timescaledb")
        conn.execute("CREATE TABLE m (time timestamptz NOT NULL, rtt_ms double precision)")
        conn.execute("SELECT create_hypertable('m', by_range('time'))")
        with pytest.raises(psycopg.errors.FeatureNotSupported,
                           match='not supported under the current "apache" license'):
            conn.execute("ALTER TABLE m SET (timescaledb.compress)")


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_plain_tier_does_not_preload_timescaledb(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
    assert row is not None and "timescaledb" not in row[0]
