"""The phones' results as their own map layer: data, never markup or code; the report states
the sources."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from lomsong.maps.browser_layer import browser_options
from lomsong.maps.heatmap import render_html
from lomsong.maps.i18n import translator
from lomsong.maps.report_input import ReportInput
from lomsong.maps.report_text import SOURCE_ROWS_MAX, method_paragraphs, source_sentence

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE = "</script><script>alert(1)</script>${alert(2)}<img src=x onerror=alert(3)>"
_DATA = re.compile(r'<script type="application/json" id="lomsong-browser-points">(.*?)</script>',
                   re.DOTALL)


def _browser(site_id: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"measured_at": pd.to_datetime(["2026-11-02T03:00:00Z", "2026-11-02T04:00:00Z"]),
         "kind": ["throughput_down"] * 2, "carrier": ["viettel", "mobifone"],
         "access": ["4g", "4g"], "download_mbps": [12.5, 80.0], "upload_mbps": [3.0, None],
         "rtt_ms": [45.0, 30.0], "error_kind": [None, None], "site_id": [site_id, None]},
        geometry=[Point(105.85, 21.03), Point(105.851, 21.031)], crs=4326)


def test_browser_points_travel_as_escaped_data() -> None:
    empty = ReportInput.empty()
    html = render_html(empty.cells, browser=_browser(HOSTILE), lang="en",
                       **browser_options(empty))
    assert "alert(1)" not in html.replace("\\u003c/script\\u003e\\u003cscript\\u003ealert(1)", "")
    assert "<img" not in html
    found = _DATA.search(html)
    assert found is not None
    data = json.loads(found.group(1))
    assert data["title"] == "Phone result (browser): not counted in the cell statistics"
    first, second = data["points"]
    assert ["Service point", HOSTILE] in first["values"]
    assert ["Download", "12.5 Mbps"] in first["values"]
    assert (first["colour"], second["colour"]) == ("#d7191c", "#1a9641")  # below / at 40 Mbps
    assert "Phone results (browser)" in html  # the layer's name in the layer control


def test_report_method_states_sources_and_methods() -> None:
    sources = pd.DataFrame({"source": ["probe", "browser"], "method": ["iperf3", HOSTILE],
                            "count": [90, 10], "share": [0.9, 0.1],
                            "in_statistics": [True, False]})
    empty = ReportInput.empty()
    survey = ReportInput(empty.cells, empty.weak_areas, empty.scorecards, empty.proposals,
                         source_table=sources)
    text = " ".join(method_paragraphs(survey, translator("en"), "en"))
    assert "Fixed probes, iperf3: 90 (90%)" in text
    assert "The cell statistics count Fixed probes only; Phones and browsers are shown" in text
    vi = " ".join(method_paragraphs(survey, translator("vi"), "vi"))
    assert "Thống kê ô chỉ tính Đầu đo cố định" in vi
    many = pd.DataFrame({"source": ["probe"] * 20, "method": [f"t{i}" for i in range(20)],
                         "count": [1] * 20, "share": [0.05] * 20, "in_statistics": [True] * 20})
    assert f"{20 - SOURCE_ROWS_MAX} other methods: {20 - SOURCE_ROWS_MAX}" in source_sentence(
        many, translator("en"), "en")


_POPUPS = """() => {
  const map = Object.values(window).find(v => v instanceof L.Map);
  const texts = [];
  map.eachLayer(layer => {
    if (layer instanceof L.CircleMarker && layer.getPopup()) {
      layer.openPopup();
      texts.push(layer.getPopup().getElement().innerText);
    }
  });
  return texts;
}"""


def test_hostile_values_stay_text_in_chromium(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} missing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    empty = ReportInput.empty()
    page_file = tmp_path / "map.html"
    page_file.write_text(render_html(empty.cells, browser=_browser(HOSTILE), lang="en",
                                     inline=True, **browser_options(empty)), encoding="utf-8")
    dialogs: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_file.as_uri())
            texts = page.evaluate(_POPUPS)
            images = page.locator("img[src=x]").count()
        finally:
            browser.close()
    assert dialogs == [] and errors == [] and images == 0
    assert len(texts) == 2
    assert any(f"Service point\t{HOSTILE}" in t for t in texts), texts
