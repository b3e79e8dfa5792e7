"""`lomsong serve` and `lomsong demo` on the embedded default stop their PostgreSQL on SIGTERM
(systemd, docker, ``kill``) as on Ctrl-C (SIGINT): real processes, real signals."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.procs import free_port, private_home, running, stop_and_check, user_env


@pytest.fixture
def home() -> Iterator[Path]:
    with private_home() as folder:
        yield folder


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_the_embedded_postgres(home: Path, signum: int) -> None:
    argv = [sys.executable, "-m", "lomsong.cli", "serve", "--port", str(free_port())]
    with running(argv, user_env(home), home, "Uvicorn running on") as proc:
        stop_and_check(proc, signum, home / "postgres")


@pytest.mark.iperf3
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_demo_stops_the_embedded_postgres(home: Path, signum: int) -> None:
    argv = [sys.executable, "-m", "lomsong.cli", "demo", "--days", "1", "--port", "0",
            "--data-dir", str(home / "demo")]
    with running(argv, user_env(home), home, "Ctrl-C") as proc:
        stop_and_check(proc, signum, home / "demo" / "postgres")
