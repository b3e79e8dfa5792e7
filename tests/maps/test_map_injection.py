"""No text from outside is ever code in the map page: it goes in the JSON block, escaped.

The browser half (Chromium opening the offline map and every popup and tooltip) is in
tests/security/test_injection_browser.py.
"""

from __future__ import annotations

import json
import re

import geopandas as gpd
from mapkit import hexes, make_cells, make_scorecards, make_weak_areas

from lomsong.maps.heatmap import render_html

HOSTILE = ("${alert(1)}", "</script><script>alert(2)</script>", "<img src=x onerror=alert(3)>",
           "`+alert(4)+`", "a\u2028b\u2029c")
_INLINE = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.DOTALL)
_DATA = re.compile(r'<script type="application/json" id="lomsong-map-data">(.*?)</script>',
                   re.DOTALL)


def hostile_survey() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    cells = hexes(60)
    areas = make_weak_areas(cells)
    areas["bands"] = HOSTILE[0]
    areas["pcis"] = HOSTILE[1]
    sites = make_scorecards()
    names = dict(zip(sorted(set(sites["site_id"])), (HOSTILE[1], HOSTILE[0], HOSTILE[4]),
                     strict=True))
    sites["name"] = sites["site_id"].map(names)
    sites["address"] = HOSTILE[2]
    return make_cells(cells), areas, sites


def test_no_outside_text_in_any_inline_script() -> None:
    cells, areas, sites = hostile_survey()
    html = render_html(cells, areas, sites, lang="en")
    scripts = [m for m in _INLINE.finditer(html) if "application/json" not in m["attrs"]]
    assert scripts
    for match in scripts:
        for needle in ("alert(", "onerror", "VT-01", "\u2028"):
            assert needle not in match["body"], (needle, match["body"][:200])
    blocks = _DATA.findall(html)
    assert len(blocks) == 1
    assert not re.search(r"[<>&\u2028\u2029]", blocks[0])
    data = json.loads(blocks[0])
    assert {t["text"] for t in data["tooltips"]} == set(sites["name"])
    assert any("${alert(1)}" in p["html"] for p in data["popups"])
    assert all("<script>" not in p["html"] and "<img" not in p["html"] for p in data["popups"])


def test_nonce_only_on_the_scripts_lomsong_writes() -> None:
    cells, areas, sites = hostile_survey()
    html = render_html(cells, areas, sites, lang="vi", script_nonce="N" * 22)
    tags = re.findall(r"<script[^>]*>", html)
    assert tags.count(f'<script nonce="{"N" * 22}">') == 2
    assert all("nonce" in t or "src=" in t or "application/json" in t for t in tags), tags
