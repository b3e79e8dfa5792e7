"""Hostile text in real Chromium (Debian's /usr/bin/chromium): no dialog, a clean console.

The offline map (`render_html(..., inline=True)`, what `lomsong map` writes) gets every payload
in service-point names and addresses and in weak-area bands and PCIs; Chromium opens it from a
file, opens every popup and every tooltip, and must see no ``alert`` and no console error. The
payloads must show as text.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from browserkit import ARGS, CHROMIUM, Watch, open_map_items
from payloads import PAYLOADS

from lomsong.maps.heatmap import render_html

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "maps"))
from mapkit import hexes, make_cells, make_scorecards, make_weak_areas

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing")


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
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page()
            watch = Watch(page)
            page.goto(path.as_uri())
            page.locator(".leaflet-marker-pane > .awesome-marker").first.wait_for()
            shown = "\n".join(open_map_items(page, html))
            radios = page.locator(".lomsong-window input[type=radio]")
            assert radios.count() == 3  # all day, peak, off-peak: the switch still works
            shown_layers = []
            for i in range(3):
                radios.nth(i).check()
                shown_layers.append(page.evaluate(
                    "() => { const m = Object.values(window).find(v => v instanceof L.Map);"
                    " return Object.values(m._layers).filter(l => l instanceof L.Polygon).length;"
                    " }"))
            assert min(shown_layers) > 0, shown_layers
        finally:
            browser.close()
    assert watch.dialogs == [] and watch.errors == [], (watch.dialogs, watch.errors)
    for text in (PAYLOADS[0], PAYLOADS[1], PAYLOADS[2], PAYLOADS[3], PAYLOADS[4]):
        assert text in shown, text
