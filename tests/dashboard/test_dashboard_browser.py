"""The dashboard in real headless Chromium (Debian's /usr/bin/chromium, never downloaded).

A uvicorn server on a free loopback port serves a seeded synthetic survey; the browser signs in,
opens the map, switches carrier and window, clicks cells inside the boundary and inside a weak area,
opens a service point's popup and the fleet page, saves
screenshots to test-artifacts/, and every request it made must stay on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from livecollector import live_collector

from lomsong import synthetic
from lomsong.collector.settings import Settings

from .conftest import ADMIN, OFFICER, add_users, seed_survey

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.parametrize("db_server", ["plain"], indirect=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)"),
]


@pytest.fixture
def server(migrated_url: str, conn: psycopg.Connection[Any]) -> Iterator[str]:
    add_users(conn)
    seed_survey(conn, days=7, walks=3)
    settings = Settings(database_url=migrated_url, pool_min_size=1, pool_max_size=4,
                        secret_key="browser-test-" + "k" * 32)
    with live_collector(settings) as base:
        yield base


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

            # one carrier at a time: the selector beside the time-window switch
            frame.locator("select[name=carrier]").select_option("mobifone")
            assert "MobiFone" in frame.locator(".lomsong-what").inner_text()
            page.screenshot(path=str(ARTIFACTS / "dashboard-map-mobifone.png"))

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


# Finds, in the map frame, a cell of the shown carrier x technology x window whose centre is
# inside the ward boundary and (or not) inside one of the shown weak areas, with nothing over it.
PICK_CELL = """(_body, inWeak) => {
  const d = JSON.parse(document.getElementById("lomsong-map-data").textContent);
  const map = window[d.map], key = map.getContainer().getAttribute("data-shown");
  const shownWeak = Object.values(d.choice.weak).filter(n => map.hasLayer(window[n]));
  const lines = names => names.flatMap(n => window[n].getLayers().flatMap(l =>
      l.getLayers ? l.getLayers() : [l])).flatMap(l => {
    const ll = l.getLatLngs(); return Array.isArray(ll[0]) ? ll : [ll]; });
  const inside = (p, ring) => { let hit = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const a = ring[i], b = ring[j];
      if ((a.lat > p.lat) !== (b.lat > p.lat) &&
          p.lng < (b.lng - a.lng) * (p.lat - a.lat) / (b.lat - a.lat) + a.lng) { hit = !hit; }
    } return hit; };
  const within = (p, rings) => rings.some(r => inside(p, r));
  const boundary = lines(d.outlines), weak = lines(shownWeak), size = map.getSize();
  for (const r of d.cells.rows[key]) {
    const p = d.cells.rings[r[0]]; let lat = 0, lng = 0, sumLat = 0, sumLng = 0;
    for (let i = 0; i < p.length; i += 2) { lat += p[i]; lng += p[i + 1]; sumLat += lat;
                                            sumLng += lng; }
    const n = p.length / 2, centre = L.latLng(sumLat / n / 1e6, sumLng / n / 1e6);
    const xy = map.latLngToContainerPoint(centre);
    if (xy.x < 40 || xy.y < 40 || xy.x > size.x - 40 || xy.y > size.y - 40) { continue; }
    if (!within(centre, boundary) || within(centre, weak) !== inWeak) { continue; }
    if (document.elementFromPoint(xy.x, xy.y).tagName !== "CANVAS") { continue; }
    return {id: d.cells.ids[r[0]], x: xy.x, y: xy.y};
  }
  return null;
}"""

# A click at a point of the frame, as the browser delivers a person's click to what is there
# (Leaflet's canvas hit-tests it); playwright's own click lands off by the page's scroll when the
# frame is partly below the window.
CLICK_AT = """(_body, at) => {
  document.elementFromPoint(at.x, at.y).dispatchEvent(new MouseEvent("click",
    {clientX: at.x, clientY: at.y, bubbles: true, cancelable: true, view: window}));
}"""

LEGEND_OVER_MARKERS = """() => {
  const b = document.querySelector(".lomsong-key").getBoundingClientRect();
  return [...document.querySelectorAll(".leaflet-marker-pane > *")].filter(m => {
    const r = m.getBoundingClientRect();
    return r.right > b.left && r.left < b.right && r.bottom > b.top && r.top < b.bottom;
  }).length;
}"""


def test_one_click_shows_one_cell_and_one_question(server: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    problems: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="vi-VN")
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{server}/login")
            page.fill("input[name=username]", OFFICER[0])
            page.fill("input[name=password]", OFFICER[1])
            page.click("button[type=submit]")
            page.wait_for_url(f"{server}/map")
            frame = page.frame_locator("iframe.map")
            frame.locator(".lomsong-what").wait_for()
            # the legend hides no service point
            assert frame.locator("body").evaluate(LEGEND_OVER_MARKERS) == 0
            scale = frame.locator(".leaflet-control-scale-line")
            assert scale.count() == 1 and "ft" not in scale.inner_text()

            def click_cell(in_weak: bool) -> None:
                cell = frame.locator("body").evaluate(PICK_CELL, in_weak)
                if cell is None and not in_weak:  # a carrier with cells outside weak areas
                    for option in frame.locator("select[name=carrier] option").all():
                        frame.locator("select[name=carrier]").select_option(
                            option.get_attribute("value"))
                        cell = cell or frame.locator("body").evaluate(PICK_CELL, in_weak)
                        if cell:
                            break
                assert cell is not None, f"no clickable cell (inside a weak area: {in_weak})"
                frame.locator("body").evaluate(CLICK_AT, cell)
                popup = frame.locator(".leaflet-popup-content")
                popup.wait_for()
                assert cell["id"] in popup.inner_text()
                page.screenshot(path=str(ARTIFACTS / f"dashboard-cell-weak-{in_weak}.png"))
                frame.locator(".leaflet-popup-close-button").click()
                popup.wait_for(state="detached")

            click_cell(in_weak=False)  # inside the ward boundary, outside weak areas

            # the carrier and technology with weak areas, all day
            weak_keys = frame.locator("body").evaluate(
                "() => Object.keys(JSON.parse(document.getElementById("
                "'lomsong-map-data').textContent).choice.weak)")
            assert weak_keys, "the synthetic survey has weak areas"
            carrier, access = weak_keys[0].split("|")
            frame.locator("select[name=carrier]").select_option(carrier)
            frame.locator("select[name=access]").select_option(access)
            container = frame.locator(".leaflet-container")
            assert container.get_attribute("data-shown") == f"{carrier}|{access}|all"
            shown = frame.locator("body").evaluate(
                "() => { const d = JSON.parse(document.getElementById('lomsong-map-data')"
                ".textContent), m = window[d.map]; return Object.keys(d.choice.weak)"
                ".filter(k => m.hasLayer(window[d.choice.weak[k]])); }")
            assert shown == [f"{carrier}|{access}"]  # only this carrier's weak areas
            click_cell(in_weak=True)

            # switch carrier and window: the legend says what is shown
            frame.locator("select[name=carrier]").select_option("mobifone")
            frame.locator("input[name=lomsong-window][value=peak]").check()
            what = frame.locator(".lomsong-what").inner_text()
            assert "MobiFone" in what and "Giờ cao điểm" in what, what
            assert container.get_attribute("data-shown").startswith("mobifone|")
            assert container.get_attribute("data-shown").endswith("|peak")
        finally:
            browser.close()
    assert problems == [], problems


PAGES = ("/map", "/sites", "/weak-areas", "/planner", "/fleet", "/downloads", "/admin")


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_page_fits_a_phone(server: str, lang: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
            page.goto(f"{server}/login?lang={lang}")
            page.fill("input[name=username]", ADMIN[0])
            page.fill("input[name=password]", ADMIN[1])
            page.click("button[type=submit]")
            page.wait_for_url(f"{server}/map")
            for path in PAGES:
                page.goto(f"{server}{path}?lang={lang}")
                page.locator("main").wait_for()
                width = page.evaluate("document.scrollingElement.scrollWidth")
                page.screenshot(path=str(ARTIFACTS / f"phone-{lang}{path.replace('/', '-')}.png"),
                                full_page=True)
                assert width <= 390 + 1, f"{path}: the page is {width} px wide"
            page.goto(f"{server}/map?lang={lang}")
            frame = page.frame_locator("iframe.map")
            frame.locator(".lomsong-what").wait_for()
            # the legend folds away on a phone; its title and what is shown stay
            assert frame.locator(".lomsong-key details").get_attribute("open") is None
            assert frame.locator(".lomsong-key summary").is_visible()
        finally:
            browser.close()
