"""Hostile text in real Chromium (Debian's /usr/bin/chromium): no dialog, a clean console.

The offline map (`render_html(..., inline=True)`, what `lomsong map` writes) gets every payload
in service-point names and addresses and in weak-area bands and PCIs; Chromium opens it from a
file, opens every popup and every tooltip, and must see no ``alert`` and no console error. The
payloads must show as text.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from payloads import PAYLOADS

from lomsong.maps.heatmap import render_html

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "maps"))
from mapkit import hexes, make_cells, make_scorecards, make_weak_areas  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing")


def _open_everything(page: Any, html: str) -> list[str]:
    """Open each popup and tooltip the map's data names; return the texts they showed."""
    data = json.loads(re.search(r'id="lomsong-map-data">(.*?)</script>', html, re.DOTALL)[1])
    shown: list[str] = []
    for item in data["popups"]:
        page.evaluate("name => { const l = window[name];"
                      " l.openPopup(l.getBounds ? l.getBounds().getCenter() : undefined); }",
                      item["layer"])
        shown.append(page.locator(".leaflet-popup-content").last.inner_text())
    for item in data["tooltips"]:
        page.evaluate("name => window[name].openTooltip()", item["layer"])
        shown.append(page.locator(".leaflet-tooltip").last.inner_text())
    return shown


def test_offline_map_shows_hostile_text_as_text(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    cells = hexes(60)
    areas = make_weak_areas(cells)
    areas["bands"] = PAYLOADS[0]
    areas["pcis"] = PAYLOADS[2]
    sites = make_scorecards()
    ids = sorted(set(sites["site_id"]))
    sites["name"] = sites["site_id"].map({s: PAYLOADS[i] for i, s in enumerate(ids)})
    sites["address"] = sites["site_id"].map({s: PAYLOADS[i + 3] for i, s in enumerate(ids)})
    html = render_html(make_cells(cells), areas, sites, lang="vi", inline=True)
    path = tmp_path / "map.html"
    path.write_text(html, encoding="utf-8")
    dialogs: list[str] = []
    problems: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(path.as_uri())
            page.locator(".leaflet-marker-pane > .awesome-marker").first.wait_for()
            shown = "\n".join(_open_everything(page, html))
        finally:
            browser.close()
    assert dialogs == [] and problems == [], (dialogs, problems)
    for text in (PAYLOADS[0], PAYLOADS[1], PAYLOADS[2], PAYLOADS[3], PAYLOADS[4]):
        assert text in shown, text
