"""The drill-down pages and exports, and the carrier filter and sorting of the tables (every tier).

A hostile service point (its id a spreadsheet formula, its name a script tag) with a measurement
tagged with that id and an error message holding markup must come out as text everywhere.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
import pytest
from fastapi.testclient import TestClient

from lomsong import synthetic
from lomsong.collector.dashboard import behind
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.collector.storage.sites import ServicePoint, save_site
from lomsong.probe.record import (
    Access,
    Carrier,
    ErrorKind,
    Kind,
    Measurement,
    PositionSource,
)

from .conftest import seed_survey

HOSTILE_ID = '=HYPERLINK("http://evil.invalid","x")'
HOSTILE_NAME = '<script>alert("site")</script>=HYPERLINK("http://evil.invalid")'
HOSTILE_MESSAGE = '<img src=x onerror=alert(1)>=cmd|"/c calc"'
LAT, LON = 21.0405, 105.8305  # far from the synthetic ward: only the hostile tests are here


def _hostile(conn: psycopg.Connection[Any]) -> None:
    save_site(conn, ServicePoint(HOSTILE_ID, HOSTILE_NAME, "other", "<b>ngõ</b>", LAT, LON))
    now = datetime.now(UTC).replace(microsecond=0)
    tests = [Measurement(probe_id="pi-hostile", measured_at=now - timedelta(minutes=5 + i),
                         kind=Kind.THROUGHPUT_DOWN, tool="iperf3", carrier=Carrier.VIETTEL,
                         access=Access.LTE, download_mbps=None if i % 2 else 12.5 + i,
                         error_kind=ErrorKind.TIMEOUT if i % 2 else None,
                         error_message=HOSTILE_MESSAGE if i % 2 else None,
                         lat=LAT, lon=LON, position_source=PositionSource.SITE,
                         site_id=HOSTILE_ID)
             for i in range(4)]
    ingest(conn, [StoredRecord(measurement=m, time=m.measured_at, clock=m.clock) for m in tests],
           datetime.now(UTC))


@pytest.fixture
def seeded(conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    seed_survey(conn, days=3, walks=2)
    _hostile(conn)
    return conn


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_a_service_points_measurements_page_and_exports(officer: TestClient,
                                                        seeded: Any) -> None:
    query = f"target=site&id={quote(HOSTILE_ID)}"
    page = officer.get(f"/measurements?{query}")
    assert page.status_code == 200, page.text[:300]
    html = page.text
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert "<b>ngõ</b>" not in html and "onerror=alert" not in html.replace("&lt;", "")
    assert "4 phép đo: 4 phép đo tốc độ tải xuống, 2 lỗi" in html
    assert html.count("pi-hostile") == 4 and "Quá thời gian chờ" in html

    english = officer.get(f"/measurements?{query}&lang=en&outcome=failed").text
    assert "2 measurements: 2 download tests, 2 failed" in english and "Timed out" in english

    exported = officer.get(f"/measurements.csv?{query}")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    assert exported.headers["x-lomsong-row-cap"] == str(behind.EXPORT_MAX_ROWS)
    rows = _csv(exported.text)
    assert len(rows) == 4 and {r["site_id"] for r in rows} == {"'" + HOSTILE_ID}
    failed = [r for r in rows if r["error_kind"]]
    assert {r["error_message"] for r in failed} == {HOSTILE_MESSAGE}  # starts with <, not =
    assert all(r["time_local"].endswith("+07:00") for r in rows)
    times = [r["time_utc"] for r in rows]
    assert times == sorted(times, reverse=True)
    assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for k, v in r.items()
                   if k not in ("lat", "lon", "time_local", "time_utc"))

    geo = officer.get(f"/measurements.geojson?{query}&outcome=ok")
    assert geo.headers["content-type"].startswith("application/geo+json")
    data = json.loads(geo.text)
    assert data["type"] == "FeatureCollection" and data["truncated"] is False
    assert len(data["features"]) == 2
    point = data["features"][0]
    assert point["geometry"] == {"type": "Point", "coordinates": [LON, LAT]}
    assert point["properties"]["site_id"] == HOSTILE_ID  # JSON is data: kept as it is


def test_cells_and_weak_areas_link_to_their_measurements(officer: TestClient,
                                                         seeded: Any) -> None:
    weak = officer.get("/weak-areas").text
    links = re.findall(r'href="(/measurements\?target=area&amp;[^"]+)"', weak)
    assert links, "every weak area links to its measurements"
    area = officer.get(links[0].replace("&amp;", "&"))
    assert area.status_code == 200
    assert "<table class=\"data measurements\">" in area.text

    sites = officer.get("/sites").text
    site_links = re.findall(r'href="(/measurements\?target=site&amp;[^"]+)"', sites)
    assert len(site_links) >= len(synthetic.SERVICE_POINTS)
    assert officer.get(site_links[0].replace("&amp;", "&")).status_code == 200

    frame = officer.get("/map/frame").text
    data = json.loads(re.search(r'id="lomsong-map-data">(.*?)</script>', frame, re.S)[1])
    drill = data["cells"]["drill"]
    assert drill["url"] == "/measurements" and drill["text"] == "Đo đạc ở ô này"
    assert any('target="_top"' in p["html"] and "target=area" in p["html"]
               for p in data["popups"])
    key, cell_rows = next(iter(data["cells"]["rows"].items()))
    carrier, access, window = key.split("|")
    cell = data["cells"]["ids"][cell_rows[0][0]]
    page = officer.get(f"/measurements?target=cell&id={cell}&carrier={carrier}"
                       f"&access={access}&window={window}&from={drill['query']['from']}"
                       f"&to={drill['query']['to']}")
    assert page.status_code == 200 and cell in page.text
    downloads = int(re.search(r"([\d.]+) phép đo tốc độ tải xuống", page.text)[1]
                    .replace(".", ""))
    assert downloads >= cell_rows[0][3] > 0  # the cell's samples (kit failures aside)
    assert "pi-hostile" not in page.text


def test_bad_links_are_refused(officer: TestClient, seeded: Any) -> None:
    assert officer.get("/measurements?target=area&id=viettel-4g-999").status_code == 404
    assert officer.get("/measurements?target=site&id=nope").status_code == 404
    assert officer.get("/measurements.csv?target=site&id=nope").status_code == 404
    assert officer.get("/measurements?target=cell&id=zz").status_code == 422
    assert officer.get("/measurements?target=cell&id=8a415cb4e40ffff&after=bad").status_code \
        == 422
    assert officer.get("/measurements?target=sql&id=x").status_code == 422
    assert officer.get(f"/measurements?target=cell&id={'8' * 65}").status_code == 422


def test_paging_through_a_service_point(officer: TestClient, seeded: Any) -> None:
    site = synthetic.SERVICE_POINTS[0].site_id
    seen: list[str] = []
    url: str | None = f"/measurements?target=site&id={site}&lang=en"
    while url:
        html = officer.get(url).text
        seen += re.findall(r'<td class="nowrap">([^<]+)</td>', html)
        found = re.search(r'<a href="([^"]+)" rel="next">', html)
        url = found[1].replace("&amp;", "&") if found else None
        assert len(seen) < 10_000
    total = int(re.search(r"([\d,]+) measurements:", officer.get(
        f"/measurements?target=site&id={site}&lang=en").text)[1].replace(",", ""))
    assert len(seen) == total > behind.PAGE_SIZE


def test_tables_filter_by_carrier_and_sort(officer: TestClient, seeded: Any) -> None:
    html = officer.get("/sites?carrier=vnpt&sort=median&order=desc&lang=en").text
    assert 'aria-sort="descending"' in html
    carriers = re.findall(r"<td>(Viettel|VNPT \(VinaPhone\)|MobiFone)</td>", html)
    assert carriers and set(carriers) == {"VNPT (VinaPhone)"}
    medians = [float(m.replace(",", "")) for m in re.findall(
        r'<td class="num">([\d.,]+) Mbps</td>\s*<td class="num">[\d.,–]+', html)]
    assert medians == sorted(medians, reverse=True) and medians
    assert 'href="/downloads/service_points.csv?from=' in html and "carrier=vnpt" in html
    assert 'href="?from=' in html and "sort=median&amp;order=asc" in html  # next click: ascending

    areas = officer.get("/weak-areas?sort=tests&order=asc&lang=en").text
    tests = [int(n) for n in re.findall(r'target=area[^"]*">(\d+) \(\d+ failed\)</a>', areas)]
    assert tests == sorted(tests) and tests

    exported = officer.get("/downloads/weak_areas.csv?carrier=mobifone")
    rows = _csv(exported.text)
    assert rows and {r["carrier"] for r in rows} == {"mobifone"}
    assert officer.get("/sites?carrier=<x>").status_code == 422


def _get_form(html: str, form_class: str) -> dict[str, str]:
    """The values a browser sends with the page's GET form of `form_class` (dates and hidden
    fields; the carrier filter's chosen option)."""
    form = re.search(rf'<form method="get" class="{form_class}">(.*?)</form>', html, re.S)
    assert form, f"no {form_class} form"
    fields = dict(re.findall(r'<input type="(?:hidden|date)" name="(\w+)" value="([^"]*)">',
                             form[1]))
    chosen = re.search(r'<option value="(\w+)" selected>', form[1])
    return fields | ({"carrier": chosen[1]} if chosen else {})


