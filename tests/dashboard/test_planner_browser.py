"""The planner in real headless Chromium at a laptop's and a phone's size: the walk's map is
visible and fits, and the GPX link downloads a file that parses as GPX 1.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from livecollector import live_collector

from lomsong.collector.settings import Settings

from .conftest import OFFICER, add_users, seed_survey
from .test_dashboard_browser import ARGS, ARTIFACTS, CHROMIUM
from .test_walk_plan import NS, check_gpx

pytestmark = [
    pytest.mark.parametrize("db_server", ["plain"], indirect=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)"),
]


@pytest.fixture
def server(migrated_url: str, conn: psycopg.Connection[Any]) -> Iterator[str]:
    add_users(conn)
    seed_survey(conn, days=3, walks=2)
    settings = Settings(database_url=migrated_url, pool_min_size=1, pool_max_size=4,
                        secret_key="planner-browser-" + "k" * 32)
    with live_collector(settings) as url:
        yield url


@pytest.mark.parametrize(("width", "height", "lang"), [(1366, 768, "vi"), (390, 844, "en")])
def test_planner_map_and_gpx_download(server: str, width: int, height: int, lang: str,
                                      tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    problems: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height},
                                    is_mobile=width < 600, accept_downloads=True)
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{server}/login?lang={lang}")
            page.fill("input[name=username]", OFFICER[0])
            page.fill("input[name=password]", OFFICER[1])
            page.click("button[type=submit]")
            page.wait_for_url(f"{server}/map")
            page.goto(f"{server}/planner?lang={lang}")
            walk_map = page.locator("svg#walk-map")
            walk_map.wait_for()
            walk_map.scroll_into_view_if_needed()
            assert walk_map.is_visible()
            box = walk_map.bounding_box()
            # as large as the window allows while the whole map fits on the screen at once
            assert box is not None and box["width"] >= min(width - 40, 0.8 * height, 700) * 0.95
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1
            assert 200 < box["height"] <= height
            stops = page.locator("svg#walk-map g.stop")
            assert stops.count() > 0 and stops.first.is_visible()
            circle = stops.first.locator("circle").bounding_box()
            assert circle is not None and circle["width"] > 10   # a stop big enough to see
            assert page.evaluate("document.scrollingElement.scrollWidth") <= width + 1
            page.screenshot(path=str(ARTIFACTS / f"planner-{width}x{height}.png"),
                            full_page=True)

            with page.expect_download() as info:
                page.locator("#gpx-link").click()
            download = info.value
            assert download.suggested_filename.endswith(".gpx")
            saved = tmp_path / download.suggested_filename
            download.save_as(saved)
            root = check_gpx(saved.read_bytes())
            waypoints = root.findall(NS + "wpt")
            assert len([w for w in waypoints if w.findtext(NS + "type") == "stop"]) == \
                stops.count()
        finally:
            browser.close()
    outside = [u for u in requests if urlsplit(u).hostname != "127.0.0.1"
               and not u.startswith(("data:", "about:"))]
    assert requests and outside == []
    assert problems == [], problems
