"""`run_survey` normalises the measurements once; its results are those of the steps run one by
one, each making its own sample table (as before), on the demo's survey and on truth wards."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from lomsong import synthetic
from lomsong.analysis.areas import weak_areas
from lomsong.analysis.cells import cell_stats
from lomsong.analysis.classify import classify_cells
from lomsong.analysis.load import measurements_frame
from lomsong.analysis.pipeline import SurveyConfig, run_survey
from lomsong.analysis.planner import coverage_gaps, suggest_walk_route
from lomsong.analysis.proposals import upgrade_proposals
from lomsong.analysis.sites import scorecards
from lomsong.analysis.sources import counted

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import analysis_truth, truth_ward  # noqa: E402


def _step_by_step(measurements: gpd.GeoDataFrame, points: gpd.GeoDataFrame,
                  config: SurveyConfig) -> dict[str, gpd.GeoDataFrame]:
    """The pipeline as it ran before: every step normalises its own rows."""
    t = config.thresholds
    chosen = counted(measurements, t.sources)
    cells = cell_stats(chosen, resolution=config.resolution, thresholds=t)
    classified = classify_cells(cells, t)
    areas = weak_areas(classified, chosen, thresholds=t)
    cards = scorecards(points, chosen, classified, radius_m=config.radius_m, thresholds=t)
    gaps = coverage_gaps(classified, thresholds=t, carriers=config.carriers)
    return {"cells": cells, "classified": classified, "weak_areas": areas, "scorecards": cards,
            "proposals": upgrade_proposals(areas, cards, cause_rules=t.cause), "gaps": gaps,
            "route": suggest_walk_route(gaps, start=config.route_start)}


def _same(measurements: gpd.GeoDataFrame, points: gpd.GeoDataFrame) -> None:
    config = SurveyConfig()
    before = _step_by_step(measurements, points, config)
    after = run_survey(measurements, points, config)
    assert not before["weak_areas"].empty and not before["scorecards"].empty
    for name, frame in before.items():
        pd.testing.assert_frame_equal(getattr(after, name), frame, obj=name)
        assert getattr(after, name).attrs == frame.attrs, name


def test_demo_survey_same_results() -> None:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    frame = measurements_frame(m.model_dump(mode="json")
                               for m in synthetic.survey(start, days=4, walks=3))
    points = gpd.GeoDataFrame(
        {"site_id": [p.site_id for p in synthetic.SERVICE_POINTS],
         "name": [p.name for p in synthetic.SERVICE_POINTS],
         "site_type": [p.site_type for p in synthetic.SERVICE_POINTS],
         "address": [p.address for p in synthetic.SERVICE_POINTS]},
        geometry=gpd.points_from_xy([p.lonlat[0] for p in synthetic.SERVICE_POINTS],
                                    [p.lonlat[1] for p in synthetic.SERVICE_POINTS]), crs=4326)
    _same(frame, points)


@pytest.mark.parametrize("seed", [0])
def test_truth_ward_same_results(seed: int) -> None:
    ward = truth_ward.make_ward(seed)
    meas = truth_ward.measurements(ward)
    frame = measurements_frame(meas.drop(columns=["true_p_below", "x_m", "y_m"]))
    _same(frame, analysis_truth._points(ward))
