"""Service points: reading files strictly, and scorecards with known answers."""

from __future__ import annotations

import json
import re

import h3
import numpy as np
import pandas as pd
import pytest
from analysis_builders import BASE, down, frame, local, spread

from lomsong.analysis.cells import cell_stats
from lomsong.analysis.classify import classify_cells
from lomsong.analysis.sites import read_service_points, scorecards


def _points_csv(tmp_path, rows):
    path = tmp_path / "points.csv"
    lines = ["name,address,type,lat,lon", *rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _base_point_row(name="UBND phường Hàng Trống", kind="public_service_point"):
    lat, lon = h3.cell_to_latlng(BASE)
    return f'{name},"12 Lê Lai, Hoàn Kiếm",{kind},{lat},{lon}'


def test_read_csv_points(tmp_path):
    points = read_service_points(_points_csv(tmp_path, [_base_point_row(),
                                                        _base_point_row("Nhà văn hóa", "community_house")]))
    ids = list(points["site_id"])
    assert all(re.fullmatch(r"sp-[0-9a-f]{10}", i) for i in ids) and ids[0] != ids[1]
    swapped = read_service_points(_points_csv(tmp_path, [_base_point_row("Nhà văn hóa", "community_house"),
                                                         _base_point_row()]))
    assert list(swapped["site_id"]) == ids[::-1]  # the same point keeps its id, whatever the order
    assert points.loc[0, "address"] == "12 Lê Lai, Hoàn Kiếm"
    assert points.crs.to_epsg() == 4326


def test_bad_row_names_row_and_field_and_imports_nothing(tmp_path):
    path = _points_csv(tmp_path, [_base_point_row(), "Chợ,addr,market,21.0,105.8"])
    with pytest.raises(ValueError, match=r"row 3, type: 'market'"):
        read_service_points(path)
    path = _points_csv(tmp_path, ["Chợ,addr,school,north,105.8"])
    with pytest.raises(ValueError, match=r"row 2, lat: 'north' is not a number"):
        read_service_points(path)


def test_read_geojson_points(tmp_path):
    lat, lon = h3.cell_to_latlng(BASE)
    path = tmp_path / "p.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
         "properties": {"name": "Trường THCS", "type": "school", "site_id": "thcs-1"}}]}))
    points = read_service_points(path)
    assert points.loc[0, "site_id"] == "thcs-1"
    assert points.geometry.iloc[0].x == pytest.approx(lon)


def test_scorecard_numbers_radius_and_tagged_probe(tmp_path, thresholds):
    points = read_service_points(_points_csv(tmp_path, [_base_point_row()]))
    lat, _ = h3.cell_to_latlng(BASE)
    rows = spread(BASE, [10.0, 20.0, 30.0, 50.0, 60.0, 70.0])
    far = down(BASE, 1.0, local(3, 10))
    far.update(lat=lat + 0.01)  # about 1.1 km north: outside 150 m
    tagged = down(BASE, 5.0, local(4, 10))
    tagged.update(lat=None, lon=None, position_source="none", site_id=points.loc[0, "site_id"])
    m = frame([*rows, far, tagged])
    cards = scorecards(points, m, thresholds=thresholds)
    assert len(cards) == 1
    card = cards.iloc[0]
    assert card["samples"] == 7
    assert card["down_median_mbps"] == 30.0
    assert card["share_below"] == pytest.approx(4 / 7)
    # 4 of 7 below: neither weak nor ok with the confidence either claim needs.
    assert (card["verdict"], card["verdict_reason"]) == ("insufficient_data", "undecided")
    assert card["last_measured_at"] == pd.Timestamp(local(4, 15, 5))
    assert cards.crs.to_epsg() == 4326


def test_trend_slope(tmp_path, thresholds):
    points = read_service_points(_points_csv(tmp_path, [_base_point_row()]))
    rows = [down(BASE, 20.0 + 5.0 * w, local(1 + 7 * w, 10)) for w in range(4)]
    rows += [down(BASE, 20.0 + 5.0 * w, local(1 + 7 * w, 16)) for w in range(4)]
    cards = scorecards(points, frame(rows), thresholds=thresholds)
    assert cards.iloc[0]["trend_mbps_per_week"] == pytest.approx(5.0, rel=0.02)
    few = scorecards(points, frame(rows[:3]), thresholds=thresholds)
    assert np.isnan(few.iloc[0]["trend_mbps_per_week"])


def test_unmeasured_point_and_cell_status(tmp_path, thresholds):
    far_lat = h3.cell_to_latlng(BASE)[0] + 0.05
    points = read_service_points(_points_csv(tmp_path, [
        _base_point_row(), f"Xa,addr,school,{far_lat},{h3.cell_to_latlng(BASE)[1]}"]))
    m = frame(spread(BASE, [5.0] * 6))
    classified = classify_cells(cell_stats(m, thresholds=thresholds), thresholds)
    cards = scorecards(points, m, classified, thresholds=thresholds).set_index("site_id")
    near, far = points["site_id"]
    assert cards.loc[near, "cell_status"] == "confirmed_weak"
    assert cards.loc[near, "verdict"] == "confirmed_weak"
    assert cards.loc[far, "samples"] == 0
    assert cards.loc[far, "verdict"] == "insufficient_data"


def test_no_service_points_is_empty_valid(tmp_path, thresholds):
    points = read_service_points(_points_csv(tmp_path, []))
    cards = scorecards(points, frame(spread(BASE, [5.0] * 6)), thresholds=thresholds)
    assert cards.empty and "verdict" in cards.columns


def test_mixed_crs_is_handled_and_caller_crs_returned(tmp_path, thresholds):
    points = read_service_points(_points_csv(tmp_path, [_base_point_row()])).to_crs(32648)
    m = frame(spread(BASE, [5.0] * 6))
    cards = scorecards(points, m, thresholds=thresholds)
    assert cards.crs.to_epsg() == 32648
    assert cards.iloc[0]["samples"] == 6
    with pytest.raises(ValueError, match="service_points: GeoDataFrame has no CRS"):
        scorecards(points.set_crs(None, allow_override=True), m, thresholds=thresholds)
