"""The city's iperf3 servers: storage, the probe's API route and ``lomsong servers``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from lomsong.collector.errors import StorageError
from lomsong.collector.storage.servers import MAX_SERVERS, add_server, list_servers, remove_server

from .conftest import auth

pytestmark = pytest.mark.parametrize("db_server", ["plain"], indirect=True)
REPO = Path(__file__).resolve().parents[2]


def test_add_list_change_remove(conn: psycopg.Connection[Any]) -> None:
    add_server(conn, "iperf1.hanoi.invalid")
    add_server(conn, " iperf2.hanoi.invalid:5202 ", capacity=2)
    add_server(conn, "iperf1.hanoi.invalid:5201", capacity=3)  # the same server: its capacity changes
    assert [(s.address, s.capacity) for s in list_servers(conn)] == [
        ("iperf1.hanoi.invalid:5201", 3.0), ("iperf2.hanoi.invalid:5202", 2.0)
    ]  # fmt: skip
    assert remove_server(conn, "iperf1.hanoi.invalid") and not remove_server(conn, "iperf1.hanoi.invalid")
    assert [s.address for s in list_servers(conn)] == ["iperf2.hanoi.invalid:5202"]


@pytest.mark.parametrize(
    ("address", "capacity", "message"),
    [("h:99999", 1.0, r"^address: bad port in 'h:99999'"), ("h:5201", 0.0, r"^capacity: 0 is not in")],
)
def test_bad_servers_are_refused_naming_the_field(
    conn: psycopg.Connection[Any], address: str, capacity: float, message: str
) -> None:
    with pytest.raises(StorageError, match=message):
        add_server(conn, address, capacity)
    assert list_servers(conn) == []


def test_the_pool_is_bounded(conn: psycopg.Connection[Any]) -> None:
    for port in range(MAX_SERVERS):
        add_server(conn, f"iperf.invalid:{6000 + port}")
    with pytest.raises(StorageError, match=f"already has {MAX_SERVERS} servers"):
        add_server(conn, "one-more.invalid")
    add_server(conn, "iperf.invalid:6000", capacity=2)  # changing one that is there still works
    assert len(list_servers(conn)) == MAX_SERVERS


def test_probes_get_the_pool_and_nobody_else_does(
    client: TestClient, tokens: dict[str, str], conn: psycopg.Connection[Any]
) -> None:
    add_server(conn, "iperf1.hanoi.invalid:5201")
    add_server(conn, "iperf2.hanoi.invalid:5201", capacity=2)
    resp = client.get("/api/v1/probes/servers", headers=auth(tokens["probe"]))
    assert resp.status_code == 200, resp.text
    assert resp.json()["servers"] == [{"address": "iperf1.hanoi.invalid:5201", "capacity": 1.0},
                                      {"address": "iperf2.hanoi.invalid:5201", "capacity": 2.0}]  # fmt: skip
    assert client.get("/api/v1/probes/servers").status_code == 401
    assert client.get("/api/v1/probes/servers", headers=auth(tokens["reader"])).status_code == 403


def _lomsong(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOMSONG_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "lomsong.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120, cwd=REPO)  # fmt: skip


def test_servers_cli(migrated_url: str) -> None:
    added = _lomsong(migrated_url, "servers", "add", "iperf1.hanoi.invalid:5202", "--capacity", "2")
    assert added.returncode == 0 and added.stdout == "iperf1.hanoi.invalid:5202\tcapacity 2\n", added.stderr
    bad = _lomsong(migrated_url, "servers", "add", "iperf1.hanoi.invalid:0")
    assert bad.returncode == 2 and "address: bad port" in bad.stderr
    listed = _lomsong(migrated_url, "servers", "list")
    assert listed.returncode == 0 and listed.stdout.startswith("iperf1.hanoi.invalid:5202\tcapacity 2\t")
    assert listed.stdout.splitlines()[-1] == (
        "24 giờ qua (last 24 h): 0 phép đo qua nhóm máy chủ (pooled tests), 0 gặp máy chủ bận"
        " (met a busy server: -), 0 server_busy")
    assert _lomsong(migrated_url, "servers", "remove", "iperf1.hanoi.invalid:5202").returncode == 0
    gone = _lomsong(migrated_url, "servers", "remove", "iperf1.hanoi.invalid:5202")
    assert gone.returncode == 1 and "no such server" in gone.stderr
