"""Proposals, coverage planner and walk route, carrier comparison."""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import h3
import numpy as np
import pytest
from analysis_builders import BASE, centre, down, frame, local, spread
from scipy import stats as st
from shapely.geometry import Point

from lomsong.analysis.areas import weak_areas
from lomsong.analysis.cells import cell_stats
from lomsong.analysis.classify import classify_cells
from lomsong.analysis.compare import compare_carriers, two_proportion_p
from lomsong.analysis.planner import coverage_gaps, suggest_walk_route
from lomsong.analysis.proposals import upgrade_proposals
from lomsong.analysis.sites import scorecards


def _points(cells_names):
    rows = []
    for i, (cell, name) in enumerate(cells_names, start=1):
        lat, lon = centre(cell)
        rows.append({"site_id": f"sp-{i:03d}", "name": name, "site_type": "public_service_point",
                     "address": "", "geometry": Point(lon, lat)})
    columns = ["site_id", "name", "site_type", "address", "geometry"]
    return gpd.GeoDataFrame(rows, columns=columns, geometry="geometry", crs=4326)


def _survey(rows, points, thresholds):
    m = frame(rows)
    classified = classify_cells(cell_stats(m, thresholds=thresholds), thresholds)
    areas = weak_areas(classified, m, thresholds=thresholds)
    cards = scorecards(points, m, classified, thresholds=thresholds)
    return m, classified, areas, cards


def test_proposals_rank_actions_and_service_points(thresholds):
    far = h3.grid_ring(BASE, 6)[0]
    other = h3.grid_ring(BASE, 12)[0]
    rows = spread(BASE, [None] * 6, error="no_service")          # dead spot at the ward office
    rows += spread(far, [12.0] * 6, rsrp=-80.0, sinr=-2.0)       # interference, no point
    rows += spread(other, [50.0] * 6, access="fixed", carrier="fpt", plan_down_mbps=100.0)
    points = _points([(BASE, "UBND phường"), (other, "Nhà văn hóa")])
    _, _, areas, cards = _survey(rows, points, thresholds)
    props = upgrade_proposals(areas, cards)
    viettel = props[props["carrier"] == "viettel"].set_index("rank")
    assert list(viettel.index) == [1, 2]
    assert viettel.loc[1, "action"] == "new_site"
    assert viettel.loc[1, "service_points_affected"] == 1
    assert viettel.loc[1, "priority"] == "high"
    assert viettel.loc[2, "action"] == "investigate_interference"
    assert viettel.loc[2, "priority"] == "medium"
    assert "SINR -2.0 dB" in viettel.loc[2, "evidence"]
    # Both points lie inside weak areas: no second, duplicate proposal for them.
    assert (props["target_type"] == "service_point").sum() == 0
    fixed = props[props["carrier"] == "fpt"].iloc[0]
    assert fixed["action"] == "fixed_upgrade" and fixed["service_points_affected"] == 1
    # Impact formula: severity 3 x (1 + 2) x (0.5 + 0.5 x 6/30) x (1 + ln 2).
    assert viettel.loc[1, "impact_score"] == pytest.approx(
        round(3 * 3 * (0.5 + 0.5 * 6 / 30) * (1 + math.log(2)), 2))


def test_point_only_evidence_gives_service_point_proposal(thresholds):
    rows = spread(BASE, [30.0, 35.0, 40.0, 50.0, 55.0, 60.0], access="fixed", carrier="fpt",
                  plan_down_mbps=100.0, site_id="sp-001")
    rows = [{**r, "lat": None, "lon": None, "position_source": "none"} for r in rows]
    _, _, areas, cards = _survey(rows, _points([(BASE, "UBND phường")]), thresholds)
    assert areas.empty
    props = upgrade_proposals(areas, cards)
    assert len(props) == 1
    prop = props.iloc[0]
    assert (prop["target_type"], prop["target_id"], prop["target_name"]) == (
        "service_point", "sp-001", "UBND phường")
    assert prop["action"] == "fixed_upgrade"
    assert prop["status"] == "confirmed_weak"
    assert "6 tests; 0 failed; median 45.0 Mbps; target 80 Mbps; 100% below target" in prop["evidence"]


def test_congestion_on_4g_proposes_nr_activation(thresholds):
    rows = [down(BASE, 8.0, local(d, 20), rsrp=-80.0, sinr=15.0) for d in range(2, 8)]
    rows += [down(BASE, 90.0, local(d, h), rsrp=-80.0, sinr=15.0)
             for d in range(2, 8) for h in (9, 15)]
    _, _, areas, cards = _survey(rows, _points([]), thresholds)
    props = upgrade_proposals(areas, cards)
    assert props.iloc[0]["action"] == "nr_activation"


def test_no_weak_nothing_proposed(thresholds):
    _, _, areas, cards = _survey(spread(BASE, [90.0] * 6), _points([]), thresholds)
    props = upgrade_proposals(areas, cards)
    assert props.empty and "action" in props.columns


