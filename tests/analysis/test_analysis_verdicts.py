"""Verdicts a carrier cannot dispute: dead spots where they are, causes with evidence."""

from __future__ import annotations

import math

import h3
import pytest
import shapely
from analysis_builders import BASE, down, frame, local

from lomsong.analysis.areas import weak_areas
from lomsong.analysis.cells import cell_stats
from lomsong.analysis.classify import classify_cells

M_LAT = 110_574.0
M_LON = 111_320.0 * math.cos(math.radians(21.0285))


def _at(dx_m: float, dy_m: float, **kw):
    """A test `dx_m` east and `dy_m` north of the base cell's centre."""
    lat, lon = h3.cell_to_latlng(BASE)
    row = down(BASE, **kw)
    row.update(lat=lat + dy_m / M_LAT, lon=lon + dx_m / M_LON)
    return row


def _areas(rows, thresholds):
    m = frame(rows)
    classified = classify_cells(cell_stats(m, thresholds=thresholds), thresholds)
    return weak_areas(classified, m, thresholds=thresholds), classified


def _cell_ok_with_a_small_dead_spot():
    rows = []
    # Successful tests all over the cell (about 60 m around its centre), two slots a day.
    for day in range(2, 8):
        for k, (dx, dy) in enumerate([(-60, 0), (60, 0), (0, 55), (0, -55), (-40, 40), (40, -40)]):
            rows.append(_at(dx, dy, mbps=80.0, when=local(day, 9 + 6 * (k % 2), k),
                            rsrp=-85.0, sinr=18.0))
    # A 20 m dead spot by the centre: every test there failed, on three days.
    for day in (2, 4, 6):
        for k, (dx, dy) in enumerate([(0, 0), (8, 4), (-6, 6), (4, -8)]):
            rows.append(_at(dx, dy, mbps=None, error="no_service", when=local(day, 10, k)))
    return rows


def test_dead_spot_smaller_than_a_cell_is_called_a_dead_spot(thresholds):
    areas, classified = _areas(_cell_ok_with_a_small_dead_spot(), thresholds)
    cell = classified[classified["window"] == "all"].iloc[0]
    assert cell["status"] != "dead_spot"  # 12 of 48 failed: the cell alone cannot say it
    assert len(areas) == 1
    area = areas.iloc[0]
    assert (area["status"], area["cause"], area["cause_certainty"]) == (
        "dead_spot", "no_service", "high")
    assert area["samples"] == 12 and area["failed"] == 12
    # The outline follows the failed tests, not the cell: no successful test lies inside it.
    lat, lon = h3.cell_to_latlng(BASE)
    assert area.geometry.contains(shapely.Point(lon, lat))
    assert not area.geometry.contains(shapely.Point(lon + 40 / M_LON, lat + 40 / M_LAT))
    assert area.geometry.area < 0.2 * shapely.Polygon(
        [(b, a) for a, b in h3.cell_to_boundary(BASE)]).area


def test_timeouts_at_a_busy_fixed_probe_are_no_dead_spot(thresholds):
    rows = [_at(0, 0, mbps=90.0, when=local(2 + d, h), rsrp=-80.0, sinr=20.0)
            for d in range(10) for h in range(0, 24, 2)]
    rows += [_at(0, 0, mbps=None, error="timeout", when=local(3 + d, 11, 30)) for d in range(4)]
    areas, _ = _areas(rows, thresholds)
    assert areas.empty


def _two_halves(peak_west: bool, rsrp: float = -85.0):
    """Slow tests 50 m west of the centre, fast ones 50 m east; peak tests on one side only
    (`peak_west`) or on both."""
    rows = []
    for day in range(2, 9):
        for k in range(3):
            rows.append(_at(-50, 3 * k, mbps=15.0 + k, when=local(day, 20, k), rsrp=rsrp,
                            sinr=18.0))
            off_x = 50 if peak_west else -50
            rows.append(_at(off_x, 3 * k, mbps=80.0 + k if peak_west else 60.0 + k,
                            when=local(day, 10, k), rsrp=rsrp, sinr=18.0))
    return rows


