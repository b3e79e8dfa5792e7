"""Hostile text in every field a probe, an importer, an admin upload or a user can set, then the
whole dashboard in real Chromium (Debian's /usr/bin/chromium), both languages.

Probe fields (band, NR band, CA bands, server, interface, tool version, error message, site id),
service-point names, addresses and ids, the ward name and probe status (last error, version)
carry the payloads of `payloads.PAYLOADS` (and a very long string). Chromium signs in as the
administrator and opens every page in Vietnamese and English, the map frame with every popup and
tooltip open; no dialog may fire and the console must stay clean. The PDF report shows the text
literally (pdftotext), and CSV cells are neutralised.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from browserkit import ARGS, CHROMIUM, Watch, live_collector, open_map_items
from payloads import PAYLOADS, tagged

from lomsong import synthetic
from lomsong.collector.dashboard.security import hash_password
from lomsong.collector.storage.fleet import ProbeStatus, record_status
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.collector.storage.sites import ServicePoint, replace_sites, set_ward
from lomsong.collector.storage.users import create_user
from lomsong.probe.record import Measurement

ADMIN = ("an.admin", "mat-khau-quan-tri-1")
PAGES = ("/map", "/sites", "/weak-areas", "/planner", "/fleet", "/downloads", "/admin")
_PROBE_TEXT = {"band": 16, "nr_band": 16, "ca_bands": 64, "server": 255, "interface": 64,
               "tool_version": 100, "error_message": 500, "site_id": 64}
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing")


def _hostile(m: Measurement, n: int) -> Measurement:
    """`m` with each probe text field set to a payload, validated as the API would."""
    changes = {f: tagged(f, n + i, limit) for i, (f, limit) in enumerate(_PROBE_TEXT.items())
               if f != "site_id" or m.site_id is None}
    return Measurement.model_validate({**m.model_dump(), **changes})


def _seed(conn: psycopg.Connection[Any]) -> None:
    create_user(conn, ADMIN[0], hash_password(ADMIN[1]), "admin")
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=3)
    records = [StoredRecord(measurement=h, time=h.measured_at, clock=h.clock)
               for n, m in enumerate(synthetic.survey(start, days=3, walks=2))
               for h in [_hostile(m, n)]]
    for i in range(0, len(records), 2_000):
        ingest(conn, records[i:i + 2_000], datetime.now(UTC))
    replace_sites(conn, [
        ServicePoint(p.site_id if n else tagged("site_id", 3, 64), tagged("name", n, 200),
                     p.site_type, tagged("address", n + 4, 300), p.lonlat[1], p.lonlat[0])
        for n, p in enumerate(synthetic.SERVICE_POINTS)])
    set_ward(conn, PAYLOADS[2], json.dumps(
        {"type": "Polygon", "coordinates": [synthetic.ward_boundary()]}))
    record_status(conn, "synthetic-pi", ProbeStatus(
        queue_pending=1, rejected=0, dropped=0, last_upload_at=datetime.now(UTC),
        budget_used_bytes=1, budget_limit_bytes=2, clock="synced", last_error=PAYLOADS[0],
        version=PAYLOADS[3][:32]), datetime.now(UTC))


def _get(opener: Any, url: str) -> bytes:
    with opener.open(url, timeout=120) as reply:
        body: bytes = reply.read()
        return body


def test_every_page_shows_hostile_text_as_text(migrated_url: str,
                                               conn: psycopg.Connection[Any]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    _seed(conn)
    with live_collector(migrated_url) as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            watch = Watch(page)
            page.goto(f"{base}/login")
            page.fill("input[name=username]", ADMIN[0])
            page.fill("input[name=password]", ADMIN[1])
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/map")
            shown: list[str] = []
            for lang in ("vi", "en"):
                for path in PAGES:
                    page.goto(f"{base}{path}?lang={lang}")
                    page.wait_for_load_state("load")
                    shown.append(page.inner_text("body"))
                page.goto(f"{base}/map?lang={lang}")
                page.frame_locator("iframe.map").locator(
                    ".leaflet-marker-pane > .awesome-marker").first.wait_for()
                frame = next(f for f in page.frames if "/map/frame" in f.url)
                shown += open_map_items(frame, frame.content())
            cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        finally:
            browser.close()
    assert watch.dialogs == [] and watch.errors == [], (watch.dialogs, watch.errors)
    text = "\n".join(shown)
    for payload in PAYLOADS[:6]:
        assert payload in text, payload
    assert cookies


def test_pdf_and_csv_show_hostile_text_literally(migrated_url: str,
                                                 conn: psycopg.Connection[Any]) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext missing (apt-get install poppler-utils)")
    _seed(conn)
    with live_collector(migrated_url) as base:
        jar = urllib.request.HTTPCookieProcessor()
        opener = urllib.request.build_opener(jar)
        login = _get(opener, f"{base}/login").decode()
        token = login.split('name="csrf_token" value="')[1].split('"')[0]
        form = f"username={ADMIN[0]}&password={ADMIN[1]}&csrf_token={token}&next=/map"
        opener.open(urllib.request.Request(f"{base}/login", data=form.encode()), timeout=60)
        pdf = _get(opener, f"{base}/report.pdf?lang=en")
        points = _get(opener, f"{base}/downloads/service_points.csv").decode()
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode()
    for payload in (PAYLOADS[2], PAYLOADS[5]):
        assert payload in text or payload.replace('"', "”") in text, payload
    for row in csv.reader(io.StringIO(points, newline="")):
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
