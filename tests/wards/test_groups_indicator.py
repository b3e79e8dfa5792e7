"""Residential groups built from a real ward outline (Định Công, 00316), read from the three
file formats, and the plan's indicator computed from the analysis' cell statuses."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3
import pandas as pd
import pytest
import shapely

from lomsong.analysis.cells import cell_stats
from lomsong.analysis.classify import classify_cells
from lomsong.analysis.groups import groups_frame, read_groups
from lomsong.analysis.indicator import group_status, indicator, indicator_series
from lomsong.analysis.load import measurements_frame
from lomsong.analysis.thresholds import Thresholds, load_thresholds

from .conftest import quadrant_groups


def spread(cell: str, speeds: list[float | None], *, access: str = "4g",
           error: str | None = None) -> list[dict[str, Any]]:
    """One Viettel download test per value at the centre of `cell`, on alternating days of
    November 2026 at 09:00 and 15:00 local time (distinct time slots)."""
    lat, lon = h3.cell_to_latlng(cell)
    rows = []
    for i, mbps in enumerate(speeds):
        when = datetime(2026, 11, 2 + i // 2, 2 if i % 2 == 0 else 8, i % 60, tzinfo=UTC)
        rows.append({"probe_id": "walk-1", "measured_at": when.isoformat(),
                     "kind": "throughput_down", "tool": "iperf3", "carrier": "viettel",
                     "access": access, "download_mbps": mbps, "error_kind": error, "lat": lat,
                     "lon": lon, "position_source": "gps", "source": "synthetic"})
    return rows


def frame(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    return measurements_frame(rows)


@pytest.fixture(scope="module")
def thresholds() -> Thresholds:
    return load_thresholds()


@pytest.fixture(scope="module")
def groups() -> gpd.GeoDataFrame:
    return quadrant_groups()


def _inner_cell(shape: shapely.Geometry) -> str:
    point = shape.representative_point()
    return str(h3.latlng_to_cell(point.y, point.x, 10))


def _write(groups: gpd.GeoDataFrame, folder: Path, kind: str) -> Path:
    if kind == "geojson":
        path = folder / "groups.geojson"
        groups.to_file(path, driver="GeoJSON")
    elif kind == "gpkg":
        path = folder / "groups.gpkg"
        groups.to_file(path, driver="GPKG")
    else:
        shp = folder / "shp"
        shp.mkdir()
        groups.to_file(shp / "groups.shp", driver="ESRI Shapefile", encoding="utf-8")
        path = folder / "groups.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for part in shp.iterdir():
                archive.write(part, part.name)
    return path


@pytest.mark.parametrize("kind", ["geojson", "gpkg", "shapefile"])
def test_groups_are_read_from_each_format(groups: gpd.GeoDataFrame, tmp_path: Path,
                                          kind: str) -> None:
    read = read_groups(_write(groups, tmp_path, kind))
    assert read["group_id"].tolist() == ["TDP1", "TDP2", "TDP3", "TDP4"]
    assert read["name"].tolist()[0] == "Tổ dân phố 1"
    for got, want in zip(read.geometry, groups.geometry, strict=True):
        assert got.symmetric_difference(want).area < 1e-9


def test_a_point_per_group_becomes_a_disk(groups: gpd.GeoDataFrame) -> None:
    points = groups.assign(geometry=groups.geometry.representative_point())
    disks = groups_frame(points, "points.geojson", point_radius_m=100)
    area_m2 = disks.to_crs(32648).area
    assert ((area_m2 > 3.1e4) & (area_m2 < 3.15e4)).all()  # pi * 100 m ** 2, as polygons


@pytest.mark.parametrize(("change", "message"), [
    (lambda g: g.drop(columns="name"), "name column"),
    (lambda g: g.assign(group_id=["TDP1"] * 4), "'TDP1' appears more than once"),
    (lambda g: g.assign(geometry=g.geometry.boundary), "polygon or a point, got"),
    (lambda g: g.assign(name=["", "b", "c", "d"]), "feature 1, name"),
    (lambda g: g.set_crs(None, allow_override=True), "no coordinate reference system"),
])
def test_bad_groups_are_refused_naming_the_feature(groups: gpd.GeoDataFrame, change: object,
                                                   message: str) -> None:
    with pytest.raises(ValueError, match=message):
        groups_frame(change(groups), "groups.geojson")  # type: ignore[operator]


def test_a_file_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "groups.csv"
    path.write_text("group_id,name\n")
    with pytest.raises(ValueError, match=r"expected \.geojson"):
        read_groups(path)


def test_the_indicator_as_the_plan_words_it(groups: gpd.GeoDataFrame,
                                            thresholds: Thresholds) -> None:
    cells = [_inner_cell(s) for s in groups.geometry]
    hexes = gpd.GeoSeries([shapely.Polygon([(x, y) for y, x in h3.cell_to_boundary(c)])
                           for c in cells], crs=4326)
    for i, hexagon in enumerate(hexes):  # each test cell lies in one group only
        assert groups.geometry.intersects(hexagon).tolist() == [j == i for j in range(4)]
    dead = {"error": "no_service"}
    before = frame(spread(cells[0], [None] * 4, **dead) + spread(cells[1], [None] * 4, **dead)
                   + spread(cells[2], [80.0] * 6))
    after = frame(spread(cells[0], [80.0] * 6) + spread(cells[0], [None] * 4, access="5g_nsa",
                                                         **dead)
                  + spread(cells[1], [5.0] * 6))
    start = group_status(groups, classify_cells(cell_stats(before, thresholds=thresholds),
                                                thresholds), carriers=["viettel"])
    now = group_status(groups, classify_cells(cell_stats(after, thresholds=thresholds),
                                              thresholds), carriers=["viettel"])
    assert start["status"].tolist() == ["dead_spot", "dead_spot", "ok", "insufficient_data"]
    # TDP1: 4G meets the target now (5G still fails there: coverage by any mobile access).
    assert now["status"].tolist() == ["ok", "weak", "insufficient_data", "insufficient_data"]
    result = indicator(start, now).iloc[0].to_dict()
    assert result == {"carrier": "viettel", "dead_at_start": 2, "covered": 1, "still_dead": 0,
                      "weak": 1, "not_proven": 0, "share": 0.5}


def test_the_indicator_over_time_and_with_no_dead_spot(groups: gpd.GeoDataFrame) -> None:
    def status(values: list[str]) -> pd.DataFrame:
        return pd.DataFrame({"group_id": ["TDP1", "TDP2"], "carrier": ["vnpt", "vnpt"],
                             "status": values})

    base = status(["dead_spot", "dead_spot"])
    series = indicator_series(base, {"2026-Q1": status(["insufficient_data", "dead_spot"]),
                                     "2026-Q2": status(["ok", "ok"])})
    assert series[["period", "covered", "not_proven", "share"]].to_dict("records") == [
        {"period": "2026-Q1", "covered": 0, "not_proven": 1, "share": 0.0},
        {"period": "2026-Q2", "covered": 2, "not_proven": 0, "share": 1.0}]
    none_dead = indicator(status(["ok", "weak"]), status(["ok", "ok"])).iloc[0]
    assert none_dead["dead_at_start"] == 0 and none_dead["share"] is None