def test_peak_and_offpeak_from_different_places_are_not_congestion(thresholds):
    areas, classified = _areas(_two_halves(peak_west=True), thresholds)
    peak = classified[classified["window"] == "peak"].iloc[0]
    off = classified[classified["window"] == "offpeak"].iloc[0]
    assert peak["down_median_mbps"] < 40 <= off["down_median_mbps"]
    assert len(areas) == 1
    area = areas.iloc[0]
    assert area["cause"] != "congestion"
    assert area["congestion_peak_n"] == 0  # no sub-cell has tests in both windows


def test_congestion_at_the_same_places_states_its_test(thresholds):
    areas, _ = _areas(_two_halves(peak_west=False), thresholds)
    area = areas.iloc[0]
    assert area["cause"] == "congestion"
    assert area["cause_certainty"] == "high"
    assert area["congestion_peak_n"] == 21 and area["congestion_offpeak_n"] == 21
    assert area["congestion_peak_median_mbps"] == 16.0
    assert area["congestion_offpeak_median_mbps"] == 61.0
    assert area["congestion_p"] < 1e-6
    assert area["deciding_window"] == "peak"
    assert area["deciding_share_below"] == 1.0
    assert area["deciding_share_lo"] > 0.5
    assert str(area["first_date"]) == "2026-11-02" and str(area["last_date"]) == "2026-11-08"


def test_coverage_is_judged_before_congestion(thresholds):
    areas, _ = _areas(_two_halves(peak_west=False, rsrp=-114.0), thresholds)
    area = areas.iloc[0]
    assert (area["cause"], area["cause_certainty"]) == ("coverage", "high")
    assert area["cause_readings"] == 42 and area["cause_support"] == 1.0


def test_too_few_peak_tests_give_no_congestion(thresholds):
    # The case: 3 peak tests against 14 off-peak ones (6 of which failed).
    rows = [_at(0, 0, mbps=70.0, when=local(d, h), rsrp=-85.0, sinr=18.0)
            for d in range(2, 6) for h in (9, 15)]
    rows += [_at(0, 0, mbps=None, error="network_unreachable", when=local(d, h))
             for d in range(6, 9) for h in (9, 15)]
    rows += [_at(0, 0, mbps=15.0, when=local(d, 20), rsrp=-85.0, sinr=18.0) for d in (2, 5, 8)]
    areas, classified = _areas(rows, thresholds)
    assert classified[classified["window"] == "peak"].iloc[0]["status"] == "insufficient_data"
    assert areas.empty or (areas["cause"] != "congestion").all()


def test_weak_area_counts_failed_tests_beside_the_median(thresholds):
    rows = [_at(0, 0, mbps=20.0, when=local(d, h), rsrp=-115.0, sinr=5.0)
            for d in range(2, 6) for h in (9, 15)]
    rows += [_at(0, 0, mbps=None, error="no_service", when=local(d, 11)) for d in (2, 3)]
    areas, _ = _areas(rows, thresholds)
    area = areas.iloc[0]
    assert (area["samples"], area["failed"], area["down_median_mbps"]) == (10, 2, 20.0)


@pytest.mark.parametrize("thin", [1, 2])
def test_a_single_failure_cluster_in_one_slot_is_no_dead_spot(thresholds, thin):
    rows = [_at(k, 0, mbps=None, error="no_service", when=local(2, 10, k)) for k in range(5)]
    rows += [_at(0, 60, mbps=80.0, when=local(d, 9 + 6 * (d % 2))) for d in range(2, 2 + thin)]
    areas, _ = _areas(rows, thresholds)
    assert "dead_spot" not in set(areas["status"])


def test_far_too_slow_for_adequate_radio_is_backhaul_with_low_certainty(thresholds):
    rows = [_at(0, 0, mbps=15.0 + (d % 3), when=local(d, h), rsrp=-88.0, sinr=11.5)
            for d in range(2, 9) for h in (9, 15, 20)]
    areas, _ = _areas(rows, thresholds)
    area = areas.iloc[0]
    assert (area["cause"], area["cause_certainty"]) == ("backhaul", "low")


def test_middling_radio_and_a_speed_near_the_target_stay_unknown(thresholds):
    rows = [_at(0, 0, mbps=30.0 + (d % 3), when=local(d, h), rsrp=-88.0, sinr=11.5)
            for d in range(2, 9) for h in (9, 15, 20)]
    areas, _ = _areas(rows, thresholds)
    assert (areas.iloc[0]["cause"], areas.iloc[0]["cause_certainty"]) == ("unknown", "low")