def _proposal_rows(html: str) -> list[tuple[str, str, float]]:
    """(carrier, priority, impact score) of each row of the proposals table (English page)."""
    table = html[html.index("<h1>"):html.index("<h2>")]
    return [(c, p, float(i)) for c, p, i in re.findall(
        r'<tr><td class="num">\d+</td><td>([^<]+)</td>.*?</td>\s*<td>([^<]+)</td>'
        r'<td class="num">([\d.]+)</td>', table, re.S)]


def _area_tests(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'target=area[^"]*">(\d+) \(\d+ failed\)</a>', html)]


def test_proposals_sort_apart_from_the_weak_areas(officer: TestClient, seeded: Any) -> None:
    html = officer.get("/weak-areas?lang=en&sort=tests&order=desc"
                       "&proposal_sort=impact&proposal_order=asc").text
    rows = _proposal_rows(html)
    assert len(rows) >= 3 and len({c for c, _p, _i in rows}) >= 2
    impacts = [i for _c, _p, i in rows]
    assert impacts == sorted(impacts)
    assert impacts != sorted(impacts, reverse=True)  # not the ranked order of the analysis
    tests = _area_tests(html)
    assert tests == sorted(tests, reverse=True) and tests      # the weak areas keep their sort
    proposals = html[html.index("<h1>"):html.index("<h2>")]
    assert re.findall(r'<th aria-sort="(\w+)"><a class="sort" href="([^"]+)">([^<]+)</a>',
                      proposals) == [("ascending", "?from=" + _get_form(html, "period")["from"]
                                      + "&amp;to=" + _get_form(html, "period")["to"]
                                      + "&amp;sort=tests&amp;order=desc&amp;proposal_sort=impact"
                                      "&amp;proposal_order=desc", "Impact score ▲")]
    assert html.count('aria-sort="descending"') == 1  # the weak areas' "Tests"

    urgent = _proposal_rows(officer.get("/weak-areas?lang=en&carrier=viettel"
                                        "&proposal_sort=priority&proposal_order=desc").text)
    levels = {"High": 3, "Medium": 2, "Low": 1}
    assert [levels[p] for _c, p, _i in urgent] == sorted((levels[p] for _c, p, _i in urgent),
                                                         reverse=True)
    assert urgent and {c for c, _p, _i in urgent} == {"Viettel"}
    assert officer.get('/weak-areas?proposal_sort="><x').status_code == 422
    assert officer.get("/weak-areas?proposal_order=up").status_code == 422


