"""The ward's layers (real OSM streets and the real 2025 ward boundary of Ô Chợ Dừa) and the place
facts attached to weak areas: centroid, geo: link, nearest service point, group and street."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from lomsong.analysis.layers import LayerError, read_layer
from lomsong.analysis.places import place_facts

DATA = Path(__file__).parents[1] / "data" / "layers"
STREETS = DATA / "osm_o_cho_dua_streets_extract.geojson"
WARD = DATA / "00190_o_cho_dua.geojson"

# Hand-drawn residential-group outlines (constructed for the test: no public tổ dân phố map
# exists), two squares inside the Ô Chợ Dừa extract.
GROUPS = gpd.GeoDataFrame(
    {"ten": ["Tổ dân phố 5", "Tổ dân phố 6"]},
    geometry=[box(105.8240, 21.0180, 105.8265, 21.0200), box(105.8265, 21.0180, 105.8290, 21.0200)],
    crs=4326)


def test_reads_real_osm_streets_keeping_lines_and_names() -> None:
    streets = read_layer(STREETS, "streets")
    assert streets.crs.to_epsg() == 4326 and len(streets) == 90
    assert set(streets.geom_type) == {"LineString"}
    assert "Phố Ô Chợ Dừa" in set(streets["name"]) and (streets["name"] == "").sum() == 24


def test_raw_osm_export_drops_points_and_buildings() -> None:
    raw = Path("/work/shared/realdata/streets/osm_hanoi_o_cho_dua_area_tags_export_2023.geojson")
    if not raw.is_file():
        pytest.skip("shared real data not present")
    streets = read_layer(raw, "streets")
    assert set(streets.geom_type) <= {"LineString", "MultiLineString"}
    assert len(streets) == 2256


@pytest.mark.parametrize("driver,suffix", [("GeoJSON", ".geojson"), ("GPKG", ".gpkg"),
                                           ("ESRI Shapefile", ".zip")])
def test_groups_from_each_format(tmp_path: Path, driver: str, suffix: str) -> None:
    path = tmp_path / f"groups{suffix}"
    if suffix == ".zip":
        GROUPS.to_crs(32648).to_file(tmp_path / "groups.shp", driver=driver, engine="pyogrio")
        with zipfile.ZipFile(path, "w") as archive:
            for part in tmp_path.glob("groups.*"):
                if part.suffix != ".zip":
                    archive.write(part, part.name)
    else:
        GROUPS.to_file(path, driver=driver, engine="pyogrio")
    groups = read_layer(path, "groups")
    assert groups.crs.to_epsg() == 4326 and list(groups["name"]) == list(GROUPS["ten"])
    assert groups.geometry.iloc[0].bounds == pytest.approx(GROUPS.geometry.iloc[0].bounds)


def test_groups_as_points(tmp_path: Path) -> None:
    path = tmp_path / "points.geojson"
    points = gpd.GeoDataFrame({"tdp": ["Tổ 5", "Tổ 6"]}, crs=4326,
                              geometry=[Point(105.825, 21.019), Point(105.828, 21.019)])
    points.to_file(path, driver="GeoJSON", engine="pyogrio")
    assert list(read_layer(path, "groups").geom_type) == ["Point", "Point"]


def test_bad_layers_name_the_file_and_feature(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match=r"missing\.geojson: file not found"):
        read_layer(tmp_path / "missing.geojson", "groups")
    unnamed = tmp_path / "unnamed.geojson"
    unnamed.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ten": "Tổ 1"},
         "geometry": {"type": "Point", "coordinates": [105.82, 21.02]}},
        {"type": "Feature", "properties": {"ten": None},
         "geometry": {"type": "Point", "coordinates": [105.83, 21.02]}}]}), encoding="utf-8")
    with pytest.raises(LayerError, match=r"unnamed.geojson: feature 1 has no name"):
        read_layer(unnamed, "groups")
    with pytest.raises(LayerError, match=r"feature 0 is a LineString"):
        read_layer(STREETS, "groups")
    with pytest.raises(LayerError, match="no street lines"):
        read_layer(WARD, "streets")
    text = tmp_path / "notes.txt"
    text.write_text("hello", encoding="utf-8")
    with pytest.raises(LayerError, match=r"notes.txt: expected GeoJSON"):
        read_layer(text, "streets")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    with pytest.raises(LayerError, match=r"broken\.zip: not a zip file"):
        read_layer(broken, "groups")


def test_place_facts_on_real_streets() -> None:
    streets = read_layer(STREETS, "streets")
    # an area straddling Phố Ô Chợ Dừa near its junction, and one outside every group
    areas = gpd.GeoDataFrame({"area_id": ["a1", "a2"]}, geometry=[
        box(105.8255, 21.0185, 105.8262, 21.0192), box(105.8300, 21.0240, 105.8304, 21.0243)],
        crs=4326)
    sites = gpd.GeoDataFrame({"name": ["UBND phường Ô Chợ Dừa"]},
                             geometry=[Point(105.8240, 21.0190)], crs=4326)
    facts = place_facts(areas, sites, streets=streets, groups=GROUPS.rename(columns={"ten": "name"}))
    a1, a2 = facts.loc["a1"], facts.loc["a2"]
    assert (a1["lat"], a1["lon"]) == pytest.approx((21.01885, 105.82585), abs=1e-5)
    assert a1["geo_uri"] == "geo:21.01885,105.82585"
    assert a1["site_name"] == "UBND phường Ô Chợ Dừa"
    assert 170 < a1["site_distance_m"] < 210          # 0.00185° of longitude at 21° N ≈ 192 m
    assert a1["group_name"] == "Tổ dân phố 5" and bool(a1["group_inside"])
    assert a1["street_name"] != "" and a1["street_distance_m"] < 300
    named = streets[streets["name"] != ""].to_crs(32648)
    centre = gpd.GeoSeries([Point(105.82585, 21.01885)], crs=4326).to_crs(32648).iloc[0]
    assert a1["street_name"] == named.loc[named.distance(centre).idxmin(), "name"]
    assert a2["group_name"] is pd.NA and a2["group_inside"] is pd.NA   # 440 m from the groups


def test_place_facts_without_layers_still_give_coordinates() -> None:
    areas = gpd.GeoDataFrame({"area_id": ["x"]}, geometry=[box(105.85, 21.02, 105.851, 21.021)],
                             crs=4326)
    sites = gpd.GeoDataFrame({"name": ["A"]}, geometry=[Point(105.85, 21.02)], crs=4326)
    facts = place_facts(areas, sites)
    assert facts.loc["x", "geo_uri"] == "geo:21.02050,105.85050"
    assert facts["street_name"].isna().all() and facts["group_name"].isna().all()
