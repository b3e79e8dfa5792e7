"""Root test fixtures: real sample files, PostgreSQL test databases on three tiers, marker skips.

Tiers (see DESIGN.md, "Storage tiers"):

- ``plain``: the machine's PostgreSQL, ``postgresql://postgres@127.0.0.1:5432/postgres`` unless
  ``LOMSONG_TEST_PG_URL`` names another server (a ``postgresql://`` URL with admin rights).
- ``timescale``: a throwaway PostgreSQL 18 cluster started for the session with TimescaleDB
  preloaded under ``timescaledb.license = 'apache'`` (the Apache-only features).
- ``tsl``: the same build under ``timescaledb.license = 'timescale'`` (compression, continuous
  aggregates, policies run by the job scheduler): the production tier.

Both TimescaleDB tiers use the build ``./dev setup-timescaledb`` caches (see tests/pgcluster.py).
``db_url`` gives each test a fresh, empty database on each tier (test ids ``[plain]``,
``[timescale]`` and ``[tsl]``) and drops it afterwards. A tier that is not available skips with the
reason, or fails when ``LOMSONG_TEST_TIERS_REQUIRED`` is set (``./dev test`` sets it).
Subfolder conftest files add their own fixtures; keep this one about databases and generic helpers.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import psycopg
import pytest
from pgcluster import Cluster, PgBuild, timescaledb_build
from psycopg import sql

from lomsong.collector.storage.migrate import migrate

# Test apps do not analyse in advance (a test that wants it sets survey_warm_interval_s itself)
os.environ.setdefault("LOMSONG_SURVEY_WARM_INTERVAL_S", "0")
# ... and their pages wait for a first analysis (tests of the "being made" page set it).
os.environ.setdefault("LOMSONG_SURVEY_FIRST_WAIT_S", "0")

REPO_ROOT = Path(__file__).resolve().parents[1]
PLAIN_URL_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"
TIERS = ("plain", "timescale", "tsl")
TIER_LICENSE = {"timescale": "apache", "tsl": "timescale"}  # timescaledb.license per tier
CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class DbServer:
    """A PostgreSQL server the tests may create databases on."""

    tier: str
    admin_url: str
    build: PgBuild | None = None  # the PostgreSQL 18 build it runs, None for the machine's own

    def tool(self, name: str) -> str:
        """Path of a client program (pg_dump...) of the server's PostgreSQL version."""
        return name if self.build is None else self.build.tool(name)

    def tool_env(self) -> dict[str, str]:
        return dict(os.environ) if self.build is None else self.build.env()

    def url(self, dbname: str) -> str:
        """Return the admin URL with its database replaced by ``dbname``."""
        return urlsplit(self.admin_url)._replace(path=f"/{dbname}").geturl()

    def connect_admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.admin_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)

    @contextmanager
    def scratch_database(self, prefix: str) -> Iterator[str]:
        """URL of a new, empty database named ``prefix`` + a random suffix, dropped afterwards."""
        name = f"{prefix}{uuid.uuid4().hex[:16]}"
        with self.connect_admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        try:
            yield self.url(name)
        finally:
            with self.connect_admin() as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The shared folder of real third-party sample files (``../shared/realdata``)."""
    path = REPO_ROOT.parent / "shared" / "realdata"
    if not path.is_dir():
        pytest.skip(f"real sample files not found at {path}")
    return path


@pytest.fixture(scope="session")
def pg_plain() -> DbServer:
    """The machine's PostgreSQL (plain tier); skips when it cannot be reached."""
    server = DbServer("plain", os.environ.get("LOMSONG_TEST_PG_URL", PLAIN_URL_DEFAULT))
    try:
        with server.connect_admin():
            pass
    except psycopg.OperationalError as exc:
        _unavailable(f"plain PostgreSQL tier unreachable at {server.admin_url}: {exc}")
    return server


def _unavailable(reason: str) -> NoReturn:
    """Skip a test whose tier cannot run here; fail it when every tier is required (./dev test)."""
    if os.environ.get("LOMSONG_TEST_TIERS_REQUIRED"):
        pytest.fail(f"{reason} (LOMSONG_TEST_TIERS_REQUIRED is set)", pytrace=False)
    pytest.skip(reason)


@contextmanager
def timescale_cluster(tier: str, *, durable: bool = False) -> Iterator[tuple[DbServer, Cluster]]:
    """A throwaway PostgreSQL 18 cluster with TimescaleDB under the tier's licence."""
    build = timescaledb_build()
    if not build.complete:
        _unavailable(f"{tier} tier: no TimescaleDB build in {build.root} (run ./dev setup-timescaledb)")
    cluster = Cluster(build, TIER_LICENSE[tier], durable=durable)
    try:
        cluster.init()
        cluster.start()
        yield DbServer(tier, cluster.admin_url, build), cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_timescale() -> Iterator[DbServer]:
    """TimescaleDB with ``timescaledb.license = 'apache'`` (timescale tier)."""
    with timescale_cluster("timescale") as (server, _):
        yield server


@pytest.fixture(scope="session")
def pg_tsl() -> Iterator[DbServer]:
    """TimescaleDB with its community features, ``timescaledb.license = 'timescale'`` (tsl tier).

    ``LOMSONG_TEST_TSL_URL`` may name such a server instead (an admin ``postgresql://`` URL)."""
    url = os.environ.get("LOMSONG_TEST_TSL_URL")
    if url:
        yield DbServer("tsl", url)
        return
    with timescale_cluster("tsl") as (server, _):
        yield server


@pytest.fixture
def own_tsl_cluster() -> Iterator[tuple[DbServer, Cluster]]:
    """A tsl-tier cluster of the test's own, crash-safe, that it may restart or crash."""
    with timescale_cluster("tsl", durable=True) as pair:
        yield pair


@pytest.fixture(params=TIERS)
def db_server(request: pytest.FixtureRequest) -> DbServer:
    """The server of one tier; parametrises the test over the three tiers."""
    server: DbServer = request.getfixturevalue(f"pg_{request.param}")
    return server


@pytest.fixture
def db_tier(db_server: DbServer) -> str:
    """Name of the tier of this test's database: ``"plain"``, ``"timescale"`` or ``"tsl"``."""
    return db_server.tier


@pytest.fixture
def db_url(db_server: DbServer) -> Iterator[str]:
    """URL of a fresh, empty database on the tier, dropped after the test."""
    with db_server.scratch_database("lomsong_test_") as url:
        yield url


@pytest.fixture
def migrated_url(db_url: str) -> str:
    """`db_url` with the collector's migrations applied."""
    migrate(db_url)
    return db_url


@pytest.fixture
def conn(migrated_url: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to `migrated_url`."""
    with psycopg.connect(migrated_url, autocommit=True) as connection:
        yield connection


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a tier database with ``db`` (so ``-m "not db"`` works)."""
    for item in items:
        if "db_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip tests whose marker needs something this machine lacks, saying what."""
    if item.get_closest_marker("iperf3") and shutil.which("iperf3") is None:
        pytest.skip("iperf3 is not on PATH (apt-get install iperf3, or ./dev setup-system)")
    if item.get_closest_marker("netns"):
        if os.geteuid() != 0:
            pytest.skip("network namespace tests need root")
        if shutil.which("ip") is None:
            pytest.skip("network namespace tests need the `ip` command (iproute2)")