@pytest.mark.parametrize("path", ["/sites", "/weak-areas"])
def test_changing_the_period_keeps_the_tables_filter_and_sorts(officer: TestClient, seeded: Any,
                                                              path: str) -> None:
    state = {"carrier": "vnpt", "sort": "tests", "order": "desc"}
    if path == "/weak-areas":
        state |= {"proposal_sort": "impact", "proposal_order": "asc"}
    html = officer.get(f"{path}?lang=en&" + urlencode(state)).text
    sent = _get_form(html, "period")
    assert {k: v for k, v in sent.items() if k not in ("from", "to")} == state
    earlier = (date.fromisoformat(sent["from"]) - timedelta(days=7)).isoformat()
    moved = officer.get(f"{path}?lang=en&" + urlencode(sent | {"from": earlier})).text
    assert _get_form(moved, "period") == sent | {"from": earlier}
    # the carrier filter, the export links and the sort links keep the new period
    assert _get_form(moved, "period table-tools") == sent | {"from": earlier}
    assert f'.csv?from={earlier}&amp;to={sent["to"]}&amp;carrier=vnpt"' in moved
    links = re.findall(r'<a class="sort" href="([^"]+)">', moved)
    assert links and all(h.startswith(f"?from={earlier}&amp;to={sent['to']}&amp;carrier=vnpt&amp;")
                         for h in links)
    assert 'aria-sort="descending"' in moved and "VNPT (VinaPhone)" in moved
    assert "<td>Viettel</td>" not in moved and "<td>MobiFone</td>" not in moved


def test_exports_stop_at_their_cap_and_say_so(officer: TestClient, seeded: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(behind, "EXPORT_MAX_ROWS", 3)
    query = f"target=site&id={quote(HOSTILE_ID)}"
    cut = officer.get(f"/measurements.csv?{query}")
    assert cut.headers["x-lomsong-truncated"] == "true" and len(_csv(cut.text)) == 3
    data = json.loads(officer.get(f"/measurements.geojson?{query}").text)
    assert (data["truncated"], data["row_cap"], len(data["features"])) == (True, 3, 3)
    whole = officer.get(f"/measurements.csv?{query}&outcome=failed")
    assert whole.headers["x-lomsong-truncated"] == "false" and len(_csv(whole.text)) == 2


def test_exports_beyond_the_slots_wait_then_are_refused(officer: TestClient, seeded: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from lomsong.collector.dashboard import pages_behind

    monkeypatch.setattr(pages_behind, "_EXPORT_WAIT_S", 0.2)
    query = f"target=site&id={quote(HOSTILE_ID)}"
    taken = [pages_behind._EXPORTS.acquire(timeout=1) for _ in range(pages_behind.EXPORTS_AT_ONCE)]
    try:
        busy = officer.get(f"/measurements.csv?{query}")
        assert busy.status_code == 503 and busy.headers["retry-after"] == "30"
    finally:
        for _ in taken:
            pages_behind._EXPORTS.release()
    assert officer.get(f"/measurements.csv?{query}").status_code == 200
