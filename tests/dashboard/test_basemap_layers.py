"""The dashboard map's optional basemap (a tile server on loopback, tiles cached on disk by the
collector) and the ward's residential groups drawn under the cells; in Chromium, a click on a
cell still opens its popup with both layers on."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import shapely
import shapely.geometry
from fastapi.testclient import TestClient
from livecollector import live_collector
from PIL import Image
from pydantic import ValidationError
from tileserver import tile_server as serve_tiles

from lomsong import synthetic
from lomsong.collector.app import create_app
from lomsong.collector.dashboard.security import hash_password
from lomsong.collector.settings import Settings
from lomsong.collector.storage.groups import replace_groups
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.collector.storage.scope import Scope
from lomsong.collector.storage.sites import ServicePoint, replace_sites
from lomsong.collector.storage.streets import get_streets, replace_streets
from lomsong.collector.storage.users import create_user
from lomsong.collector.storage.wards import save_ward

from .conftest import sign_in
from .test_dashboard_browser import ARGS, CHROMIUM, CLICK_AT, PICK_CELL

ONE_TIER = pytest.mark.parametrize("db_server", ["plain"], indirect=True)
WARD = "99001"
USER = ("ward.officer", "mat-khau-phuong-99")
ATTRIBUTION = "© Nền thử <b>nghiệm</b> & co"
TEAL = (0, 128, 128)


@pytest.fixture
def served() -> Iterator[tuple[str, list[str]]]:
    with serve_tiles(TEAL) as both:
        yield both


@pytest.fixture
def tile_server(served: tuple[str, list[str]]) -> str:
    return served[0] + "/{z}/{x}/{y}.png"


@pytest.fixture
def asked(served: tuple[str, list[str]]) -> list[str]:
    return served[1]


def _seed_ward(conn: psycopg.Connection[Any]) -> None:
    """A ward record with the synthetic survey, its service points and two residential groups
    (the west and east halves of the ward)."""
    ring = synthetic.ward_boundary()
    boundary = {"type": "Polygon", "coordinates": [ring]}
    save_ward(conn, WARD, "Phường thử", "01", "Thành phố Hà Nội", json.dumps(boundary))
    scope = Scope.ward(WARD, write=True)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=3)
    records = [StoredRecord(m, m.measured_at, m.clock)
               for m in synthetic.survey(start, days=3, walks=2)]
    for i in range(0, len(records), 2_000):
        ingest(conn, records[i:i + 2_000], datetime.now(UTC), WARD)
    replace_sites(conn, [ServicePoint(p.site_id, p.name, p.site_type, p.address, p.lonlat[1],
                                      p.lonlat[0]) for p in synthetic.SERVICE_POINTS], scope)
    shape = shapely.Polygon(ring)
    x0, y0, x1, y1 = shape.bounds
    halves = [shape.intersection(shapely.box(x0, y0, (x0 + x1) / 2, y1)),
              shape.intersection(shapely.box((x0 + x1) / 2, y0, x1, y1))]
    replace_groups(conn, scope, [(f"to-{i + 1}", f"Tổ {i + 1} <x>", json.dumps(
        shapely.geometry.mapping(h))) for i, h in enumerate(halves)])
    streets = shapely.MultiLineString([[(x0, (y0 + y1) / 2), (x1, (y0 + y1) / 2)],
                                       [((x0 + x1) / 2, y0), ((x0 + x1) / 2, y1)]])
    replace_streets(conn, scope, json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Phố <Mẫu>"},
         "geometry": shapely.geometry.mapping(streets)}]}))
    create_user(conn, USER[0], hash_password(USER[1]), "officer", ward_code=WARD)


def _settings(url: str, tmp_path: Path, tiles: str | None) -> Settings:
    return Settings(database_url=url, pool_min_size=1, pool_max_size=4, pool_timeout_s=5,
                    secret_key="basemap-test-" + "x" * 32, data_dir=tmp_path,
                    basemap_url=tiles, basemap_attribution=ATTRIBUTION if tiles else "")


def test_a_basemap_needs_its_attribution(tmp_path: Path) -> None:
    assert Settings().basemap() is None
    with pytest.raises(ValidationError, match="tiles need their attribution"):
        Settings(basemap_url="http://127.0.0.1:9/{z}/{x}/{y}.png")
    with pytest.raises(ValidationError, match=r"must contain \{z\}"):
        Settings(basemap_url="http://127.0.0.1:9/tiles.png", basemap_attribution="© x")
    source = Settings(basemap_url="http://127.0.0.1:9/{z}/{x}/{y}.png",
                      basemap_attribution="© x", data_dir=tmp_path).basemap()
    assert source is not None and source.cache_dir == tmp_path / "tiles"


@ONE_TIER
def test_tiles_through_the_collector_cached_on_disk(migrated_url: str, tmp_path: Path,
                                                     conn: psycopg.Connection[Any],
                                                     tile_server: str, asked: list[str]) -> None:
    _seed_ward(conn)
    with TestClient(create_app(_settings(migrated_url, tmp_path, tile_server)),
                    follow_redirects=False) as client:
        assert client.get("/map/tiles/15/26018/14425.png").status_code == 303  # signed in only
        assert sign_in(client, USER).status_code == 303
        frame = client.get("/map/frame?lang=en").text
        assert '"/map/tiles/{z}/{x}/{y}.png"' in frame and "127.0.0.1:" not in frame
        # escaped for Leaflet, which writes the attribution as HTML: shown as text
        assert "\\u0026lt;b\\u0026gt;nghi" in frame and "<b>nghi" not in frame
        tile = client.get("/map/tiles/15/26018/14425.png")
        assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(tile.content)).getpixel((9, 9)) == TEAL
        assert asked == ["/15/26018/14425.png"]
        assert client.get("/map/tiles/15/26018/14425.png").content == tile.content
        assert asked == ["/15/26018/14425.png"]            # the second from disk
        assert list((tmp_path / "tiles").rglob("14425.png"))
        assert client.get("/map/tiles/3/8/1.png").status_code == 404  # no such tile
        assert client.get("/map/tiles/25/1/1.png").status_code == 404
        assert client.get("/map/tiles/15/26010/14463.png").status_code == 404  # 45 km away
        assert client.get("/map/tiles/19/1/1.png").status_code == 404          # the Arctic
        assert client.get("/map/tiles/8/204/113.png").status_code == 200       # an overview
        assert len(asked) == 2


def test_tile_fetches_refuse_redirects_placeholders_and_a_full_cache(
        tmp_path: Path, tile_server: str, monkeypatch: pytest.MonkeyPatch, asked: list[str]) -> None:
    from lomsong.maps import tiles

    with pytest.raises(ValidationError, match=r"only \{z\}, \{x\} and \{y\}"):
        Settings(basemap_url="http://{s}.127.0.0.1:9/{z}/{x}/{y}.png", basemap_attribution="© x")
    base = tile_server.rsplit("/", 3)[0]
    moved = tiles.TileSource(base + "/moved/{z}/{x}/{y}.png", "© x", tmp_path / "a")
    with pytest.raises(tiles.TileError, match="redirect"):
        moved.tile_bytes(1, 0, 0)
    asked.clear()
    source = tiles.TileSource(tile_server, "© x", tmp_path / "b")
    monkeypatch.setattr(tiles, "MAX_CACHED_TILES", 2)
    source.tile_bytes(1, 0, 0)
    source.tile_bytes(1, 1, 0)
    with pytest.raises(tiles.TileError, match="tile cache full"):
        source.tile_bytes(1, 0, 1)
    assert len(source.tile_bytes(1, 0, 0)) > 0  # cached tiles are still served
    assert asked == ["/1/0/0.png", "/1/1/0.png"]


@ONE_TIER
def test_no_basemap_by_default_and_groups_under_the_cells(migrated_url: str, tmp_path: Path,
                                                          conn: psycopg.Connection[Any],
                                                          tile_server: str, asked: list[str]) -> None:
    _seed_ward(conn)
    with TestClient(create_app(_settings(migrated_url, tmp_path, None)),
                    follow_redirects=False) as client:
        assert sign_in(client, USER).status_code == 303
        frame = client.get("/map/frame?lang=vi").text
        assert "/map/tiles/" not in frame and "tileLayer" not in frame
        assert client.get("/map/tiles/15/26018/14425.png").status_code == 404
        data = json.loads(re.search(r'id="lomsong-map-data">(.*?)</script>', frame,
                                    re.S).group(1))  # type: ignore[union-attr]
        # streets and groups, neither of them the ward boundary (`outlines`)
        assert len(data["backdrop"]) == 2 and not set(data["backdrop"]) & set(data["outlines"])
        assert "<x>" not in frame and "Tổ 1" not in frame and "Mẫu>" not in frame  # lines only
        # added before the boundary, and before the cells map.js draws on load
        assert max(frame.index(f"var {n} ") for n in data["backdrop"]) < frame.index(
            f"var {data['outlines'][0]} ")
    assert asked == []                                    # nothing left the machine


def _backdrop(frame: str) -> list[dict[str, Any]]:
    """The geometries drawn under the cells, one per layer: streets, then groups."""
    data = json.loads(re.search(r'id="lomsong-map-data">(.*?)</script>', frame,
                                re.S).group(1))  # type: ignore[union-attr]
    layers = []
    for name in data["backdrop"]:
        call = f"{name}_add("
        added, _end = json.JSONDecoder().raw_decode(frame, frame.index(call) + len(call))
        layers.append(added["features"][0]["geometry"] if "features" in added else added)
    return layers


@ONE_TIER
def test_layers_are_read_only_to_draw_the_map_and_a_new_layer_draws_it_again(
        migrated_url: str, tmp_path: Path, conn: psycopg.Connection[Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from lomsong.collector.dashboard import pages_map

    _seed_ward(conn)
    reads: list[str] = []
    for name in ("get_streets", "list_groups"):  # the real readers, counted
        real = getattr(pages_map, name)
        monkeypatch.setattr(pages_map, name, lambda c, s, real=real, name=name: (
            reads.append(name), real(c, s))[1])
    scope = Scope.ward(WARD, write=True)
    ring = synthetic.ward_boundary()
    with TestClient(create_app(_settings(migrated_url, tmp_path, None)),
                    follow_redirects=False) as client:
        assert sign_in(client, USER).status_code == 303
        streets, halves = _backdrop(client.get("/map/frame").text)
        assert sorted(reads) == ["get_streets", "list_groups"]
        assert client.get("/map/frame").status_code == 200 and len(reads) == 2  # not read again

        replace_groups(conn, scope, [("ca-phuong", "Cả phường", json.dumps(
            {"type": "Polygon", "coordinates": [ring]}))])
        same_streets, whole = _backdrop(client.get("/map/frame").text)
        assert same_streets == streets and whole != halves and len(reads) == 4

        new_street = {"type": "LineString", "coordinates": ring[:2]}
        replace_streets(conn, scope, json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"name": "Phố mới"}, "geometry": new_street}]}))
        drawn = _backdrop(client.get("/map/frame").text)
        assert [drawn[0]["type"], [list(p) for p in drawn[0]["coordinates"]]] == [
            "LineString", [list(p) for p in ring[:2]]]
        assert drawn[1] == whole and len(reads) == 6

        replace_groups(conn, scope, [])
        assert _backdrop(client.get("/map/frame").text) == drawn[:1]
        assert len(reads) == 8
        client.get("/map/frame")
        assert len(reads) == 8


@pytest.fixture
def live(migrated_url: str, tmp_path: Path, conn: psycopg.Connection[Any],
         tile_server: str) -> Iterator[str]:
    _seed_ward(conn)
    with live_collector(_settings(migrated_url, tmp_path, tile_server)) as url:
        yield url


@ONE_TIER
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing")
def test_cells_still_open_their_popup_with_basemap_and_groups(live: str, asked: list[str]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    requests: list[str] = []
    problems: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="vi-VN")
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{live}/login")
            page.fill("input[name=username]", USER[0])
            page.fill("input[name=password]", USER[1])
            page.click("button[type=submit]")
            page.wait_for_url(f"{live}/map")
            frame = page.frame_locator("iframe.map")
            frame.locator(".lomsong-what").wait_for()
            frame.locator(".leaflet-tile-loaded").first.wait_for()
            attribution = frame.locator(".leaflet-control-attribution").inner_text()
            assert "© Nền thử <b>nghiệm</b> & co" in attribution
            clicked = 0
            for in_weak in (False, True):
                cell = frame.locator("body").evaluate(PICK_CELL, in_weak)
                if cell is None:
                    continue
                clicked += 1
                frame.locator("body").evaluate(CLICK_AT, cell)
                popup = frame.locator(".leaflet-popup-content")
                popup.wait_for()
                assert cell["id"] in popup.inner_text()
                frame.locator(".leaflet-popup-close-button").click()
                popup.wait_for(state="detached")
            assert clicked >= 1, "no cell to click"
        finally:
            browser.close()
    tiles = [u for u in requests if "/map/tiles/" in u]
    assert tiles and all(urlsplit(u).netloc == urlsplit(live).netloc for u in tiles)
    assert len(asked) >= 1                  # the collector fetched them, not Chromium
    assert problems == [], problems


@ONE_TIER
def test_streets_loaded_by_the_cli(migrated_url: str, conn: psycopg.Connection[Any],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    from lomsong.cli import main

    streets = Path(__file__).resolve().parents[1] / "data" / "layers" / \
        "osm_o_cho_dua_streets_extract.geojson"
    argv = ["wards", "streets", WARD, str(streets), "--database-url", migrated_url]
    assert main(argv) == 1
    assert "does not exist" in capsys.readouterr().err            # no such ward yet
    save_ward(conn, WARD, "Phường thử", "01", "Thành phố Hà Nội", None)
    assert main(argv) == 0
    count = int(capsys.readouterr().out.split("\t")[1].split()[0])
    stored = json.loads(get_streets(conn, Scope.ward(WARD)) or "{}")
    assert count == len(stored["features"]) > 0
    assert {f["geometry"]["type"] for f in stored["features"]} <= {"LineString",
                                                                   "MultiLineString"}
    assert get_streets(conn, Scope.ward("99002")) is None
    assert get_streets(conn, Scope.city_wide()) is None
