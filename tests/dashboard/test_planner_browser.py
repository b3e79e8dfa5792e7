"""The planner in real headless Chromium at a laptop's and a phone's size: the walk's map is
visible and fits, and the GPX link downloads a file that parses as GPX 1.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import uvicorn

from lomsong.collector.app import create_app
from lomsong.collector.settings import Settings

from .conftest import OFFICER, add_users, seed_survey
from .test_walk_plan import NS, check_gpx

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
START_DEADLINE_S = 30.0

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
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    instance = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                             log_level="warning", lifespan="on"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_DEADLINE_S
    while not instance.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=START_DEADLINE_S)


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
            assert box is not None and box["width"] >= min(width - 40, 700) * 0.9
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1
            assert box["height"] > 200
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
