"""Root test fixtures: real sample files, PostgreSQL test databases on two tiers, marker skips.

Tiers (see DESIGN.md, "Storage tiers"):

- ``plain``: the machine's PostgreSQL, ``postgresql://postgres@127.0.0.1:5432/postgres`` unless
  ``LOMSONG_TEST_PG_URL`` names another server (a ``postgresql://`` URL with admin rights).
- ``timescale``: a throwaway cluster started for the session with TimescaleDB (Apache-only build)
  preloaded; needs ``timescaledb.control`` installed for the ``pg_config`` on PATH
  (``./dev setup-system`` builds it).

``db_url`` gives each test a fresh, empty database on each tier (test ids ``[plain]`` and
``[timescale]``) and drops it afterwards; a tier that is not available skips with the reason.
Subfolder conftest files add their own fixtures; keep this one about databases and generic helpers.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from lomsong.collector.storage.migrate import migrate

REPO_ROOT = Path(__file__).resolve().parents[1]
PLAIN_URL_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"
TIERS = ("plain", "timescale")
CONNECT_TIMEOUT_S = 5
PG_TOOL_TIMEOUT_S = 120


@dataclass(frozen=True)
class DbServer:
    """A PostgreSQL server the tests may create databases on."""

    tier: str
    admin_url: str

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
        pytest.skip(f"plain PostgreSQL tier unreachable at {server.admin_url}: {exc}")
    return server


def _run(args: list[str], *, as_user: pwd.struct_passwd | None, cwd: Path) -> str:
    """Run a PostgreSQL tool (as ``as_user`` when given); raise with its output on failure."""
    uid, gid = (None, None) if as_user is None else (as_user.pw_uid, as_user.pw_gid)
    groups: list[int] | None = None if as_user is None else []
    done = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=PG_TOOL_TIMEOUT_S,
        cwd=cwd,
        user=uid,
        group=gid,
        extra_groups=groups,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return done.stdout


def _pg_config(pg_config: str | Path, flag: str) -> str:
    return _run([str(pg_config), flag], as_user=None, cwd=REPO_ROOT).strip()


def _pg_tools() -> tuple[str, Path, Path]:
    """Return (major version, bin dir, share dir) of the PostgreSQL that ``pg_config`` names."""
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        pytest.skip("timescale tier: pg_config not on PATH (run ./dev setup-system)")
    major = _pg_config(pg_config, "--version").split()[1].split(".")[0]
    bindir = Path(f"/usr/lib/postgresql/{major}/bin")
    if (bindir / "pg_config").exists():
        pg_config = str(bindir / "pg_config")
    else:
        bindir = Path(_pg_config(pg_config, "--bindir"))
    return major, bindir, Path(_pg_config(pg_config, "--sharedir"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_cluster(bindir: Path, base: Path, as_user: pwd.struct_passwd | None) -> int:
    """initdb a cluster in ``base/data`` with TimescaleDB preloaded, start it; return its port."""
    data, port = base / "data", _free_port()
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
    _run([*initdb, "-E", "UTF8", "--no-locale", "--no-sync"], as_user=as_user, cwd=base)
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{base}'\n"
            "shared_preload_libraries = 'timescaledb'\ntimescaledb.telemetry_level = off\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        )
    log = base / "server.log"
    start = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start"]
    try:
        _run(start, as_user=as_user, cwd=base)
    except RuntimeError as exc:
        tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
        raise RuntimeError(f"timescale tier: cluster did not start\n{tail}") from exc
    return port


@pytest.fixture(scope="session")
def pg_timescale() -> Iterator[DbServer]:
    """A throwaway PostgreSQL cluster with TimescaleDB preloaded (timescale tier)."""
    major, bindir, sharedir = _pg_tools()
    control = sharedir / "extension" / "timescaledb.control"
    if not control.exists():
        pytest.skip(
            f"timescale tier: TimescaleDB not installed for PostgreSQL {major} "
            f"(no {control}; run ./dev setup-system)"
        )
    if not (bindir / "initdb").exists():
        pytest.skip(f"timescale tier: no initdb in {bindir} (PostgreSQL {major} server missing)")
    # initdb refuses to run as root: the cluster belongs to the postgres OS user then.
    as_user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="lomsong-tsdb-"))
    if as_user is not None:
        os.chown(base, as_user.pw_uid, as_user.pw_gid)
    stop = [str(bindir / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate", "-w", "stop"]
    try:
        port = _start_cluster(bindir, base, as_user)
        yield DbServer("timescale", f"postgresql://postgres@127.0.0.1:{port}/postgres")
    finally:
        if (base / "data" / "postmaster.pid").exists():
            _run(stop, as_user=as_user, cwd=base)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=TIERS)
def db_server(request: pytest.FixtureRequest) -> DbServer:
    """The server of one tier; parametrises the test over both tiers."""
    server: DbServer = request.getfixturevalue(f"pg_{request.param}")
    return server


@pytest.fixture
def db_tier(db_server: DbServer) -> str:
    """Name of the tier of this test's database: ``"plain"`` or ``"timescale"``."""
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
