"""`lomsong demo --once` end to end: real iperf3 through the probe path, read back via the API."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import psycopg
import pytest
from fastapi.testclient import TestClient

from lomsong.collector.app import create_app
from lomsong.collector.settings import Settings
from lomsong.demo import DemoOptions, run_demo

pytestmark = [pytest.mark.iperf3, pytest.mark.db]


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_demo_once(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOMSONG_DATABASE_URL", db_url)
    lines: list[str] = []
    assert run_demo(DemoOptions(data_dir=tmp_path, port=0, days=3, once=True), lines.append) == 0
    text = "\n".join(lines)
    assert "API: throughput_down" in text and "API: throughput_up" in text
    assert "dashboard" in text
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT kind, tool, source, download_mbps, upload_mbps, bytes_used, site_id, lat"
            " FROM measurements"
            " WHERE probe_id = 'demo-pi' ORDER BY kind").fetchall()
        synthetic = conn.execute(
            "SELECT count(*) FROM measurements WHERE source = 'synthetic'").fetchone()
    assert [r[0] for r in rows] == ["throughput_down", "throughput_up"]
    assert all(r[1] == "iperf3" and r[2] == "probe" and r[5] > 0 for r in rows)
    assert rows[0][3] > 0 and rows[1][4] > 0
    # the loopback self-test is not survey data: no place, so no scorecard, cell or planner row
    assert all(r[6] is None and r[7] is None for r in rows)
    assert synthetic is not None and synthetic[0] > 1000
    # Two real wards (official code, name, outline), each with its own synthetic survey inside it.
    with psycopg.connect(db_url) as conn:
        wards = conn.execute("SELECT code, name, boundary_json IS NOT NULL FROM wards ORDER BY code"
                             ).fetchall()
        per_ward = conn.execute(
            "SELECT ward_code, count(*), count(*) FILTER (WHERE source <> 'synthetic')"
            " FROM measurements WHERE probe_id LIKE 'synthetic-%' GROUP BY 1 ORDER BY 1").fetchall()
        demo_pi = conn.execute("SELECT DISTINCT ward_code FROM measurements WHERE probe_id = 'demo-pi'"
                               ).fetchall()
    assert wards == [("00235", "Phường Đống Đa", True), ("00316", "Phường Định Công", True)]
    assert [(code, fake) for code, _, fake in per_ward] == [("00235", 0), ("00316", 0)]
    assert all(n > 1000 for _, n, _ in per_ward) and demo_pi == [("00316",)]
    for code, name in (("00316", "Định Công"), ("00235", "Đống Đa")):
        outputs = tmp_path / "outputs" / code
        for layer in ("service_points", "cells", "gaps"):
            frame = gpd.read_file(outputs / "survey.gpkg", layer=layer)
            assert len(frame) and "unknown" not in set(frame["carrier"]), (code, layer)
        outline = gpd.read_file(outputs / "survey.gpkg", layer="boundary")
        points = gpd.read_file(outputs / "survey.gpkg", layer="service_points")
        assert name in outline["name"].iloc[0] and points.within(outline.union_all()).all(), code
        for file in ("survey.gpkg", "map.html", "report-ward.pdf", "report-viettel.pdf"):
            assert (outputs / file).stat().st_size > 1000, (code, file)
    assert "/city" in text and "--ward-code 00316" in text
    # The printed account is the city's: its /city page compares both wards.
    (password,) = re.findall(r"sign in\): demo-admin / (\S+)", text)
    settings = Settings(database_url=db_url, pool_min_size=1, pool_max_size=2, pool_timeout_s=5,
                        secret_key="demo-test-" + "x" * 32)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        login = client.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login)
        assert csrf is not None
        signed = client.post("/login", data={"username": "demo-admin", "password": password,
                                             "csrf_token": csrf.group(1), "next": "/city"})
        assert signed.status_code == 303, signed.text
        city = client.get("/city")
    assert city.status_code == 200 and "Định Công" in city.text and "Đống Đa" in city.text
