"""The indicator of a ward from the database: stored residential groups of Định Công, its own
measurements before and after a fix, and another ward's measurements that must not count."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import h3
import psycopg
import pytest
import shapely.geometry

from lomsong.analysis.period import Period
from lomsong.collector.errors import StorageError
from lomsong.collector.indicator import ward_indicator
from lomsong.collector.storage.groups import list_groups, replace_groups
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.collector.storage.scope import Scope, ScopeError
from lomsong.collector.storage.wards import save_ward
from lomsong.probe.record import Access, Carrier, ErrorKind, Kind, Measurement, PositionSource

from .conftest import DINH_CONG, DONG_DA, quadrant_groups

pytestmark = pytest.mark.parametrize("db_server", ["plain"], indirect=True)
REPO = Path(__file__).resolve().parents[2]
BASELINE = Period.days(date(2026, 11, 2), date(2026, 11, 10))
CURRENT = Period.days(date(2026, 11, 20), date(2026, 11, 30))


def _tests(cell: str, first_day: int, mbps: float | None, n: int) -> list[Measurement]:
    """`n` Viettel 4G download tests at the centre of `cell` in distinct 6-hour slots."""
    lat, lon = h3.cell_to_latlng(cell)
    start = datetime(2026, 11, first_day, 1, tzinfo=UTC)
    return [Measurement(probe_id="walk-1", measured_at=start + timedelta(hours=6 * i),
                        kind=Kind.THROUGHPUT_DOWN, tool="iperf3", carrier=Carrier.VIETTEL,
                        access=Access.LTE, download_mbps=mbps,
                        error_kind=None if mbps is not None else ErrorKind("no_service"),
                        lat=lat, lon=lon, position_source=PositionSource.GPS)
            for i in range(n)]


def _store(conn: psycopg.Connection[Any], records: list[Measurement], ward: str) -> None:
    ingest(conn, [StoredRecord(m, m.measured_at, m.clock) for m in records],
           datetime.now(UTC), ward)


def _setup(conn: psycopg.Connection[Any]) -> list[str]:
    for seed in (DINH_CONG, DONG_DA):
        save_ward(conn, seed.code, seed.site_name, "01", "Thành phố Hà Nội", None)
    groups = quadrant_groups()
    replace_groups(conn, Scope.ward(DINH_CONG.code, write=True), [
        (g, n, json.dumps(shapely.geometry.mapping(s)))
        for g, n, s in zip(groups["group_id"], groups["name"], groups.geometry, strict=True)])
    cells = []
    for shape in groups.geometry:
        p = shape.representative_point()
        cells.append(str(h3.latlng_to_cell(p.y, p.x, 10)))
    return cells


def test_the_wards_indicator_from_its_own_measurements(conn: psycopg.Connection[Any]) -> None:
    cells = _setup(conn)
    _store(conn, _tests(cells[0], 2, None, 6) + _tests(cells[1], 2, None, 6), DINH_CONG.code)
    _store(conn, _tests(cells[0], 20, 85.0, 6) + _tests(cells[1], 20, 12.0, 6), DINH_CONG.code)
    # Another ward's fast tests at the same places, in both periods: they must not count.
    _store(conn, _tests(cells[1], 21, 95.0, 8) + _tests(cells[2], 3, None, 6), DONG_DA.code)
    found = ward_indicator(conn, Scope.ward(DINH_CONG.code), BASELINE, CURRENT)
    assert found.groups == 4
    assert found.status_baseline["status"].tolist() == [
        "dead_spot", "dead_spot", "insufficient_data", "insufficient_data"]
    assert found.result.to_dict("records") == [
        {"carrier": "viettel", "dead_at_start": 2, "covered": 1, "still_dead": 0, "weak": 1,
         "not_proven": 0, "share": 0.5}]


def test_groups_belong_to_one_ward(conn: psycopg.Connection[Any]) -> None:
    _setup(conn)
    assert [g.group_id for g in list_groups(conn, Scope.ward(DINH_CONG.code))] == [
        "TDP1", "TDP2", "TDP3", "TDP4"]
    assert list_groups(conn, Scope.ward(DONG_DA.code)) == []
    with pytest.raises(ScopeError, match="may not change"):
        replace_groups(conn, Scope.ward(DINH_CONG.code), [])
    with pytest.raises(StorageError, match="not valid"):
        replace_groups(conn, Scope.ward(DINH_CONG.code, write=True),
                       [("TDP1", "a", "{}"), ("TDP1", "b", "{}")])
    assert len(list_groups(conn, Scope.ward(DINH_CONG.code))) == 4  # all or none


def test_wards_groups_and_indicator_cli(migrated_url: str, conn: psycopg.Connection[Any],
                                        tmp_path: Path) -> None:
    cells = _setup(conn)
    _store(conn, _tests(cells[0], 2, None, 6), DINH_CONG.code)
    _store(conn, _tests(cells[0], 20, 85.0, 6), DINH_CONG.code)
    path = tmp_path / "to_dan_pho.geojson"
    quadrant_groups().to_file(path, driver="GeoJSON")
    env = {**os.environ, "LOMSONG_DATABASE_URL": migrated_url}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lomsong.cli", "wards", *args], env=env,
                              capture_output=True, text=True, timeout=180, cwd=REPO)

    loaded = run("groups", DINH_CONG.code, str(path))
    assert loaded.returncode == 0 and "4 tổ dân phố" in loaded.stdout, loaded.stderr
    shown = run("indicator", DINH_CONG.code, "--baseline-from", "2026-11-02",
                "--baseline-to", "2026-11-10", "--from", "2026-11-20", "--to", "2026-11-30")
    assert shown.returncode == 0, shown.stderr
    assert "viettel\t1\t1\t0\t0\t0\t100%" in shown.stdout


def test_a_wards_threshold_override_applies_to_its_survey_only(
        conn: psycopg.Connection[Any]) -> None:
    from lomsong.collector.survey import compute_survey

    cells = _setup(conn)
    conn.execute("UPDATE wards SET thresholds_toml = %s WHERE code = %s",
                 ("[access.4g]\ndown_mbps = 100.0\n", DINH_CONG.code))
    for seed in (DINH_CONG, DONG_DA):
        _store(conn, _tests(cells[0], 20, 85.0, 8), seed.code)

    def status(code: str) -> set[str]:
        found = compute_survey(conn, CURRENT, scope=Scope.ward(code)).result.classified
        return set(found[found["window"] == "all"]["status"])

    assert status(DONG_DA.code) == {"ok"}  # 85 Mbps meets the national 40 Mbps
    assert status(DINH_CONG.code) == {"confirmed_weak"}  # not the ward's own 100 Mbps


def test_analyze_reads_the_chosen_wards_measurements(migrated_url: str,
                                                     conn: psycopg.Connection[Any],
                                                     tmp_path: Path) -> None:
    cells = _setup(conn)
    _store(conn, _tests(cells[0], 20, 85.0, 6), DINH_CONG.code)
    _store(conn, _tests(cells[1], 20, 85.0, 9), DONG_DA.code)
    env = {**os.environ, "LOMSONG_DATABASE_URL": migrated_url}
    for seed, count in ((DINH_CONG, 6), (DONG_DA, 9)):
        done = subprocess.run(
            [sys.executable, "-m", "lomsong.cli", "analyze", "--ward-code", seed.code,
             "--from", "2026-11-20", "--to", "2026-11-30", "--out", str(tmp_path / "s.gpkg")],
            env=env, capture_output=True, text=True, timeout=180, cwd=REPO)
        assert done.returncode == 0, done.stderr
        assert f"{count} measurements" in done.stdout
