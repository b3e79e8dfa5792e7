"""The volunteer's flow in real headless Chromium (Debian's /usr/bin/chromium, never downloaded).

The collector runs on a loopback port; the browser opens the QR link, consents, runs the test
against the collector and the records arrive in the database as browser records of the link's
ward and service point; the ward officer then sees them on the dashboard's map, as their own
layer at that service point. A second phone loses its network mid-walk: its results wait in IndexedDB
and are sent, with the same ids, when the network returns. Abuse: an altered link and a flood.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from livecollector import free_port, live_collector

from lomsong.collector.phone.enrol import sign_token
from lomsong.collector.settings import Settings
from lomsong.collector.storage.enrolments import create_enrolment
from tests.dashboard.conftest import OFFICER, add_users

from .conftest import SECRET, WARD

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 60_000
HERE = {"latitude": 21.0182, "longitude": 105.8291, "accuracy": 12.0}

pytestmark = [
    pytest.mark.parametrize("db_server", ["plain"], indirect=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)"),
]


def _link(conn: psycopg.Connection[Any], site: str | None) -> str:
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
    made = create_enrolment(conn, ward=WARD, site_id=site, label="poster", expires_at=expires)
    return sign_token(SECRET, made.id, int(expires.timestamp()))


def _settings(url: str, **overrides: Any) -> Settings:
    return Settings(database_url=url, pool_min_size=1, pool_max_size=4, secret_key=SECRET,
                    **overrides)


def test_volunteer_measures_at_a_service_point(ward: psycopg.Connection[Any],
                                               migrated_url: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    token = _link(ward, "ubnd")
    add_users(ward)
    requests: list[str] = []
    problems: list[str] = []
    with live_collector(_settings(migrated_url)) as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 412, "height": 915},
                                          locale="vi-VN", geolocation=HERE,
                                          permissions=["geolocation"])
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))

            page.goto(f"{base}/do?t={token}")  # what the QR code holds
            assert "UBND phường Đống Đa" in page.inner_text("#place")
            assert "Không thu thập tên" in page.inner_text("#consent")
            page.select_option("#carrier", "viettel")
            page.check("input[name=access][value='4g']")
            page.fill("#cap", "300")
            page.screenshot(path=str(ARTIFACTS / "phone-consent.png"), full_page=True)
            page.click("#start")
            page.wait_for_selector("#status:has-text('Đã gửi kết quả')", timeout=WAIT_MS)
            assert "Mbit/s" in page.inner_text("#figures")
            assert page.inner_text("#verdict")
            assert page.inner_text("#queue") == ""
            page.screenshot(path=str(ARTIFACTS / "phone-result.png"), full_page=True)
            _officer_sees_the_result_on_the_map(browser, base, problems)
        finally:
            browser.close()
    rows = ward.execute(
        "SELECT m.kind, m.source, m.site_id, m.carrier, m.access, m.position_source, m.lat,"
        " m.accuracy_m, m.error_kind, m.download_mbps, m.upload_mbps, m.rtt_ms, m.bytes_used,"
        " m.raw::jsonb -> 'method' ->> 'name', e.ward"
        " FROM measurements m JOIN browser_records b ON b.measurement_id = m.id"
        " JOIN enrolments e ON e.id = b.enrolment_id ORDER BY m.kind").fetchall()
    assert [r[0] for r in rows] == ["latency", "throughput_down", "throughput_up"]
    for row in rows:
        assert row[1:8] == ("browser", "ubnd", "viettel", "4g", "browser", 21.0182, 12.0)
        assert row[8] is None, row
        assert row[13:] == ("http-parallel", WARD)
    assert rows[0][11] > 0 and rows[1][9] > 0 and rows[2][10] > 0
    assert 0 < rows[1][12] <= 150_000_000 and 0 < rows[2][12] <= 300_000_000
    outside = [u for u in requests if urlsplit(u).hostname != "127.0.0.1"]
    assert requests and outside == []
    assert problems == [], problems


# In the officer's map frame: every phone result's popup, opened through Leaflet, as text.
_POPUPS = """() => {
  const map = Object.values(window).find(v => v instanceof L.Map);
  const found = [];
  map.eachLayer(layer => {
    if (layer instanceof L.CircleMarker && layer.getPopup()) {
      layer.openPopup();
      const at = layer.getLatLng();
      found.push({lat: at.lat, lon: at.lng,
                  text: layer.getPopup().getElement().innerText});
    }
  });
  return found;
}"""


def _officer_sees_the_result_on_the_map(browser: Any, base: str, problems: list[str]) -> None:
    """The ward officer signs in; the map page counts the phone's records apart and its map frame
    draws them as their own layer, at the service point, named with it."""
    page = browser.new_page(locale="vi-VN")
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{base}/login")
    page.fill("input[name=username]", OFFICER[0])
    page.fill("input[name=password]", OFFICER[1])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/map")
    phones = page.locator("table.sources tr", has_text="Điện thoại và trình duyệt")
    assert phones.locator("td").all_inner_texts() == [
        "Điện thoại và trình duyệt", "lomsong-web", "3", "100%", "Không"]
    frame = page.frame_locator("iframe.map")
    frame.locator(".leaflet-control-layers").hover()
    assert frame.get_by_text("Kết quả từ điện thoại (trình duyệt)").is_visible()
    inner = next(f for f in page.frames if "/map/frame" in f.url)
    popups = inner.evaluate(_POPUPS)
    assert len(popups) == 3  # latency, download and upload, each where the phone was
    for popup in popups:
        assert (popup["lat"], popup["lon"]) == (HERE["latitude"], HERE["longitude"])
        assert "Điểm phục vụ\tUBND phường Đống Đa (ubnd)" in popup["text"]
        assert "không tính vào thống kê ô" in popup["text"]
    assert any("Tải xuống\t" in p["text"] and "Mbps" in p["text"] for p in popups), popups
    page.screenshot(path=str(ARTIFACTS / "officer-map.png"), full_page=True)
    page.close()


def test_results_wait_on_the_phone_while_offline(ward: psycopg.Connection[Any],
                                                 migrated_url: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    token = _link(ward, None)
    with live_collector(_settings(migrated_url)) as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            context = browser.new_context(locale="vi-VN", geolocation=HERE,
                                          permissions=["geolocation"])
            page = context.new_page()
            page.goto(f"{base}/do?t={token}")
            context.set_offline(True)
            page.click("#start")
            page.wait_for_selector("#queue:has-text('Kết quả chờ gửi: 3')", timeout=WAIT_MS)
            assert ward.execute("SELECT count(*) FROM measurements").fetchone() == (0,)
            queued = page.evaluate(
                "new Promise(r => { const q = indexedDB.open('lomsong-phone');"
                " q.onsuccess = () => { const g = q.result.transaction('outbox')"
                ".objectStore('outbox').getAllKeys(); g.onsuccess = () => r(g.result); }; })")
            context.set_offline(False)
            page.wait_for_selector("#queue:empty", state="attached", timeout=WAIT_MS)
        finally:
            browser.close()
    stored = ward.execute("SELECT id::text, error_kind, site_id FROM measurements"
                          " ORDER BY id").fetchall()
    assert sorted(queued) == [r[0] for r in stored]  # the ids made on the phone, sent once
    assert {r[1] for r in stored} == {"network_unreachable"}  # a failed test is evidence too
    assert {r[2] for r in stored} == {None}


def test_altered_links_and_floods_are_refused_in_the_browser(ward: psycopg.Connection[Any],
                                                             migrated_url: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    token = _link(ward, "ubnd")
    settings = _settings(migrated_url, phone_rate_per_address_per_s=0.01,
                         phone_rate_per_address_burst=2)
    with live_collector(settings) as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(locale="vi-VN")
            altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
            answer = page.goto(f"{base}/do?t={altered}&lang=en")
            assert answer is not None and answer.status == 403
            assert "This link does not work" in page.inner_text("#link-error")
            assert page.locator("script").count() == 0
            page.goto(f"{base}/do?t={token}")
            answer = page.goto(f"{base}/do?t={token}")
            assert answer is not None and answer.status == 429
            assert "Quá nhiều yêu cầu" in page.inner_text("#link-error")
        finally:
            browser.close()


def test_walk_mode_pauses_resumes_and_stops_at_the_budget(ward: psycopg.Connection[Any],
                                                     migrated_url: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    token = _link(ward, None)
    with live_collector(_settings(migrated_url, phone_walk_interval_s=0.0)) as base, \
            sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            context = browser.new_context(locale="vi-VN", geolocation=HERE,
                                          permissions=["geolocation"])
            page = context.new_page()
            page.goto(f"{base}/do?t={token}")
            page.check("#walk")
            page.fill("#cap", "10")
            page.fill("#budget", "25")
            page.click("#start")
            page.click("#pause")  # during the first test, which takes at least half a second
            page.wait_for_selector("#status:has-text('Đã tạm dừng')", timeout=WAIT_MS)
            assert page.locator("#points li").count() == 1
            page.click("#resume")
            page.wait_for_selector("#status:has-text('hạn mức dữ liệu')", timeout=WAIT_MS)
            assert page.locator("#points li").count() == 3
            assert page.locator("#map circle").count() == 3  # the walk's own points
            assert page.locator("#map").is_visible()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "phone-walk.png"), full_page=True)
        finally:
            browser.close()
    tests = ward.execute(
        "SELECT count(*) FILTER (WHERE kind = 'latency'), sum(bytes_used)"
        " FROM measurements").fetchone()
    assert tests is not None and tests[0] == 3 and tests[1] <= 25_000_000


def test_a_separate_test_server_serves_the_payloads(ward: psycopg.Connection[Any],
                                                    migrated_url: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    token = _link(ward, "ubnd")
    main_port, test_port = free_port(), free_port()
    main_origin, test_origin = f"http://127.0.0.1:{main_port}", f"http://127.0.0.1:{test_port}"
    requests: list[str] = []
    problems: list[str] = []
    main = _settings(migrated_url, phone_test_server_url=test_origin)
    tester = _settings(migrated_url, phone_cors_origins=[main_origin])
    with live_collector(main, main_port), live_collector(tester, test_port), \
            sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(locale="vi-VN")
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.goto(f"{main_origin}/do?t={token}")
            page.fill("#cap", "100")
            page.click("#start")
            page.wait_for_selector("#status:has-text('Đã gửi kết quả')", timeout=WAIT_MS)
        finally:
            browser.close()
    payload = [u for u in requests if "/do/api/down" in u or "/do/api/ping" in u]
    assert payload and all(u.startswith(test_origin) for u in payload)
    assert next(u for u in requests if "/do/api/results" in u).startswith(main_origin)
    rows = ward.execute("SELECT server, error_kind FROM measurements").fetchall()
    assert rows == [(test_origin, None)] * 3
    assert problems == [], problems
