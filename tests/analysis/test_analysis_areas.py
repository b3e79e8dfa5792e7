"""Weak areas: contiguity, statistics recomputed from samples, and the likely cause."""

from __future__ import annotations

import h3
import pytest
from analysis_builders import BASE, down, frame, local, spread

from lomsong.analysis.areas import weak_areas
from lomsong.analysis.cells import cell_stats
from lomsong.analysis.classify import classify_cells


def _line(n: int) -> list[str]:
    far = h3.grid_ring(BASE, n - 1)[0]
    cells = h3.grid_path_cells(BASE, far)
    assert len(cells) == n
    return list(cells)


def _areas(rows, thresholds):
    m = frame(rows)
    classified = classify_cells(cell_stats(m, thresholds=thresholds), thresholds)
    return weak_areas(classified, m, thresholds=thresholds), classified


def test_weak_area_split_by_ok_cell_gives_two_areas(thresholds):
    c = _line(5)
    rows = []
    for cell in (c[0], c[1], c[3], c[4]):
        rows += spread(cell, [10.0] * 6, rsrp=-115.0, sinr=5.0, pci=101, band="B3")
    rows += spread(c[2], [80.0] * 6, rsrp=-80.0, sinr=20.0)
    areas, _ = _areas(rows, thresholds)
    assert len(areas) == 2
    assert sorted(areas["cells"]) == [2, 2]
    assert set(areas["cause"]) == {"coverage"}
    assert set(areas["status"]) == {"confirmed_weak"}
    first = areas.sort_values("area_id").iloc[0]
    assert first["samples"] == 12
    assert first["down_median_mbps"] == 10.0
    assert first["pcis"] == "101" and first["bands"] == "B3"
    assert first["area_km2"] == pytest.approx(  # the outline's area on UTM, not H3's sphere
        sum(h3.cell_area(x, unit="km^2") for x in first["cell_list"].split(",")), rel=0.01)
    assert first.geometry.geom_type == "Polygon"


def test_adjacent_weak_cells_form_one_area(thresholds):
    c = _line(3)
    rows = [r for cell in c for r in spread(cell, [10.0] * 6, rsrp=-115.0)]
    areas, _ = _areas(rows, thresholds)
    assert len(areas) == 1 and areas.iloc[0]["cells"] == 3
    assert areas.iloc[0]["samples"] == 18


def test_congestion_only_at_peak(thresholds):
    rows = [down(BASE, 8.0, local(d, 20), rsrp=-80.0, sinr=15.0) for d in range(2, 8)]
    rows += [down(BASE, 90.0, local(d, h), rsrp=-80.0, sinr=15.0)
             for d in range(2, 8) for h in (9, 15)]
    areas, classified = _areas(rows, thresholds)
    all_row = classified[classified["window"] == "all"].iloc[0]
    assert all_row["status"] == "likely_ok"  # 6 of 18 below: upper bound 0.56
    assert len(areas) == 1
    area = areas.iloc[0]
    assert area["cause"] == "congestion"
    assert area["status"] == "confirmed_weak"
    assert area["peak_median_mbps"] == 8.0 and area["offpeak_median_mbps"] == 90.0
    assert area["worst_hour"] == 20


def test_interference_vs_coverage(thresholds):
    c = _line(5)
    rows = spread(c[0], [12.0] * 6, rsrp=-85.0, sinr=-1.0)
    rows += spread(c[4], [12.0] * 6, rsrp=-118.0, sinr=-1.0, carrier="vnpt")
    areas, _ = _areas(rows, thresholds)
    causes = dict(zip(areas["carrier"], areas["cause"], strict=True))
    assert causes == {"viettel": "interference", "vnpt": "coverage"}


def test_backhaul_good_radio_slow_all_hours(thresholds):
    rows = spread(BASE, [15.0] * 8, rsrp=-75.0, sinr=22.0)
    areas, _ = _areas(rows, thresholds)
    assert areas.iloc[0]["cause"] == "backhaul"


def test_dead_spot_area_is_no_service(thresholds):
    rows = spread(BASE, [None] * 4, error="no_service")
    areas, _ = _areas(rows, thresholds)
    assert areas.iloc[0]["status"] == "dead_spot"
    assert areas.iloc[0]["cause"] == "no_service"
    assert areas.iloc[0]["samples"] == 4


def test_nothing_weak_gives_empty_valid_frame(thresholds):
    areas, _ = _areas(spread(BASE, [90.0] * 6), thresholds)
    assert areas.empty
    assert {"area_id", "cause", "geometry"} <= set(areas.columns)
    assert areas.crs.to_epsg() == 4326


def test_carriers_never_merge(thresholds):
    rows = spread(BASE, [5.0] * 6) + spread(BASE, [5.0] * 6, carrier="mobifone")
    areas, _ = _areas(rows, thresholds)
    assert sorted(areas["carrier"]) == ["mobifone", "viettel"]
    assert sorted(areas["area_id"]) == ["mobifone-4g-001", "viettel-4g-001"]


def test_adjacent_cells_with_different_causes_are_separate_areas(thresholds):
    c = _line(2)
    rows = spread(c[0], [10.0] * 6, rsrp=-118.0, sinr=5.0)
    rows += spread(c[1], [10.0] * 6, rsrp=-80.0, sinr=-3.0)
    areas, _ = _areas(rows, thresholds)
    got = dict(zip(areas["cell_list"], areas["cause"], strict=True))
    assert got == {c[0]: "coverage", c[1]: "interference"}
    assert sorted(areas["area_id"]) == ["viettel-4g-001", "viettel-4g-002"]
