"""Statistics in the database give the same answers as in memory, on both storage tiers.

The in-memory reference is `analysis.cells.cell_stats` (and `run_survey`) on the very rows
`select_for_analysis` returns, so any difference is a difference of the SQL path.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import psycopg
import pytest

from lomsong.analysis.cells import STAT_COLUMNS, cell_stats
from lomsong.analysis.classify import classify_cells
from lomsong.analysis.dbcells import cell_stats_from_rows, stat_parameters
from lomsong.analysis.load import measurements_frame
from lomsong.analysis.period import Period
from lomsong.analysis.pipeline import SurveyConfig, run_survey
from lomsong.analysis.thresholds import Thresholds
from lomsong.collector import survey_db
from lomsong.collector.storage.analysis_rows import copy_rows_in_cells, copy_rows_near
from lomsong.collector.storage.cellstats import select_cell_stats
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.collector.storage.measurements import select_for_analysis
from lomsong.collector.storage.migrate import migrate
from lomsong.collector.survey_db import run_survey_db
from lomsong.probe.record import Access, Carrier, ClockState, ErrorKind, Kind, Measurement, PositionSource
from lomsong.synthetic import SERVICE_POINTS, survey

START = datetime(2026, 11, 2, tzinfo=UTC)
LAT, LON = SERVICE_POINTS[0].lonlat[1], SERVICE_POINTS[0].lonlat[0]


def _edge(rng: random.Random, i: int) -> tuple[Measurement, ClockState]:
    """One record of a kind the synthetic survey lacks (5G, uploads, own-kit failures, ...)."""
    when = START + timedelta(minutes=37 * i)  # walks through every local hour and midnight
    kind = rng.choice([Kind.THROUGHPUT_DOWN] * 4 + [Kind.THROUGHPUT_UP, Kind.LATENCY])
    access = rng.choice([Access.LTE, Access.NR_NSA, Access.FIXED, Access.UMTS])
    error = rng.choice([None] * 6 + [ErrorKind.NO_SERVICE, ErrorKind.TIMEOUT,
                                     ErrorKind.DNS_FAILURE, ErrorKind.TOOL_MISSING,
                                     ErrorKind.SERVER_BUSY])
    placed = rng.random() > 0.05
    values: dict[str, Any] = dict(
        probe_id="edge", measured_at=when, kind=kind, tool="iperf3", access=access,
        carrier=rng.choice([Carrier.VIETTEL, Carrier.MOBIFONE]), error_kind=error,
        rsrp_dbm=rng.choice([None, round(rng.uniform(-120, -70), 1)]),
        sinr_db=round(rng.uniform(-5, 25), 1),
    )
    if placed:
        values |= dict(lat=LAT + rng.uniform(-0.002, 0.002), lon=LON + rng.uniform(-0.002, 0.002),
                       position_source=PositionSource.GPS)
    if access is Access.FIXED:
        values["plan_down_mbps"] = rng.choice([None, 100.0, 200.0])
    if error is None:
        speed = rng.choice([40.0, 30.0, 100.0, round(rng.uniform(1, 150), 2)])
        if kind is Kind.THROUGHPUT_DOWN:
            values["download_mbps"] = speed
        elif kind is Kind.THROUGHPUT_UP:
            values["upload_mbps"] = speed / 3
        else:
            values |= dict(rtt_ms=round(rng.uniform(10, 90), 1), loss_pct=rng.choice([0.0, 2.5]))
    clock = ClockState.UNSYNCED if rng.random() < 0.05 else ClockState.SYNCED
    return Measurement(**values), clock


def _records() -> Iterator[StoredRecord]:
    for m in survey(START, days=2, walks=2, pi_interval_min=120):
        yield StoredRecord(m, m.measured_at, m.clock)
    rng = random.Random(3)
    for i in range(1500):
        m, clock = _edge(rng, i)
        yield StoredRecord(m, m.measured_at, clock)


@pytest.fixture
def stored(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    migrate(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        ingest(conn, list(_records()), datetime.now(UTC))
        yield conn


@pytest.fixture
def empty(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    migrate(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


def _points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"site_id": [p.site_id for p in SERVICE_POINTS], "name": [p.name for p in SERVICE_POINTS],
         "site_type": [p.site_type for p in SERVICE_POINTS],
         "address": [p.address for p in SERVICE_POINTS]},
        geometry=gpd.points_from_xy([p.lonlat[0] for p in SERVICE_POINTS],
                                    [p.lonlat[1] for p in SERVICE_POINTS]), crs=4326)


def _same(db: pd.DataFrame, mem: pd.DataFrame) -> None:
    assert list(db.columns) == list(mem.columns)
    plain = [c for c in db.columns if c != "geometry"]
    pd.testing.assert_frame_equal(pd.DataFrame(db[plain]), pd.DataFrame(mem[plain]),
                                  check_exact=False, rtol=0, atol=1e-9)
    if "geometry" in db.columns:  # the `sources` table has no geometry (None on every row)
        assert (db.geometry.geom_equals(mem.geometry) | (db.geometry.isna() & mem.geometry.isna())
                ).all()


def _db_stats(conn: psycopg.Connection[Any], t: Thresholds, **kw: Any) -> gpd.GeoDataFrame:
    return cell_stats_from_rows(select_cell_stats(conn, **stat_parameters(t), **kw), t)


def test_cell_stats_in_the_database_equal_the_in_memory_ones(
    stored: psycopg.Connection[Any], thresholds: Thresholds
) -> None:
    db = _db_stats(stored, thresholds)
    mem = cell_stats(measurements_frame(select_for_analysis(stored)), thresholds=thresholds)
    assert len(db) > 500
    assert set(db["access"]) >= {"4g", "5g_nsa", "fixed", "3g"}
    assert (db["failed"] > 0).any() and (db["below_floor"] > 0).any()
    assert db.attrs["unplaced"] == mem.attrs["unplaced"] > 0
    _same(db, mem)
    _same(classify_cells(db, thresholds), classify_cells(mem, thresholds))


def test_selection_by_time_carrier_and_access_matches_too(
    stored: psycopg.Connection[Any], thresholds: Thresholds
) -> None:
    start, end = START + timedelta(hours=30), START + timedelta(hours=60)
    db = _db_stats(stored, thresholds, start=start, end=end, carriers=["viettel"],
                   accesses=["4g", "fixed"])
    frame = measurements_frame(select_for_analysis(stored, start=start, end=end,
                                                   carriers=["viettel"], accesses=["4g", "fixed"]))
    _same(db, cell_stats(frame, thresholds=thresholds))
    assert set(db["carrier"]) == {"viettel"}


def test_whole_survey_in_the_database_equals_run_survey(
    stored: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    mem = run_survey(measurements_frame(select_for_analysis(stored)), _points())
    monkeypatch.setattr(survey_db, "POINTS_PER_PASS", 3)  # scorecards in two uneven passes
    db = run_survey_db(stored, _points())
    assert len(db.weak_areas) > 0 and len(db.proposals) > 0
    for name, layer in db.layers().items():
        _same(layer, mem.layers()[name])


def test_empty_selection_gives_empty_valid_frames(
    empty: psycopg.Connection[Any], thresholds: Thresholds
) -> None:
    stats = _db_stats(empty, thresholds)
    assert list(stats.columns) == [*STAT_COLUMNS, "geometry"]
    assert stats.empty and stats.crs.to_epsg() == 4326 and stats.attrs["unplaced"] == 0
    assert classify_cells(stats, thresholds).empty
    result = run_survey_db(empty, _points())
    assert result.weak_areas.empty and result.proposals.empty
    assert set(result.scorecards["verdict"]) == {"insufficient_data"}


def _csv(copy: Any, *args: Any, **kw: Any) -> pd.DataFrame:
    out = io.BytesIO()
    n = copy(*args, out, **kw)
    table = pd.read_csv(io.BytesIO(out.getvalue()), keep_default_na=False, na_values=[""],
                        dtype=object)
    assert len(table) == n
    return table


def test_only_weak_cells_and_rows_near_points_leave_the_database(
    stored: psycopg.Connection[Any],
) -> None:
    cell = h3.str_to_int(h3.latlng_to_cell(LAT, LON, 10))
    rows = _csv(copy_rows_in_cells, stored, [(cell, "viettel", "4g")],
                columns=["carrier", "lat", "lon", "access", "measured_at"])
    assert len(rows) and set(rows["carrier"]) == {"viettel"} and set(rows["access"]) == {"4g"}
    cells = {h3.latlng_to_cell(float(a), float(o), 10)
             for a, o in zip(rows["lat"], rows["lon"], strict=True)}
    assert cells == {h3.int_to_str(cell)}
    assert rows["measured_at"].str.endswith("+00").all()
    box = (LON - 1e-4, LAT - 1e-4, LON + 1e-4, LAT + 1e-4)
    near = _csv(copy_rows_near, stored, [box], [], columns=["lat", "lon", "site_id"])
    assert len(near) and near["lat"].astype(float).between(box[1], box[3]).all()
    tagged = _csv(copy_rows_near, stored, [], ["nvh-02"], columns=["site_id"])
    assert len(tagged) and set(tagged["site_id"]) == {"nvh-02"}
    assert list(_csv(copy_rows_in_cells, stored, [], columns=["lat"]).columns) == ["lat"]


def test_bad_requests_are_refused_with_a_reason(
    empty: psycopg.Connection[Any], thresholds: Thresholds
) -> None:
    with pytest.raises(ValueError, match="resolution 10"):
        run_survey_db(empty, None, SurveyConfig(resolution=9))
    with pytest.raises(ValueError, match="columns: unknown"):
        copy_rows_in_cells(empty, [(1, "viettel", "4g")], io.BytesIO(), columns=["password"])
    with pytest.raises(ValueError, match="slot_hours"):
        select_cell_stats(empty, **(stat_parameters(thresholds) | {"slot_hours": 0}))
    with pytest.raises(ValueError, match="missing key"):
        cell_stats_from_rows([{"cell": 1}], thresholds)


def test_cli_aggregates_in_the_database(stored: psycopg.Connection[Any], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from lomsong.cli import main

    url = stored.info.dsn
    out = tmp_path / "survey.gpkg"
    assert main(["analyze", "--database-url", url, "--aggregate-in-db", "--from", "2026-11-01",
                 "--to", "2026-12-31", "--out", str(out)]) == 0
    cells = gpd.read_file(out, layer="cells")
    period = Period.parse("2026-11-01", "2026-12-31")
    mem = cell_stats(measurements_frame(select_for_analysis(stored, start=period.start_utc,
                                                            end=period.end_utc)))
    assert len(cells) == len(mem)
    assert np.array_equal(cells["samples"].to_numpy(), mem["samples"].to_numpy())
    assert "phép đo" in capsys.readouterr().out
    assert main(["analyze", "--input", str(out), "--aggregate-in-db"]) == 2
    assert "--aggregate-in-db works on the database" in capsys.readouterr().err
