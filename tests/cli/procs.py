"""Real `lomsong` processes for the CLI tests: start, wait for a line, signal, check the
embedded PostgreSQL is gone."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

STOP_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for a reaper counts as stopped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@contextmanager
def private_home() -> Iterator[Path]:
    """A data folder outside pytest's basetemp: pytest makes ``/tmp/pytest-of-<user>`` private
    (0700) at every session start, which would lock the embedded server's own user out of it.
    A server a failed test left running is stopped."""
    with tempfile.TemporaryDirectory(prefix="lomsong-cli-") as folder:
        yield Path(folder)
        for left in Path(folder).glob("**/postmaster.pid"):  # a failed test's server
            pid = postmaster_pid(left.parent)
            if alive(pid):
                os.kill(pid, signal.SIGTERM)


def postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])


def user_env(data_dir: Path) -> dict[str, str]:
    """The environment of a user with no database configured and data under `data_dir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOMSONG_")}
    env |= {"LOMSONG_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    return env


@contextmanager
def running(argv: list[str], env: dict[str, str], cwd: Path, ready: str) -> Iterator[
        subprocess.Popen[str]]:
    """Start `argv`; yield once a line of its output contains `ready`; kill it if still there."""
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if ready in line:
                break
        else:
            pytest.fail(f"{argv[1:]} ended before '{ready}':\n{''.join(seen)}")
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(STOP_TIMEOUT_S)


def stop_and_check(proc: subprocess.Popen[str], signum: int, pgdata: Path) -> str:
    """Send `signum`; the command exits and its embedded PostgreSQL is gone. Returns the output."""
    postmaster = postmaster_pid(pgdata)
    assert alive(postmaster)
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=STOP_TIMEOUT_S)
    assert proc.returncode in (0, 130), out  # uvicorn ends serve cleanly; demo is interrupted
    assert "Traceback" not in out, out
    assert not (pgdata / "postmaster.pid").exists(), out
    assert not alive(postmaster), out
    return out
