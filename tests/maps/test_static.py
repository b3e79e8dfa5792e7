"""The PDF's static map: PNG at the asked DPI, metric scale bar, worst status per cell."""

from __future__ import annotations

import io
from pathlib import Path

import geopandas as gpd
import pytest
from mapkit import hexes, make_cells
from matplotlib.image import imread

from lomsong.maps.report_input import ReportInput
from lomsong.maps.static import nice_scale_length_m, render_static_map, worst_status_per_cell


def test_png_at_requested_dpi(survey: ReportInput, artifacts: Path) -> None:
    png = render_static_map(survey.cells, survey.weak_areas, survey.scorecards, survey.boundary,
                            lang="vi", dpi=80, size_in=(5.0, 4.0), title="Viettel · 4G")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    (artifacts / "static-map.png").write_bytes(png)
    height, width, _channels = imread(io.BytesIO(png)).shape
    assert (width, height) == (400, 320)


def test_empty_map_is_still_a_png() -> None:
    empty = ReportInput.empty()
    png = render_static_map(empty.cells, lang="en", dpi=50)
    assert png[:4] == b"\x89PNG"


@pytest.mark.parametrize(("width_m", "expected"), [(2300, 250), (600, 100), (40, 10),
                                                    (12000, 2000)])
def test_scale_length_is_round_and_short(width_m: float, expected: int) -> None:
    assert nice_scale_length_m(width_m) == expected


def test_worst_status_wins_but_not_enough_data_does_not() -> None:
    cells = make_cells(hexes(2), carriers=("viettel", "vnpt"), windows=("all", "offpeak"))
    cell_a, cell_b = sorted(set(cells["cell"]))
    status = {("viettel", cell_a): "ok", ("vnpt", cell_a): "confirmed_weak",
              ("viettel", cell_b): "insufficient_data", ("vnpt", cell_b): "ok"}
    cells["status"] = [status[(c, h)] if w == "all" else "dead_spot"
                       for c, h, w in zip(cells["carrier"], cells["cell"], cells["window"],
                                          strict=True)]
    worst = worst_status_per_cell(cells).set_index("cell")["status"]
    assert worst[cell_a] == "confirmed_weak"
    assert worst[cell_b] == "ok"


def test_a_cell_weak_at_peak_hours_is_coloured_weak() -> None:
    """Issue 14: an area decided at peak hours was drawn around cells coloured by their all-day
    status (green)."""
    cells = make_cells(hexes(1), carriers=("viettel",), windows=("all", "peak", "offpeak"))
    cells["status"] = cells["window"].map({"all": "ok", "peak": "confirmed_weak",
                                           "offpeak": "dead_spot"})
    assert list(worst_status_per_cell(cells)["status"]) == ["confirmed_weak"]


def test_accepts_a_metric_crs_input(survey: ReportInput) -> None:
    metric: gpd.GeoDataFrame = survey.cells.to_crs(3405)
    assert render_static_map(metric, dpi=40)[:4] == b"\x89PNG"