def test_gaps_kinds(thresholds):
    n1 = h3.grid_ring(BASE, 2)[0]
    rows = spread(BASE, [50.0] * 6) + spread(BASE, [50.0] * 6, carrier="vnpt")
    rows += spread(n1, [50.0] * 2)
    rows += [down(n1, 50.0, local(3, 20))]
    _, classified, _, _ = _survey(rows, _points([]), thresholds)
    gaps = coverage_gaps(classified, thresholds=thresholds)
    got = set(zip(gaps["cell"], gaps["carrier"], gaps["gap"], strict=True))
    assert (n1, "viettel", "too_few_samples") in got
    assert (n1, "vnpt", "carrier_missing") in got
    assert (BASE, "viettel", "no_peak_samples") in got
    assert (BASE, "vnpt", "no_peak_samples") in got
    assert (n1, "viettel", "no_peak_samples") not in got
    row = gaps[(gaps["cell"] == n1) & (gaps["gap"] == "too_few_samples")].iloc[0]
    assert row["samples_needed"] == 2


def _route_length(xy, order):
    return sum(math.dist(xy[a], xy[b]) for a, b in itertools.pairwise(order))


def test_walk_route_is_optimal_on_small_case_and_consistent(thresholds):
    ring = list(h3.grid_ring(BASE, 3))[::3]
    gaps = gpd.GeoDataFrame(
        {"cell": ring, "gap": "too_few_samples"},
        geometry=[Point(centre(c)[1], centre(c)[0]) for c in ring], crs=4326)
    start = centre(BASE)
    route = suggest_walk_route(gaps, start=start)
    assert sorted(route["cell"]) == sorted(ring)
    assert list(route["order"]) == list(range(1, len(ring) + 1))
    utm = gpd.GeoSeries([Point(start[1], start[0]), *[Point(centre(c)[1], centre(c)[0])
                                                       for c in ring]], crs=4326).to_crs(32648)
    xy = [(p.x, p.y) for p in utm]
    best = min(_route_length(xy, (0, *perm)) for perm in itertools.permutations(range(1, len(xy))))
    assert route["cumulative_m"].iloc[-1] == pytest.approx(best, abs=1.0)
    assert np.allclose(np.cumsum(route["leg_m"]), route["cumulative_m"], atol=0.5)


def test_empty_gaps_give_empty_route():
    gaps = gpd.GeoDataFrame({"cell": [], "gap": []}, geometry=[], crs=4326)
    assert suggest_walk_route(gaps).empty


def test_compare_carriers_tests_match_scipy(thresholds):
    a = [60.0, 70.0, 80.0, 55.0, 65.0, 75.0, 90.0, 45.0]
    b = [20.0, 30.0, 35.0, 25.0, 50.0, 15.0, 38.0, 42.0]
    rows = spread(BASE, a) + spread(BASE, b, carrier="vnpt") + spread(BASE, b[:3], carrier="itel")
    table = compare_carriers(frame(rows), thresholds=thresholds).set_index("carrier")
    assert table.loc["vnpt", "reference_carrier"] == "viettel"
    expected = st.mannwhitneyu(b, a, alternative="two-sided").pvalue * 2  # Bonferroni, 2 tests
    assert table.loc["vnpt", "mwu_p_value"] == pytest.approx(min(1.0, expected))
    assert table.loc["vnpt", "prop_p_value"] == pytest.approx(
        min(1.0, 2 * two_proportion_p(6, 8, 0, 8)))
    assert bool(table.loc["vnpt", "significant_speed"])
    assert math.isnan(table.loc["itel", "mwu_p_value"])  # 3 samples: not tested
    assert math.isnan(table.loc["viettel", "mwu_p_value"])
    assert table.loc["vnpt", "share_below"] == pytest.approx(6 / 8)


def test_compare_per_area(thresholds):
    far = h3.grid_ring(BASE, 8)[0]
    rows = spread(BASE, [10.0] * 6) + spread(far, [90.0] * 6)
    m = frame(rows)
    classified = classify_cells(cell_stats(m, thresholds=thresholds), thresholds)
    areas = weak_areas(classified, m, thresholds=thresholds)
    table = compare_carriers(m, areas=areas, thresholds=thresholds)
    assert list(table["area_id"]) == ["viettel-4g-001"]
    assert table.iloc[0]["samples"] == 6


def test_point_inside_an_area_is_affected_only_if_its_own_verdict_is_weak(thresholds):
    rows = spread(BASE, [10.0] * 6, rsrp=-115.0, sinr=5.0)
    # The point's own probe (tagged, no position): its tests meet the target.
    for d in range(2, 12):
        for h in (9, 15, 20):
            tagged = down(BASE, 90.0, local(d, h), rsrp=-85.0, sinr=18.0, site_id="sp-001")
            tagged.update(lat=None, lon=None, position_source="none")
            rows.append(tagged)
    points = _points([(BASE, "UBND phường")])
    _, _, areas, cards = _survey(rows, points, thresholds)
    assert cards.iloc[0]["verdict"] == "ok"
    assert len(areas) == 1 and areas.iloc[0].geometry.contains(points.geometry.iloc[0])
    props = upgrade_proposals(areas, cards)
    assert props.iloc[0]["service_points_affected"] == 0
    assert props.iloc[0]["priority"] == "medium"  # confirmed weak, no point harmed
    assert "6 failed" not in props.iloc[0]["evidence"] and "0 failed" in props.iloc[0]["evidence"]
