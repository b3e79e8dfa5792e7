"""Loading files, thresholds config and exports (the `lomsong analyze` command: tests/cli)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from analysis_builders import BASE, frame, spread

from lomsong.analysis.export import write_csv, write_geojson, write_geopackage
from lomsong.analysis.load import measurements_frame, read_measurements
from lomsong.analysis.pipeline import run_survey
from lomsong.analysis.thresholds import load_thresholds


def test_thresholds_sources_and_ward_override(tmp_path):
    t = load_thresholds()
    assert t.access["5g_sa"].floor_share == 0.95
    assert "QCVN 34:2022/BTTTT" in t.access["fixed"].source
    ward = tmp_path / "ward.toml"
    ward.write_text('[access."4g"]\ndown_mbps = 50.0\n[rules]\nmin_samples = 8\n')
    w = load_thresholds(override=ward)
    assert w.access["4g"].down_mbps == 50.0 and w.access["4g"].source == t.access["4g"].source
    assert w.rules.min_samples == 8 and w.rules.min_slots == t.rules.min_slots
    bad = tmp_path / "bad.toml"
    bad.write_text("[rules]\nmin_sample = 8\n")
    with pytest.raises(ValueError, match=r"\[rules\]: unknown key\(s\) \['min_sample'\]"):
        load_thresholds(override=bad)
    bad.write_text('[access."4g"]\ndown_mbps = -1\n')
    with pytest.raises(ValueError, match="down_mbps: must be a positive number"):
        load_thresholds(override=bad)


def test_load_from_measurement_dumps_and_db_like_rows():
    from lomsong.probe.record import Access, Carrier, Kind, Measurement, PositionSource

    m = Measurement(probe_id="pi-1", measured_at=datetime(2026, 11, 2, 3, tzinfo=UTC),
                    kind=Kind.THROUGHPUT_DOWN, tool="iperf3", carrier=Carrier.VIETTEL,
                    access=Access.LTE, download_mbps=38.5, lat=21.0, lon=105.8,
                    position_source=PositionSource.GPS, ca_bands="B3+B1")
    dumped = measurements_frame([m.model_dump(mode="json")])
    native = measurements_frame([m.model_dump()])  # enums, UUID and datetime objects (DB rows)
    for f in (dumped, native):
        assert f.loc[0, "carrier"] == "viettel" and f.loc[0, "access"] == "4g"
        assert f.loc[0, "id"] == str(m.id) and f.loc[0, "ca_bands"] == "B3+B1"
        assert f.loc[0, "measured_at"] == pd.Timestamp("2026-11-02T03:00:00Z")
        assert f.geometry.iloc[0].x == 105.8
    assert str(dumped["measured_at"].dtype).startswith("datetime64") and dumped.crs.to_epsg() == 4326


def test_load_rejects_bad_values_with_column_name():
    with pytest.raises(ValueError, match="download_mbps: not numeric"):
        measurements_frame([{"measured_at": "2026-11-02T03:00:00Z", "download_mbps": "fast"}])
    with pytest.raises(ValueError, match="measured_at: not a timestamp"):
        measurements_frame([{"measured_at": "yesterday"}])
    with pytest.raises(ValueError, match="lat/lon: out of range in row 0"):
        measurements_frame([{"measured_at": "2026-11-02T03:00:00Z", "lat": 95.0, "lon": 1.0}])


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".geojson", ".gpkg"])
def test_read_measurements_round_trip(tmp_path, suffix):
    rows = spread(BASE, [10.0, 50.0, None], error=None)
    rows[2]["error_kind"] = "timeout"
    original = frame(rows)
    path = tmp_path / f"m{suffix}"
    if suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    elif suffix == ".csv":
        pd.DataFrame(original.drop(columns="geometry")).to_csv(path, index=False)
    else:
        pyogrio.write_dataframe(original.drop(columns=["raw"]), path)
    back = read_measurements(path)
    assert len(back) == 3
    assert back["download_mbps"].tolist()[:2] == [10.0, 50.0]
    assert back["error_kind"].tolist()[2] == "timeout"
    assert back["measured_at"].tolist() == original["measured_at"].tolist()
    assert back.geometry.iloc[0].equals_exact(original.geometry.iloc[0], 1e-9)


def test_read_measurements_bad_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"kind": "latency"}\n{oops\n')
    with pytest.raises(ValueError, match=r"m.jsonl:2: not JSON"):
        read_measurements(path)


def test_exports_open_again(tmp_path, thresholds):
    result = run_survey(frame(spread(BASE, [10.0] * 6)))
    path = write_geopackage(tmp_path / "s.gpkg", **result.layers())
    layers = dict(pyogrio.list_layers(path))
    assert set(layers) == {"cells", "weak_areas", "service_points", "proposals", "gaps",
                           "walk_route", "browser_points", "source_methods"}
    sources = pyogrio.read_dataframe(path, layer="source_methods", read_geometry=False)
    assert sources[["source", "count"]].values.tolist() == [["synthetic", 6]]
    cells = gpd.read_file(path, layer="cells")
    assert cells.crs.to_epsg() == 4326 and len(cells) == len(result.classified)
    assert gpd.read_file(path, layer="service_points").empty
    gj = write_geojson(tmp_path / "areas.geojson", result.weak_areas)
    assert json.loads(gj.read_text())["features"][0]["properties"]["cause"] == "unknown"
    table = pd.read_csv(write_csv(tmp_path / "cells.csv", result.classified))
    assert {"lat", "lon", "wkt", "status"} <= set(table.columns)


def test_empty_survey_is_empty_but_valid():
    result = run_survey(frame([]))
    for name, layer in result.layers().items():
        assert layer.empty, name
        assert layer.crs is not None and layer.crs.to_epsg() == 4326, name


def test_survey_without_positions_is_empty_but_valid(thresholds):
    rows = [{**r, "lat": None, "lon": None, "position_source": "none"}
            for r in spread(BASE, [5.0] * 6)]
    result = run_survey(frame(rows))
    assert result.classified.empty and result.weak_areas.empty
    assert result.cells.attrs["unplaced"] == 6


def test_analyze_summary_counts_cell_carrier_pairs_and_names_dead_spots_apart(thresholds):
    from lomsong.survey_cli import _summary

    result = run_survey(frame(spread(BASE, [5.0] * 6)))
    printed = _summary("db.gpkg", "", 6, result)
    # One weak cell x carrier pair, though it is weak in two windows (all, off-peak); a weak
    # area is not called a dead spot ("vùng lõm sóng") unless it is one.
    assert "1/1 cặp (ô, nhà mạng) yếu, 1 vùng yếu (trong đó 0 vùng lõm sóng)" in printed
    assert "1 of 1 cell x carrier pairs weak; 1 weak areas, 0 of them dead spots" in printed


def test_no_step_mutates_its_inputs(thresholds):
    from lomsong.analysis.areas import weak_areas
    from lomsong.analysis.cells import cell_stats
    from lomsong.analysis.classify import classify_cells
    from lomsong.analysis.compare import compare_carriers
    from lomsong.analysis.planner import coverage_gaps, suggest_walk_route
    from lomsong.analysis.proposals import upgrade_proposals
    from lomsong.analysis.sites import scorecards

    rows = spread(BASE, [None] * 4, error="no_service") + spread(BASE, [5.0] * 6, carrier="vnpt")
    m = frame(rows)
    lat, lon = m.geometry.iloc[0].y, m.geometry.iloc[0].x
    points = gpd.GeoDataFrame({"site_id": ["a"], "name": ["A"], "site_type": ["school"],
                               "address": [""]}, geometry=gpd.points_from_xy([lon], [lat]), crs=4326)
    inputs = {"m": m, "points": points}
    stats = cell_stats(m, thresholds=thresholds)
    inputs["stats"] = stats
    classified = classify_cells(stats, thresholds)
    inputs["classified"] = classified
    areas = weak_areas(classified, m, thresholds=thresholds)
    inputs["areas"] = areas
    cards = scorecards(points, m, classified, thresholds=thresholds)
    inputs["cards"] = cards
    gaps = coverage_gaps(classified, thresholds=thresholds)
    inputs["gaps"] = gaps
    before = {k: v.copy() for k, v in inputs.items()}
    classify_cells(stats, thresholds)
    weak_areas(classified, m, thresholds=thresholds)
    scorecards(points, m, classified, thresholds=thresholds)
    upgrade_proposals(areas, cards)
    coverage_gaps(classified, thresholds=thresholds)
    suggest_walk_route(gaps)
    compare_carriers(m, areas=areas, thresholds=thresholds)
    for name, frame_before in before.items():
        pd.testing.assert_frame_equal(inputs[name], frame_before, obj=name)
    assert len(areas) == 2 and not cards.empty
