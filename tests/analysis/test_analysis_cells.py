"""Cell statistics and classification on constructed cases with known answers."""

from __future__ import annotations

import math

import h3
import numpy as np
import pytest
from analysis_builders import BASE, down, frame, local, spread
from shapely.geometry import Point

from lomsong.analysis.cells import cell_stats
from lomsong.analysis.classify import classify_cells
from lomsong.analysis.thresholds import load_thresholds


def _one(stats, window="all"):
    rows = stats[stats["window"] == window]
    assert len(rows) == 1
    return rows.iloc[0]


def test_exactly_at_threshold_is_not_below(thresholds):
    m = frame(spread(BASE, [40.0] * 6))
    row = _one(classify_cells(cell_stats(m, thresholds=thresholds), thresholds))
    assert row["below"] == 0
    assert row["share_below"] == 0.0
    assert row["status"] == "ok"
    assert row["cell"] == BASE


def test_just_below_threshold_confirmed_with_wilson_numbers(thresholds):
    m = frame(spread(BASE, [39.99] * 5))
    row = _one(classify_cells(cell_stats(m, thresholds=thresholds), thresholds))
    # 5 of 5 below: Wilson lower = n / (n + z^2) = 5 / 8.8415 = 0.5655
    z = thresholds.rules.z
    assert row["samples"] == 5 and row["below"] == 5
    assert row["share_below_lo"] == pytest.approx(5 / (5 + z * z), abs=1e-9)
    assert row["share_below_hi"] == pytest.approx(1.0)
    assert row["status"] == "confirmed_weak"
    assert row["status_reason"] == "wilson_lower_above_half"


def test_four_of_five_below_is_only_likely(thresholds):
    m = frame(spread(BASE, [10, 12, 15, 20, 60]))
    row = _one(classify_cells(cell_stats(m, thresholds=thresholds), thresholds))
    assert row["share_below"] == pytest.approx(0.8)
    assert row["share_below_lo"] < 0.5
    assert row["status"] == "likely_weak"
    assert row["status_reason"] == "likely_lower_above_half"
    assert row["down_median_mbps"] == 15
    assert row["down_p10_mbps"] == pytest.approx(10 + 0.4 * 2)


def test_three_bad_samples_are_not_enough(thresholds):
    m = frame(spread(BASE, [1.0, 2.0, 3.0]))
    row = _one(classify_cells(cell_stats(m, thresholds=thresholds), thresholds))
    assert row["status"] == "insufficient_data"
    assert row["status_reason"] == "too_few_samples"


def test_many_samples_in_one_slot_are_not_enough(thresholds):
    rows = [down(BASE, 5.0, local(3, 9, i)) for i in range(20)]
    row = _one(classify_cells(cell_stats(frame(rows), thresholds=thresholds), thresholds))
    assert row["slots"] == 1
    assert row["status_reason"] == "too_few_time_slots"


def test_dead_spot_only_failed_tests(thresholds):
    m = frame(spread(BASE, [None] * 4, error="no_service"))
    row = _one(classify_cells(cell_stats(m, thresholds=thresholds), thresholds))
    assert row["samples"] == 4 and row["failed"] == 4 and row["below"] == 4
    assert math.isnan(row["down_median_mbps"])
    assert row["status"] == "dead_spot"


def test_own_kit_failures_are_not_evidence(thresholds):
    m = frame(spread(BASE, [None] * 6, error="budget_exhausted"))
    row = _one(classify_cells(cell_stats(m, thresholds=thresholds), thresholds))
    assert row["samples"] == 0
    assert row["status_reason"] == "no_download_tests"


def test_peak_and_offpeak_windows(thresholds):
    rows = [down(BASE, 10.0, local(d, 20)) for d in range(2, 8)]
    rows += [down(BASE, 80.0, local(d, h)) for d in range(2, 8) for h in (9, 15)]
    stats = classify_cells(cell_stats(frame(rows), thresholds=thresholds), thresholds)
    assert _one(stats, "peak")["status"] == "confirmed_weak"
    assert _one(stats, "offpeak")["status"] == "ok"
    assert _one(stats, "all")["samples"] == 18
    assert _one(stats, "all")["hours"] == 3
    assert _one(stats, "all")["days"] == 6


def test_fixed_uses_plan_speed(thresholds):
    rows = spread(BASE, [70, 75, 90, 95, 100, 70], access="fixed", carrier="fpt",
                  plan_down_mbps=100.0)
    row = _one(classify_cells(cell_stats(frame(rows), thresholds=thresholds), thresholds))
    assert row["threshold_mbps"] == 80.0
    assert row["below"] == 3


