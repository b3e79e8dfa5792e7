"""Officer pages on a seeded synthetic survey: map, tables, fleet, planner, downloads, report."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient

from lomsong import synthetic
from lomsong.collector.storage.sites import ServicePoint, replace_sites

from .conftest import seed_survey

_NO_DATA_VI = "Không có dữ liệu đo trong kỳ này"
_EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture
def seeded(officer: TestClient, conn: psycopg.Connection[Any]) -> TestClient:
    seed_survey(conn)
    return officer


def test_map_page_frames_an_offline_map(seeded: TestClient) -> None:
    page = seeded.get("/map")
    assert page.status_code == 200
    src = re.search(r'<iframe class="map"[^>]* src="([^"]+)"', page.text)
    assert src is not None
    frame = seeded.get(src.group(1).replace("&amp;", "&"))
    assert frame.status_code == 200
    html = frame.text
    assert '/static/vendor/leaflet/leaflet.js' in html
    assert not _EXTERNAL.search(html), "the map links something outside this server"
    for name in ("Viettel", "Vùng sóng yếu", "Điểm phục vụ", synthetic.SERVICE_POINTS[0].name):
        assert name in html
    assert frame.headers["x-frame-options"] == "SAMEORIGIN"
    nonce = re.search(r"'nonce-([^']+)'", frame.headers["content-security-policy"])
    assert nonce is not None and "'sha256-" not in frame.headers["content-security-policy"]
    assert html.count(f'<script nonce="{nonce.group(1)}">') == 2
    again = seeded.get(src.group(1).replace("&amp;", "&"))
    assert f"'nonce-{nonce.group(1)}'" not in again.headers["content-security-policy"]
    for asset in re.findall(r'(?:src|href)="(/static/vendor/[^"]+)"', html):
        assert seeded.get(asset).status_code == 200, asset


def test_map_in_english_and_by_speed(seeded: TestClient) -> None:
    html = seeded.get("/map/frame?lang=en&mode=speed").text
    assert "Median download speed" in html and "Weak area" in html
    assert all(word in html for word in ("Carrier", "Technology", "Time window"))
    assert seeded.get("/map/frame?mode=bogus").status_code == 422


def test_survey_is_cached_until_the_data_changes(seeded: TestClient,
                                                 conn: psycopg.Connection[Any]) -> None:
    t0 = time.perf_counter()
    first = seeded.get("/sites").text
    cold_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = seeded.get("/sites").text
    warm_s = time.perf_counter() - t0
    assert warm_s < cold_s
    cache = seeded.app.state.survey_cache  # type: ignore[attr-defined]
    assert len(cache.cache) == 1
    conn.execute("UPDATE service_points SET name = 'Tên mới', updated_at = now()"
                 " WHERE site_id = 'hcc-01'")
    seeded.get("/sites")  # the new analysis is made (waited for, or in the background)
    assert cache.wait_idle(120)
    changed = seeded.get("/sites").text
    assert "Tên mới" in changed and "Tên mới" not in first and first == again
    assert len(cache.cache) == 1  # one survey per (ward, period): the new one replaced the old


def test_service_points_table(seeded: TestClient) -> None:
    html = seeded.get("/sites").text
    for point in synthetic.SERVICE_POINTS:
        assert point.name in html
    assert "Mbps" in html and re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", html)
    assert re.search(r'class="status (ok|likely_ok|likely_weak|confirmed_weak|dead_spot)"', html)
    assert re.search(r"\d+ \(\d+ thất bại\)", html)  # failed tests beside the median
    # each row names the target it is judged against: 40 Mbps for 4G, the plan for a fixed line
    assert "Ngưỡng so sánh" in html and '<td class="num">40 Mbps' in html
    assert "80% tốc độ gói cước" in html


def test_weak_areas_ranked_and_planner(seeded: TestClient) -> None:
    weak = seeded.get("/weak-areas").text
    assert "Đề xuất" in weak and "Vùng sóng yếu" in weak
    # a proposal's evidence is in the page's language, not the analysis's English notes
    assert "below target" not in weak and "Trung vị tải xuống: " in weak
    english = seeded.get("/weak-areas?lang=en").text
    assert "Median download: " in english and "Trung vị" not in english
    seeded.get("/weak-areas?lang=vi")  # back to Vietnamese for the rest
    assert re.search(r"\d+ \(\d+ thất bại\)", weak) and "mức chắc chắn: " in weak
    assert re.search(r"(Cả ngày|Giờ cao điểm): \d+%", weak)  # the deciding window
    ranks = [int(r) for r in re.findall(r'<tr><td class="num">(\d+)</td>', weak)]
    assert ranks and ranks == sorted(ranks)
    planner = seeded.get("/planner").text
    assert "Lộ trình đo đề xuất" in planner and "Còn thiếu" in planner


def test_fleet_page_shows_status_reports(seeded: TestClient) -> None:
    html = seeded.get("/fleet").text
    assert "synthetic-pi" in html and "synthetic-walk" in html
    assert "iperf3: connection refused (wwan1)" in html
    assert "1.250,0 MB / 5.000,0 MB (25%)" in html and "đã đồng bộ" in html


def test_downloads_csv_geopackage_and_report(seeded: TestClient) -> None:
    points = seeded.get("/downloads/service_points.csv")
    assert points.status_code == 200 and "attachment" in points.headers["content-disposition"]
    table = pd.read_csv(io.StringIO(points.text))
    assert set(table["site_id"]) == {p.site_id for p in synthetic.SERVICE_POINTS}
    assert seeded.get("/downloads/secrets.csv").status_code == 404
    gpkg = seeded.get("/downloads/survey.gpkg")
    assert gpkg.status_code == 200
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.gpkg"
        path.write_bytes(gpkg.content)
        with sqlite3.connect(path) as db:
            layers = {r[0] for r in db.execute("SELECT table_name FROM gpkg_contents")}
    assert {"cells", "weak_areas", "service_points", "proposals", "boundary"} <= layers
    pdf = seeded.get("/report.pdf?carrier=viettel")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert seeded.get("/report.pdf?carrier=nobody").status_code == 422
    assert seeded.get("/report.pdf?report_lang=fr").status_code == 422


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_empty_period_says_so(officer: TestClient) -> None:
    assert "0 phép đo trong kỳ này" in officer.get("/map").text
    frame = officer.get("/map/frame")
    assert frame.status_code == 200 and _NO_DATA_VI in frame.text
    nameless = officer.get("/report.pdf")   # issue 14: never a letter from "Địa bàn: –"
    assert nameless.status_code == 409 and "a report to a carrier needs it" in nameless.text
    assert officer.get("/map?from=2026-11-10&to=2026-11-01").status_code == 422


def test_csv_download_cells_are_never_formulas(officer: TestClient,
                                               conn: psycopg.Connection[Any]) -> None:
    seed_survey(conn)
    hostile = ['=HYPERLINK("http://x","y")', "+1+2", "-3+4", "@SUM(A1)", "\tTAB", "\rCR"]
    replace_sites(conn, [
        ServicePoint(p.site_id, hostile[i % len(hostile)], p.site_type, hostile[-1 - i % 6],
                     p.lonlat[1], p.lonlat[0])
        for i, p in enumerate(synthetic.SERVICE_POINTS)])
    reply = officer.get("/downloads/service_points.csv")
    assert reply.status_code == 200
    rows = list(csv.reader(io.StringIO(reply.text, newline="")))
    names = {row[rows[0].index("name")] for row in rows[1:]}
    assert names == {"'" + h for h in hostile[:len(synthetic.SERVICE_POINTS)]}
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
            assert not (cell.startswith("-") and not re.fullmatch(r"-[0-9.e+-]+", cell)), cell


@pytest.mark.parametrize("query", ["from=9999-12-01&to=9999-12-31", "from=0001-01-01",
                                   "to=0001-01-05", "from=2026-02-30"])
def test_period_extremes_are_4xx_on_every_page(officer: TestClient, query: str) -> None:
    for path in ("/map", "/map/frame", "/sites", "/weak-areas", "/planner", "/downloads",
                 "/downloads/survey.gpkg", "/downloads/cells.csv", "/report.pdf"):
        resp = officer.get(f"{path}?{query}")
        assert resp.status_code == 422, (path, resp.status_code)
        assert "Từ ngày" in resp.text or "Đến ngày" in resp.text, (path, resp.text[:200])
        assert "outside" not in resp.text and "is not a date" not in resp.text, path


def test_a_row_stored_at_9999_before_the_fix_does_not_break_the_pages(
        officer: TestClient, conn: psycopg.Connection[Any]) -> None:
    from datetime import UTC, datetime

    from lomsong.collector.storage.ingest import StoredRecord, ingest
    from lomsong.probe.record import ClockState

    seed_survey(conn)
    m = next(iter(synthetic.survey(datetime(2026, 11, 2, tzinfo=UTC), days=1, walks=0)))
    far = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
    old = m.model_copy(update={"measured_at": far, "clock": ClockState.UNSYNCED})
    ingest(conn, [StoredRecord(measurement=old, time=far, clock=ClockState.UNSYNCED)],
           datetime.now(UTC))
    for path in ("/fleet", "/map", "/sites", "/downloads"):
        assert officer.get(path).status_code == 200, path
