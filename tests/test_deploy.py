"""Deployment files: docker-compose.yml structure and the probe's systemd unit.

`docker compose config` needs the compose plugin, which this machine does not have; this test
checks what it would: the YAML parses, services wire together, and no secret is written down.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]


def test_compose_file_wires_database_collector_and_iperf3() -> None:
    text = (ROOT / "docker-compose.yml").read_text("utf-8")
    compose = yaml.safe_load(text)
    services = compose["services"]
    assert set(services) == {"db", "collector", "iperf3", "iperf3-5202", "iperf3-5203", "iperf3-5204"}
    db, collector = services["db"], services["collector"]
    # the PostgreSQL major and TimescaleDB minor that the tsl test tier runs (tests/pgcluster.py)
    assert re.fullmatch(r"timescale/timescaledb-ha:pg18-ts2\.29(\.\d+)?", db["image"])
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert collector["depends_on"]["db"]["condition"] == "service_healthy"
    assert collector["environment"]["LOMSONG_ENV"] == "prod"
    assert "@db:5432/" in collector["environment"]["LOMSONG_DATABASE_URL"]
    assert "iperf3" in services["iperf3"]["command"] and "--server" in services["iperf3"]["command"]
    assert (ROOT / collector["build"] / "Dockerfile").is_file()
    # secrets only by reference, and required: compose refuses to start without them
    for name in ("LOMSONG_DB_PASSWORD", "LOMSONG_SECRET_KEY"):
        assert re.search(r"\$\{" + name + r":\?", text), name
    assert "POSTGRES_PASSWORD: ${LOMSONG_DB_PASSWORD:?" in text
    assert set(compose["volumes"]) == {"db-data"}


def test_compose_pool_runs_one_iperf3_server_per_port_on_request() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))["services"]
    assert "profiles" not in services["iperf3"]  # a ward's one server starts by default
    for port in (5202, 5203, 5204):
        service = services[f"iperf3-{port}"]
        assert service["profiles"] == ["pool"] and service["restart"] == "unless-stopped"
        assert service["command"] == ["iperf3", "--server", "--port", str(port)]
        assert service["ports"] == [f"{port}:{port}/tcp", f"{port}:{port}/udp"]


def test_probe_systemd_unit_is_sandboxed() -> None:
    unit = (ROOT / "deploy" / "systemd" / "lomsong-probe.service").read_text("utf-8")
    for line in ("User=lomsong", "Restart=always", "ProtectSystem=strict", "NoNewPrivileges=yes",
                 "StateDirectory=lomsong"):
        assert line in unit, line
    assert "lomsong probe run" in unit
