"""Browser results are their own source: out of the statistics unless the ward counts them.

With browser records present and not chosen, every statistic equals the one without them, in
memory and in the database (all tiers, the hourly aggregate included); chosen, they count.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import psycopg
import pytest

from lomsong.analysis.cells import cell_stats
from lomsong.analysis.load import measurements_frame
from lomsong.analysis.pipeline import SurveyConfig, SurveyResult, run_survey
from lomsong.analysis.sources import browser_points, source_table
from lomsong.analysis.thresholds import Sources, Thresholds, load_thresholds
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.collector.storage.measurements import select_for_analysis
from lomsong.collector.storage.migrate import migrate
from lomsong.collector.survey_db import run_survey_db
from lomsong.probe.record import Access, Carrier, Kind, Measurement, PositionSource, Source
from lomsong.synthetic import SERVICE_POINTS, survey

START = datetime(2026, 11, 2, tzinfo=UTC)
LON, LAT = SERVICE_POINTS[0].lonlat


def _browser(n: int) -> list[Measurement]:
    """Phone results at the first service point: fast downloads (they would turn weak cells ok)."""
    return [Measurement(
        probe_id="web-0123456789abcdef", measured_at=START + timedelta(minutes=29 * i),
        kind=Kind.THROUGHPUT_DOWN, tool="lomsong-web", source=Source.BROWSER,
        carrier=Carrier.VIETTEL, access=Access.LTE, download_mbps=150.0 + i,
        upload_mbps=20.0, rtt_ms=30.0, lat=LAT + (i % 7) * 1e-4, lon=LON + (i % 5) * 1e-4,
        position_source=PositionSource.BROWSER, site_id=SERVICE_POINTS[0].site_id)
        for i in range(n)]


def _probes() -> list[Measurement]:
    return list(survey(START, days=2, walks=2, pi_interval_min=120))


def _points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"site_id": [p.site_id for p in SERVICE_POINTS], "name": [p.name for p in SERVICE_POINTS],
         "site_type": [p.site_type for p in SERVICE_POINTS],
         "address": [p.address for p in SERVICE_POINTS]},
        geometry=gpd.points_from_xy([p.lonlat[0] for p in SERVICE_POINTS],
                                    [p.lonlat[1] for p in SERVICE_POINTS]), crs=4326)


def _frame(records: list[Measurement]) -> gpd.GeoDataFrame:
    return measurements_frame([m.model_dump() for m in records])


def _with_browser(t: Thresholds) -> Thresholds:
    return replace(t, sources=Sources((*t.sources.in_statistics, "browser")))


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(frame.drop(columns=frame.geometry.name)
                        if isinstance(frame, gpd.GeoDataFrame) else frame).reset_index(drop=True)


def _same_statistics(a: SurveyResult, b: SurveyResult) -> None:
    for name in ("classified", "weak_areas", "scorecards", "proposals", "gaps"):
        pd.testing.assert_frame_equal(_plain(getattr(a, name)), _plain(getattr(b, name)),
                                      check_exact=False, rtol=0, atol=1e-9, obj=name)


def test_the_default_leaves_browser_out_and_a_ward_can_add_it(tmp_path: Path) -> None:
    assert "browser" not in load_thresholds().sources.in_statistics
    ward = tmp_path / "ward.toml"
    ward.write_text('[sources]\nin_statistics = ["probe", "browser"]\n', encoding="utf-8")
    assert load_thresholds(override=ward).sources.in_statistics == ("probe", "browser")
    ward.write_text('[sources]\nin_statistics = ["probe", "phone"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[sources\] in_statistics: unknown source.*'phone'"):
        load_thresholds(override=ward)
    ward.write_text('[sources]\nin_statistics = "browser"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[sources\] in_statistics: must be a list"):
        load_thresholds(override=ward)


def test_in_memory_statistics_ignore_browser_results_unless_chosen(thresholds: Thresholds) -> None:
    probes, phones = _probes(), _browser(40)
    alone = run_survey(_frame(probes), _points(), SurveyConfig(thresholds=thresholds))
    mixed = _frame([*probes, *phones])
    left_out = run_survey(mixed, _points(), SurveyConfig(thresholds=thresholds))
    _same_statistics(left_out, alone)
    # Direct callers of the statistics are held to the same rule.
    pd.testing.assert_frame_equal(_plain(cell_stats(mixed, thresholds=thresholds)),
                                  _plain(alone.cells))

    chosen = run_survey(mixed, _points(), SurveyConfig(thresholds=_with_browser(thresholds)))
    assert chosen.cells["samples"].sum() == alone.cells["samples"].sum() + 2 * len(phones)
    site = chosen.scorecards[chosen.scorecards["site_id"] == SERVICE_POINTS[0].site_id]
    before = alone.scorecards[alone.scorecards["site_id"] == SERVICE_POINTS[0].site_id]
    assert site["samples"].sum() == before["samples"].sum() + len(phones)

    for result in (left_out, chosen):
        assert len(result.browser) == len(phones)
        table = result.sources.set_index("source")
        assert table.loc["browser", "count"] == len(phones)
        assert table.loc["browser", "method"] == "lomsong-web"
        assert table["count"].sum() == len(mixed)
        assert abs(table["share"].sum() - 1) < 1e-9
    assert not left_out.sources.set_index("source").loc["browser", "in_statistics"]
    assert chosen.sources.set_index("source").loc["browser", "in_statistics"]


def test_source_table_and_browser_layer_of_records_without_a_source_column() -> None:
    frame = _frame(_probes()[:10]).drop(columns="source")
    table = source_table(frame, Sources())
    assert table[["source", "count", "in_statistics"]].values.tolist() == [["probe", 10, True]]
    assert browser_points(frame).empty


def test_the_browser_layer_keeps_the_newest_points_up_to_its_limit() -> None:
    layer = browser_points(_frame(_browser(30)), limit=5)
    assert len(layer) == 5
    assert layer["download_mbps"].tolist() == [175.0, 176.0, 177.0, 178.0, 179.0]


@pytest.fixture
def stored(db_url: str) -> Any:
    migrate(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        ingest(conn, [StoredRecord(m, m.measured_at, m.clock) for m in _probes()],
               datetime.now(UTC))
        yield conn


def _hourly(conn: psycopg.Connection[Any], where: str = "TRUE") -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT bucket, h3_r10, carrier, access, kind, source, tests, down_n, down_below_40,"
        f" round(down_sum::numeric, 6) FROM cell_hourly WHERE {where} ORDER BY 1, 2, 3, 4, 5, 6"
    ).fetchall()


def test_database_statistics_ignore_browser_results_unless_chosen(
    stored: psycopg.Connection[Any], thresholds: Thresholds, db_tier: str
) -> None:
    config = SurveyConfig(thresholds=thresholds)
    alone = run_survey_db(stored, _points(), config)
    hourly = _hourly(stored)
    phones = _browser(40)
    ingest(stored, [StoredRecord(m, m.measured_at, m.clock) for m in phones], datetime.now(UTC))
    if db_tier == "tsl":  # late rows in hours the scheduler may have materialised already
        stored.execute("CALL refresh_continuous_aggregate('cell_hourly', NULL, NULL)")

    left_out = run_survey_db(stored, _points(), config)
    _same_statistics(left_out, alone)
    assert _hourly(stored, "source <> 'browser'") == hourly
    browser_hours = _hourly(stored, "source = 'browser'")
    assert sum(r[6] for r in browser_hours) == len(phones)

    chosen_config = SurveyConfig(thresholds=_with_browser(thresholds))
    chosen = run_survey_db(stored, _points(), chosen_config)
    assert chosen.cells["samples"].sum() == alone.cells["samples"].sum() + 2 * len(phones)
    memory = run_survey(measurements_frame(select_for_analysis(stored)), _points(), chosen_config)
    _same_statistics(chosen, memory)

    for result in (left_out, chosen):
        table = result.sources.set_index("source")
        assert table.loc["browser", "count"] == len(phones)
        assert len(result.browser) == len(phones)
    assert len(select_for_analysis(stored, sources=["browser"])) == len(phones)
