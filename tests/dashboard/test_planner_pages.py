"""The coverage planner page and its GPX file on a seeded survey; period errors in one language."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from lomsong import synthetic
from lomsong.collector.dashboard.pages_planner import parse_point
from lomsong.maps.walk_text import GAP_TEXTS

from .conftest import seed_survey
from .test_walk_plan import NS, check_gpx

RAW_CODES = (*GAP_TEXTS, "insufficient_data", "status_reason")


@pytest.fixture
def seeded(officer: TestClient, conn: psycopg.Connection[Any]) -> TestClient:
    seed_survey(conn)
    return officer


def _text(html: str) -> str:
    """The visible text of a page (tags dropped, entities decoded)."""
    return unescape(re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize(("text", "point"), [
    ("21.0285, 105.8542", (21.0285, 105.8542)), ("21.0285;105.8542", (21.0285, 105.8542)),
    (" 21.0285 105.8542 ", (21.0285, 105.8542)), ("21,0285, 105,8542", (21.0285, 105.8542)),
    ("-33.9, 151.2", (-33.9, 151.2)), ("91, 105", None), ("21, 180", None), ("abc", None),
    ("21.0285", None), ("", None), ("21.0, 105.8, 3", None),
])
def test_a_typed_start_point(text: str, point: tuple[float, float] | None) -> None:
    assert parse_point(text) == point


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_planner_page_shows_the_walk_in_words_and_on_a_map(seeded: TestClient) -> None:
    first = synthetic.SERVICE_POINTS[0]
    for lang, when, peak in (("vi", "Khi nào", "cao điểm buổi tối"),
                             ("en", "When", "evening peak")):
        page = seeded.get(f"/planner?lang={lang}")
        assert page.status_code == 200
        html, text = page.text, _text(page.text)
        assert '<svg id="walk-map"' in html and '<polyline class="walk"' in html
        stops = re.findall(r'<g class="stop( peak)?"><circle', html)
        assert stops and len(stops) == len(re.findall(r"<ul class=\"needs\">", html))
        assert when in text and peak in text
        for code in RAW_CODES:
            assert code not in text, (lang, code)
        # starts at a service point by default (the public administrative one when there is)
        assert re.search(r'<g class="start"><rect ', html)
        assert 'selected>' in html and f'value="site:{first.site_id}"' in html
        assert "<script" not in html  # the map is drawn on the server, no script at all
    english = _text(seeded.get("/planner?lang=en").text)
    assert "Cell " not in english and "too few" not in english
    assert re.search(r"\d+ stops, [\d,]+ m in straight lines between them", english)
    assert "nearest neighbour" in english and "2-opt" in english


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_gpx_download_matches_the_page(seeded: TestClient) -> None:
    html = seeded.get("/planner?lang=en&carrier=viettel").text
    link = re.search(r'id="gpx-link" href="([^"]+)"', html)
    assert link is not None
    reply = seeded.get(unescape(link.group(1)))
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/gpx+xml")
    assert re.fullmatch(r'attachment; filename="lomsong-walk-\d{4}-\d\d-\d\d\.gpx"',
                        reply.headers["content-disposition"])
    root = check_gpx(reply.content)
    stops = [w for w in root.findall(NS + "wpt") if w.findtext(NS + "type") == "stop"]
    assert len(stops) == len(re.findall(r'<g class="stop( peak)?"><circle', html)) > 0
    assert all("Viettel" in (w.findtext(NS + "desc") or "") for w in stops)
    assert len(root.findall(f"{NS}rte/{NS}rtept")) == len(stops) + 1  # and the start
    for code in RAW_CODES:
        assert code.encode() not in reply.content


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_start_point_carrier_and_technology_choices(seeded: TestClient) -> None:
    everything = seeded.get("/planner?lang=en").text
    count = len(re.findall(r'<g class="stop', everything))
    one = seeded.get("/planner?lang=en&carrier=mobifone&access=4g").text
    assert 0 < len(re.findall(r'<g class="stop', one)) <= count
    needs = re.findall(r"<li>([^<]+)</li>", one)
    assert needs and all(n.startswith("MobiFone") for n in needs), needs[:3]
    assert 'value="mobifone" selected' in one and 'value="4g" selected' in one
    typed = seeded.get("/planner?lang=en&at=21.0300,105.8400").text
    assert 'value="21.0300,105.8400"' in typed and "Start: 21.03000, 105.84000." in _text(typed)
    westmost = seeded.get("/planner?lang=en&start=none").text
    assert '<g class="start">' not in westmost and 'value="none" selected' in westmost
    bad = seeded.get("/planner?lang=vi&at=%3Cb%3Ehere%3C/b%3E").text
    assert "Điểm xuất phát: &#39;&lt;b&gt;here&lt;/b&gt;&#39; không phải là một vị trí" in bad
    assert "<b>here" not in bad and '<g class="start">' in bad   # back to the service point
    unknown = seeded.get("/planner?lang=en&start=site:nope&carrier=orange").text
    assert "there is no service point site:nope" in unknown
    assert seeded.get("/planner?carrier=" + "x" * 50).status_code == 422


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
@pytest.mark.parametrize(("query", "vi", "en"), [
    ("from=05/12/2026", "Từ ngày: '05/12/2026' không phải là ngày; hãy viết theo dạng YYYY-MM-DD",
     "From: '05/12/2026' is not a date; write it as YYYY-MM-DD"),
    ("to=2026-02-30", "Đến ngày: '2026-02-30' không phải là ngày",
     "To: '2026-02-30' is not a date"),
    ("from=2026-11-01T08:00", "Từ ngày: '2026-11-01T08:00' có giờ nhưng thiếu múi giờ",
     "From: '2026-11-01T08:00' has a time but no time zone"),
    ("from=0001-01-01", "Từ ngày: năm 1 nằm ngoài khoảng 2000-2999",
     "From: the year 1 is outside 2000-2999"),
    ("from=2026-11-10&to=2026-11-01", "Đến ngày (2026-11-01) trước Từ ngày (2026-11-10)",
     "To (2026-11-01) is before From (2026-11-10)"),
    ("from=2024-01-01&to=2026-01-01", "Khoảng thời gian dài hơn 366 ngày",
     "The period is longer than 366 days"),
])
def test_period_errors_in_the_page_language(officer: TestClient, query: str, vi: str,
                                            en: str) -> None:
    for path in ("/map", "/sites", "/weak-areas", "/planner", "/downloads"):
        for lang, wanted in (("vi", vi), ("en", en)):
            reply = officer.get(f"{path}?{query}&lang={lang}")
            assert reply.status_code == 422, (path, lang)
            error = re.search(r'<p class="error" role="alert">(.*?)</p>', reply.text)
            assert error is not None, (path, lang)
            message = unescape(error.group(1))
            assert wanted in message, (path, lang, message)
            if lang == "en":   # one language: no Vietnamese letter, no English word in Vietnamese
                assert not re.search(r"[à-ỹđĐ]", message), message
            else:
                assert not re.search(r"\b(is|the|not|before|year|period)\b", message), message
            assert "isoformat" not in message and "Invalid" not in message
    for path in ("/map/frame", "/downloads/cells.csv", "/planner/walk.gpx"):
        reply = officer.get(f"{path}?{query}&lang=en")
        assert reply.status_code == 422 and en in reply.text, path
