"""`lomsong users add/disable/list` against a real database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from lomsong.collector.dashboard.security import verify_password
from lomsong.collector.storage.users import get_user

pytestmark = pytest.mark.parametrize("db_server", ["plain"], indirect=True)
REPO = Path(__file__).resolve().parents[2]


def _lomsong(url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOMSONG_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "lomsong.cli", *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=120, cwd=REPO)


def test_users_add_with_password_stdin(migrated_url: str, conn: psycopg.Connection[Any]) -> None:
    done = _lomsong(migrated_url, "users", "add", "An.Admin", "--role", "admin",
                    "--password-stdin", stdin="mat-khau-du-dai-1\n")
    assert done.returncode == 0, done.stderr
    user = get_user(conn, "an.admin")
    assert user is not None and user.role == "admin"
    assert verify_password(user.password_hash, "mat-khau-du-dai-1")
    again = _lomsong(migrated_url, "users", "add", "an.admin", "--role", "officer",
                     "--password-stdin", stdin="mat-khau-du-dai-2\n")
    assert again.returncode == 1 and "exists" in again.stderr
    short = _lomsong(migrated_url, "users", "add", "binh", "--role", "officer",
                     "--password-stdin", stdin="ngan\n")
    assert short.returncode == 2 and "10" in short.stderr
    assert _lomsong(migrated_url, "users", "disable", "an.admin").returncode == 0
    listed = _lomsong(migrated_url, "users", "list")
    assert "an.admin\tadmin\tdisabled" in listed.stdout
    assert _lomsong(migrated_url, "users", "enable", "nobody").returncode == 1


def test_probes_add_refuses_a_name_that_could_never_upload(migrated_url: str,
                                                           conn: psycopg.Connection[Any]) -> None:
    done = _lomsong(migrated_url, "probes", "add", "bad name<x>")
    assert done.returncode == 1 and done.stdout == ""
    assert "(invalid probe name) 'bad name<x>'" in done.stderr
    assert "A-Z a-z 0-9 . _ -" in done.stderr
    assert conn.execute("SELECT count(*) FROM api_tokens").fetchone() == (0,)
    good = _lomsong(migrated_url, "probes", "add", "pi-phuong-01")
    assert good.returncode == 0 and good.stdout.strip().splitlines()[-1].startswith("lsk_")
