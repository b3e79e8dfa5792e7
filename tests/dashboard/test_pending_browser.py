"""A period nobody has analysed yet, in real headless Chromium: the page says at once that its
analysis is being made, reloads itself, and shows the analysis when it is there."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from livecollector import live_collector

from lomsong.collector.app import create_app
from lomsong.collector.dashboard.survey import Survey, SurveyCache
from lomsong.collector.settings import Settings

from .conftest import OFFICER, add_users, seed_survey
from .test_dashboard_browser import ARGS, ARTIFACTS, CHROMIUM

pytestmark = [
    pytest.mark.parametrize("db_server", ["plain"], indirect=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)"),
]


@pytest.fixture
def held(migrated_url: str, conn: psycopg.Connection[Any]) -> Iterator[tuple[str, threading.Event]]:
    """A live collector whose analyses wait for the test's event."""
    add_users(conn)
    seed_survey(conn, days=2, walks=1)
    settings = Settings(database_url=migrated_url, pool_min_size=1, pool_max_size=4,
                        secret_key="pending-browser-" + "k" * 32, survey_first_wait_s=0.2)
    app = create_app(settings)
    cache: SurveyCache = app.state.survey_cache
    release = threading.Event()
    real = cache._compute

    def slow(*args: Any) -> Survey:
        assert release.wait(120)
        return real(*args)

    cache._compute = slow
    with live_collector(settings, app=app) as url:
        yield url, release
    release.set()


@pytest.mark.parametrize(("width", "height", "lang", "text"), [
    (1366, 768, "vi", "Đang phân tích"), (390, 844, "en", "The analysis is being made")])
def test_the_page_says_being_made_then_shows_the_analysis(
        held: tuple[str, threading.Event], width: int, height: int, lang: str,
        text: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    server, release = held
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height},
                                    is_mobile=width < 600)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("console", lambda m: problems.append(m.text)
                    if m.type == "error" and "503" not in m.text else None)
            page.goto(f"{server}/login?lang={lang}")
            page.fill("input[name=username]", OFFICER[0])
            page.fill("input[name=password]", OFFICER[1])
            page.click("button[type=submit]")
            page.wait_for_load_state()
            began = time.monotonic()
            page.goto(f"{server}/sites?lang={lang}")
            assert time.monotonic() - began < 2.0
            assert page.locator("[data-pending='1'] h1").inner_text() == text
            assert page.evaluate("document.scrollingElement.scrollWidth") <= width + 1
            page.screenshot(path=str(ARTIFACTS / f"pending-{width}x{height}.png"))
            release.set()
            # no click: the page reloads itself until the analysis is there
            page.locator("[data-made-at]").wait_for(timeout=60_000)
            assert page.locator("[data-pending]").count() == 0
            assert page.url.startswith(f"{server}/sites")
        finally:
            browser.close()
    assert problems == []
