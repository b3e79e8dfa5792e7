"""The dashboard's map links every cell, weak area and service point to its measurements; the
offline map file, which has no such page, links nothing."""

from __future__ import annotations

import json
import re

import pytest
from mapkit import hexes, make_scorecards, make_weak_areas

from lomsong.maps.drill_link import DrillLink
from lomsong.maps.heatmap import render_html
from lomsong.maps.i18n import translator
from lomsong.maps.popups import service_point_popup, weak_area_popup
from lomsong.maps.report_input import ReportInput

_DATA = re.compile(r'id="lomsong-map-data">(.*?)</script>', re.DOTALL)


def _data(html: str) -> dict[str, object]:
    found = _DATA.search(html)
    assert found is not None
    data: dict[str, object] = json.loads(found[1])
    return data


def test_dashboard_map_carries_links_and_the_offline_file_none(survey: ReportInput) -> None:
    frames = (survey.cells, survey.weak_areas, survey.scorecards, survey.routes, survey.boundary)
    link = DrillLink("/measurements", {"from": "2026-11-01", "to": "2026-11-30", "lang": "vi"})
    data = _data(render_html(*frames, lang="vi", drill=link))  # type: ignore[arg-type]
    cells = data["cells"]
    assert cells["drill"] == {"url": "/measurements", "text": "Đo đạc ở ô này",  # type: ignore[index]
                              "query": {"from": "2026-11-01", "to": "2026-11-30", "lang": "vi"}}
    popups = [p["html"] for p in data["popups"]]  # type: ignore[attr-defined]
    areas = [p for p in popups if "target=area" in p]
    sites = [p for p in popups if "target=site" in p]
    assert len(areas) == len(survey.weak_areas)
    assert len(sites) == survey.scorecards["site_id"].nunique()
    assert all('target="_top"' in p and "from=2026-11-01&amp;to=2026-11-30" in p
               for p in areas + sites)

    offline = render_html(*frames, lang="vi", inline=True)  # type: ignore[arg-type]
    assert "drill" not in _data(offline)["cells"]  # type: ignore[operator]
    assert "/measurements" not in offline


def test_popup_links_are_escaped() -> None:
    _ = translator("en")
    link = DrillLink("/measurements").href(target="site", id='"><script>alert(1)</script>')
    area = weak_area_popup(make_weak_areas(hexes(60)).iloc[0], _, "en", link)
    assert "<script>" not in area and "Measurements in this area" in area
    cards = make_scorecards()
    site = service_point_popup(cards[cards["site_id"] == "BP-01"], _, "en", link)
    assert "<script>" not in site and "Measurements at this point" in site


@pytest.mark.parametrize("url", ["https://evil.invalid/x", "//evil.invalid/x", "javascript:x"])
def test_links_stay_on_this_site(url: str) -> None:
    with pytest.raises(ValueError, match="path on this site"):
        DrillLink(url)