def test_5g_floor_rule(thresholds):
    speeds = [150.0] * 16 + [20.0] * 4
    rows = spread(BASE, speeds, access="5g_nsa")
    row = _one(classify_cells(cell_stats(frame(rows), thresholds=thresholds), thresholds))
    assert row["share_below_floor"] == pytest.approx(0.2)
    assert row["status_reason"] == "floor_share_missed"


def test_one_test_under_the_5g_floor_proves_nothing(thresholds):
    rows = spread(BASE, [150.0] * 9 + [20.0], access="5g_nsa")
    row = _one(classify_cells(cell_stats(frame(rows), thresholds=thresholds), thresholds))
    assert row["share_below_floor"] == pytest.approx(0.1)
    assert row["status"] != "likely_weak"


@pytest.mark.parametrize(
    ("speeds", "status", "reason"),
    [
        ([60.0] * 20, "ok", "wilson_upper_below_half"),
        ([60.0] * 5 + [20.0], "likely_ok", "likely_upper_below_half"),
        # The case: an interval of about [0.10, 0.70] on the share below is no "ok".
        ([60.0] * 4 + [20.0] * 2, "insufficient_data", "undecided"),
    ],
)
def test_ok_needs_the_upper_bound_under_the_weak_share(thresholds, speeds, status, reason):
    row = _one(classify_cells(cell_stats(frame(spread(BASE, speeds)), thresholds=thresholds),
                              thresholds))
    assert (row["status"], row["status_reason"]) == (status, reason)


def test_crs_checked_and_returned(thresholds):
    m = frame(spread(BASE, [50.0] * 5))
    with pytest.raises(ValueError, match="no CRS"):
        cell_stats(m.set_crs(None, allow_override=True), thresholds=thresholds)
    projected = m.to_crs(32648)
    stats = cell_stats(projected, thresholds=thresholds)
    assert stats.crs.to_epsg() == 32648
    assert stats.iloc[0]["cell"] == BASE


def test_inputs_not_mutated(thresholds):
    m = frame(spread(BASE, [50.0, 10.0] * 3))
    before = m.copy()
    stats = cell_stats(m, thresholds=thresholds)
    stats_before = stats.copy()
    classify_cells(stats, thresholds)
    assert m.equals(before)
    assert stats.equals(stats_before)


def test_missing_positions_counted_not_placed(thresholds):
    rows = spread(BASE, [50.0] * 5)
    rows[0] = {**rows[0], "lat": None, "lon": None, "position_source": "none"}
    stats = cell_stats(frame(rows), thresholds=thresholds)
    assert stats.attrs["unplaced"] == 1
    assert _one(stats)["samples"] == 4


def test_empty_selection_gives_empty_valid_frame(thresholds):
    stats = classify_cells(cell_stats(frame([]), thresholds=thresholds), thresholds)
    assert stats.empty
    assert {"cell", "status", "share_below_lo", "geometry"} <= set(stats.columns)


def test_nan_speed_success_is_dropped(thresholds):
    rows = spread(BASE, [np.nan, 50.0, 50.0])
    assert _one(cell_stats(frame(rows), thresholds=thresholds))["samples"] == 2


def test_hexagon_geometry_contains_centre(thresholds):
    stats = cell_stats(frame(spread(BASE, [50.0])), thresholds=thresholds)
    lat, lon = h3.cell_to_latlng(BASE)
    assert stats.geometry.iloc[0].contains(Point(lon, lat))


def test_targets_cite_hanoi_plan_58_and_a_ward_may_override(tmp_path):
    t = load_thresholds()
    assert "58/KH-UBND" in t.access["4g"].source and t.access["4g"].down_mbps == 40.0
    assert "58/KH-UBND" in t.access["5g_nsa"].source and t.access["5g_nsa"].down_mbps == 100.0
    ward = tmp_path / "ward.toml"
    ward.write_text('[access."4g"]\ndown_mbps = 50.0\nsource = "Ward decision"\n',
                    encoding="utf-8")
    assert load_thresholds(override=ward).access["4g"].down_mbps == 50.0
    ward.write_text("[rules]\nz_likely = 3.0\n", encoding="utf-8")
    with pytest.raises(ValueError, match="z_likely: must be positive and at most z"):
        load_thresholds(override=ward)
