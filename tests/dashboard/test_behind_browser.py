"""From a cell on the map to its measurements and their CSV, in real headless Chromium.

The officer opens the map, clicks a cell inside the ward boundary, follows the popup's
"Đo đạc ở ô này" link (it opens in the dashboard's window, not in the map's frame), sees the
rows, keeps the failed tests only, and downloads the CSV. A test in that cell carries a
formula as its service-point id and markup as its error message: the page shows them as text,
no dialog opens, and the CSV cell starts with a quote. The page fits a 390 px phone.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import h3
import psycopg
import pytest
from livecollector import live_collector

from lomsong.collector.settings import Settings
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.probe.record import Access, Carrier, ErrorKind, Kind, Measurement, PositionSource
from tests.security.browserkit import ARGS, CHROMIUM, Watch

from .conftest import OFFICER, add_users, seed_survey
from .test_dashboard_browser import CLICK_AT, PICK_CELL

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HOSTILE_ID = '=HYPERLINK("http://evil.invalid","x")'
HOSTILE_MESSAGE = '<img src=x onerror=alert(1)><script>alert(2)</script>'

pytestmark = [
    pytest.mark.parametrize("db_server", ["plain"], indirect=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)"),
]


def _plant(conn: psycopg.Connection[Any], cell: str, carrier: str, access: str) -> None:
    """Two failed tests with hostile text at the centre of `cell`."""
    lat, lon = h3.cell_to_latlng(cell)
    now = datetime.now(UTC).replace(microsecond=0)
    tests = [Measurement(probe_id="pi-hostile", measured_at=now - timedelta(minutes=2 + i),
                         kind=Kind.THROUGHPUT_DOWN, tool="iperf3", carrier=Carrier(carrier),
                         access=Access(access), error_kind=ErrorKind.NO_SERVICE,
                         error_message=HOSTILE_MESSAGE, lat=lat, lon=lon,
                         position_source=PositionSource.GPS, site_id=HOSTILE_ID)
             for i in range(2)]
    ingest(conn, [StoredRecord(measurement=m, time=m.measured_at, clock=m.clock) for m in tests],
           datetime.now(UTC))


def test_from_a_cell_to_its_measurements_and_csv(migrated_url: str,
                                                 conn: psycopg.Connection[Any]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    add_users(conn)
    seed_survey(conn, days=7, walks=3)
    settings = Settings(database_url=migrated_url, pool_min_size=1, pool_max_size=4,
                        secret_key="browser-test-" + "k" * 32)
    with live_collector(settings) as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 768},
                                          locale="vi-VN", accept_downloads=True)
            page = context.new_page()
            watch = Watch(page)
            page.goto(f"{base}/login")
            page.fill("input[name=username]", OFFICER[0])
            page.fill("input[name=password]", OFFICER[1])
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/map")
            frame = page.frame_locator("iframe.map")
            frame.locator(".lomsong-what").wait_for()

            cell = frame.locator("body").evaluate(PICK_CELL, False)
            assert cell is not None, "no clickable cell inside the ward boundary"
            shown = frame.locator(".leaflet-container").get_attribute("data-shown")
            carrier, access, _window = shown.split("|")
            _plant(conn, cell["id"], carrier, access)

            frame.locator("body").evaluate(CLICK_AT, cell)
            link = frame.locator(".leaflet-popup-content a.lomsong-drill")
            link.wait_for()
            assert link.inner_text() == "Đo đạc ở ô này"
            assert link.get_attribute("target") == "_top"
            link.click()
            page.wait_for_url(f"{base}/measurements?*")
            assert f"id={cell['id']}" in page.url and f"carrier={carrier}" in page.url
            assert cell["id"] in page.locator("h1").inner_text()
            rows = page.locator("table.measurements tbody tr")
            assert rows.count() >= 3
            assert HOSTILE_MESSAGE not in page.content()
            first = rows.first.inner_text()
            assert "pi-hostile" in first and HOSTILE_ID in first
            page.screenshot(path=str(ARTIFACTS / "measurements-cell.png"), full_page=True)

            page.select_option("select[name=outcome]", "failed")
            page.click("form.period button[type=submit]")
            page.wait_for_url("**outcome=failed**")
            failed = page.locator("table.measurements tbody tr")
            assert failed.count() >= 2
            assert failed.count() == page.locator("table.measurements tbody tr.failed").count()

            with page.expect_download() as download:
                page.click("p.exports a:text('CSV')")
            saved = Path(download.value.path())
            assert download.value.suggested_filename.endswith(".csv")
            table = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
            assert len(table) == failed.count()
            assert all(r["error_kind"] for r in table)
            mine = [r for r in table if r["probe_id"] == "pi-hostile"]
            assert len(mine) == 2
            assert {r["site_id"] for r in mine} == {"'" + HOSTILE_ID}
            assert {r["error_message"] for r in mine} == {HOSTILE_MESSAGE}
            assert {r["carrier"] for r in table} == {carrier}

            phone = context.new_page()
            phone.set_viewport_size({"width": 390, "height": 844})
            phone.goto(page.url)
            width = phone.evaluate("document.scrollingElement.scrollWidth")
            phone.screenshot(path=str(ARTIFACTS / "measurements-phone.png"), full_page=True)
            assert width <= 390 + 1, f"the page is {width} px wide"
        finally:
            browser.close()
    assert watch.dialogs == [] and watch.errors == [], (watch.dialogs, watch.errors)
