"""The whole pipeline on real third-party files, checked against hand computations.

G-NetTrack Pro traces (Cork, Ireland, 5G NSA, operator B; uccmisl/5Gdataset) go through the probe's
G-NetTrack importer; the hand computation below reads the same CSV with the csv module only.
Ookla open-data tiles (Oahu) check the quadkey arithmetic against Ookla's own tile geometry.
"""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

import h3
import pytest
from analysis_builders import REALDATA

from lomsong.analysis.load import measurements_frame
from lomsong.analysis.ookla import compare_tiles, ookla_tiles, quadkeys, read_ookla_tiles, tile_bounds
from lomsong.analysis.pipeline import SurveyConfig, run_survey
from lomsong.analysis.thresholds import load_thresholds

TRACE = REALDATA / "datasets" / "gnettrack_5g_nsa_irish_operatorB_driving_download_2020-02-14.csv"
OAHU = REALDATA / "ookla" / "ookla_mobile_tiles_oahu_2023Q4.geojson"
MODES = {"5G": "5g_nsa", "LTE": "4g", "HSPA+": "3g", "HSUPA": "3g", "UMTS": "3g"}


def _need(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"real data not available: {path}")


def _import(path: Path):
    importer = pytest.importorskip("lomsong.probe.importers.gnettrack")
    from lomsong.probe.importers._common import ImportContext
    from lomsong.probe.record import Carrier

    content = path.read_bytes()
    ctx = ImportContext.for_content(content, probe_id="gnettrack-b", carrier=Carrier.OTHER,
                                    tz="Europe/Dublin")
    result = importer.import_gnettrack_csv(content.decode("utf-8"), ctx)
    return measurements_frame(m.model_dump(mode="json") for m in result.measurements)


def _thresholds(tmp_path):
    # One 16-minute drive is a single time slot; the test relaxes that rule and the time zone.
    override = tmp_path / "cork.toml"
    override.write_text('[rules]\nmin_slots = 1\n[windows]\ntimezone = "Europe/Dublin"\n')
    return load_thresholds(override=override)


def _hand_rows(path: Path):
    rows = []
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            if r["State"] != "D" or r["DL_bitrate"] == "-" or r["NetworkMode"] not in MODES:
                continue
            lat, lon = float(r["Latitude"]), float(r["Longitude"])
            rows.append((h3.latlng_to_cell(lat, lon, 10), MODES[r["NetworkMode"]],
                         float(r["DL_bitrate"]) / 1000))
    return rows


def test_gnettrack_pipeline_matches_hand_computation(tmp_path):
    _need(TRACE)
    t = _thresholds(tmp_path)
    measurements = _import(TRACE)
    result = run_survey(measurements, None, SurveyConfig(thresholds=t))
    hand = _hand_rows(TRACE)
    cells = result.classified[result.classified["window"] == "all"]
    assert cells["samples"].sum() == len(hand)

    counts: dict[tuple[str, str], list[float]] = {}
    for cell, access, mbps in hand:
        counts.setdefault((cell, access), []).append(mbps)
    judged = {k: v for k, v in counts.items() if k[1] in ("5g_nsa", "4g")}
    (cell, access), speeds = max(judged.items(), key=lambda kv: (len(kv[1]), kv[0]))
    row = cells[(cells["cell"] == cell) & (cells["access"] == access)].iloc[0]
    target = 100.0 if access == "5g_nsa" else 40.0
    below = sum(s < target for s in speeds)
    n, z = len(speeds), t.rules.z
    p = below / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert row["samples"] == n
    assert row["below"] == below
    assert row["down_median_mbps"] == pytest.approx(statistics.median(speeds))
    assert row["share_below_lo"] == pytest.approx(max(0.0, centre - half))
    assert row["share_below_hi"] == pytest.approx(min(1.0, centre + half))
    expected = ("confirmed_weak" if centre - half > 0.5 else
                "likely_weak" if p > 0.5 or statistics.median(speeds) < target else "ok")
    if n < t.rules.min_samples:
        expected = "insufficient_data"
    if expected == "ok" and access == "5g_nsa":
        floor = sum(s < 30.0 for s in speeds) / n
        expected = "likely_weak" if floor > 0.05 else "ok"
    assert row["status"] == expected

    # 3G has no national target: counted, never judged.
    umts = cells[cells["access"] == "3g"]
    assert umts["samples"].sum() == sum(1 for _, a, _ in hand if a == "3g")
    assert set(umts["status_reason"]) <= {"no_threshold"}

    weak = cells[cells["status"].isin(["confirmed_weak", "likely_weak", "dead_spot"])]
    if not weak.empty:
        assert not result.weak_areas.empty
        assert result.weak_areas["cells"].sum() >= len(
            weak[["cell", "carrier", "access"]].drop_duplicates())
        assert set(result.weak_areas["cause"]) <= {
            "coverage", "interference", "congestion", "backhaul", "no_service", "unknown"}
    assert result.scorecards.empty
    assert (result.proposals["target_type"] == "weak_area").all()


def test_ookla_quadkeys_match_real_tiles():
    _need(OAHU)
    tiles = read_ookla_tiles(OAHU)
    assert len(tiles) == 892
    import pyogrio

    raw = pyogrio.read_dataframe(OAHU)
    for key, geom in zip(raw["quadkey"], raw.geometry, strict=True):
        west, south, east, north = geom.bounds
        assert tile_bounds(key) == pytest.approx((west, south, east, north), abs=1e-9)
    centres = raw.geometry.representative_point()
    assert list(quadkeys(centres.y.to_numpy(), centres.x.to_numpy())) == list(raw["quadkey"])


def test_ookla_compare_tile_by_tile():
    _need(OAHU)
    theirs = read_ookla_tiles(OAHU)
    first = theirs.iloc[0]
    inner = first.geometry.representative_point()
    rows = [
        {"probe_id": f"p{i}", "measured_at": "2026-11-02T03:00:00Z", "kind": "throughput_down",
         "tool": "iperf3", "carrier": "viettel", "access": "4g", "download_mbps": mbps,
         "lat": inner.y, "lon": inner.x, "position_source": "gps"}
        for i, mbps in enumerate([100.0, 200.0, 150.0])
    ]
    ours = ookla_tiles(measurements_frame(rows))
    assert list(ours["quadkey"]) == [first["quadkey"]]
    assert ours.iloc[0]["avg_d_kbps"] == 150_000 and ours.iloc[0]["tests"] == 3
    assert ours.iloc[0]["devices"] == 3
    both = compare_tiles(ours, theirs)
    assert len(both) == 1
    assert both.iloc[0]["diff_d_kbps"] == 150_000 - first["avg_d_kbps"]
    assert both.iloc[0]["ratio_d"] == pytest.approx(150_000 / first["avg_d_kbps"])
