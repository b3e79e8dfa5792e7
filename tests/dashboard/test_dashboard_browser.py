"""The dashboard in real headless Chromium (Debian's /usr/bin/chromium, never downloaded).

A uvicorn server on a free loopback port serves a seeded synthetic survey; the browser signs in,
opens the map, toggles a carrier layer, opens a service point's popup and the fleet page, saves
screenshots to test-artifacts/, and every request it made must stay on 127.0.0.1.
"""

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

from lomsong import synthetic
from lomsong.collector.app import create_app
from lomsong.collector.settings import Settings

from .conftest import OFFICER, add_users, seed_survey

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
START_DEADLINE_S = 30.0

pytestmark = [
    pytest.mark.parametrize("db_server", ["plain"], indirect=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(migrated_url: str, conn: psycopg.Connection[Any]) -> Iterator[str]:
    add_users(conn)
    seed_survey(conn, days=7, walks=3)
    settings = Settings(database_url=migrated_url, pool_min_size=1, pool_max_size=4,
                        secret_key="browser-test-" + "k" * 32)
    port = _free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")
    instance = uvicorn.Server(config)
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


def test_officer_uses_the_dashboard_offline(server: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    problems: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="vi-VN")
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))

            page.goto(f"{server}/map")
            assert "/login" in page.url
            page.fill("input[name=username]", OFFICER[0])
            page.fill("input[name=password]", OFFICER[1])
            page.click("button[type=submit]")
            page.wait_for_url(f"{server}/map")

            frame = page.frame_locator("iframe.map")
            frame.locator(".leaflet-container").wait_for()
            frame.locator(".leaflet-marker-pane > .awesome-marker").first.wait_for()
            page.screenshot(path=str(ARTIFACTS / "dashboard-map.png"))

            # the layer list is collapsed: open it as a person would, by pointing at its button
            frame.locator(".leaflet-control-layers").hover()
            layer = frame.locator(".leaflet-control-layers-overlays label", has_text="MobiFone")
            box = layer.first.locator("input[type=checkbox]")
            assert not box.is_checked()
            box.check()
            assert box.is_checked()
            page.screenshot(path=str(ARTIFACTS / "dashboard-map-mobifone.png"))
            page.mouse.move(5, 5)  # leave the layer list: it folds away again

            markers = frame.locator(".leaflet-marker-pane > .awesome-marker")
            assert markers.count() == len(synthetic.SERVICE_POINTS)
            markers.first.click()
            popup = frame.locator(".leaflet-popup-content")
            popup.wait_for()
            text = popup.inner_text()
            assert any(site.name in text for site in synthetic.SERVICE_POINTS), text
            assert "Viettel" in text and "Mbps" in text
            page.screenshot(path=str(ARTIFACTS / "dashboard-popup.png"))

            page.goto(f"{server}/fleet")
            assert "synthetic-pi" in page.inner_text("table.data")
            page.screenshot(path=str(ARTIFACTS / "dashboard-fleet.png"), full_page=True)

            page.goto(f"{server}/sites?lang=en")
            assert "Service points" in page.inner_text("h1")
            page.screenshot(path=str(ARTIFACTS / "dashboard-sites-en.png"), full_page=True)
        finally:
            browser.close()
    outside = [u for u in requests if urlsplit(u).hostname != "127.0.0.1"
               and not u.startswith(("data:", "about:"))]
    assert requests and outside == []
    assert problems == [], problems
