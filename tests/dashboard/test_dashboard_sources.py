"""The map page states the measurements per source and method; phone results are their own layer,
counted in the cell statistics only when the ward's thresholds file says so."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from lomsong import synthetic
from lomsong.collector.app import create_app
from lomsong.collector.dashboard import survey_config
from lomsong.collector.settings import Settings
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.probe.record import Access, Carrier, Kind, Measurement, PositionSource, Source

from .conftest import OFFICER, add_users, seed_survey, sign_in

PHONES = 7
_DATA = re.compile(r'<script type="application/json" id="lomsong-browser-points">(.*?)</script>',
                   re.DOTALL)


def _phones(conn: psycopg.Connection[Any]) -> None:
    lon, lat = synthetic.SERVICE_POINTS[0].lonlat
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    records = [Measurement(
        probe_id="web-0123456789abcdef", measured_at=start + timedelta(minutes=20 * i),
        kind=Kind.THROUGHPUT_DOWN, tool="lomsong-web", source=Source.BROWSER,
        carrier=Carrier.VIETTEL, access=Access.LTE, download_mbps=55.5, lat=lat, lon=lon,
        position_source=PositionSource.BROWSER, site_id=synthetic.SERVICE_POINTS[0].site_id)
        for i in range(PHONES)]
    ingest(conn, [StoredRecord(m, m.measured_at, m.clock) for m in records], datetime.now(UTC))


def _rows(html: str) -> list[list[str]]:
    table = html[html.index('<table class="data sources">'):]
    table = table[:table.index("</table>")]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>",
                                                                          table, re.DOTALL)][1:]


def _points(frame: str) -> dict[str, Any]:
    found = _DATA.search(frame)
    assert found, "no browser layer in the map"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def test_map_page_counts_sources_and_draws_phones_apart(
        officer: TestClient, conn: psycopg.Connection[Any]) -> None:
    seed_survey(conn, days=1, walks=1)
    _phones(conn)
    page = officer.get("/map?lang=en")
    assert page.status_code == 200
    rows = {r[0]: r for r in _rows(page.text)}
    assert rows["Phones and browsers"][1:3] == ["lomsong-web", str(PHONES)]
    assert rows["Phones and browsers"][4] == "No"
    assert rows["Synthetic (simulated) data"][4] == "Yes"
    frame = officer.get("/map/frame?lang=en").text
    data = _points(frame)
    assert data["title"] == "Phone result (browser): not counted in the cell statistics"
    assert len(data["points"]) == PHONES
    assert ["Download", "55.5 Mbps"] in data["points"][0]["values"]


def test_a_ward_that_counts_phones_sets_it_in_its_thresholds_file(
        settings: Settings, conn: psycopg.Connection[Any], tmp_path: Path) -> None:
    ward = tmp_path / "ward.toml"
    ward.write_text('[sources]\nin_statistics = ["probe", "synthetic", "browser"]\n',
                    encoding="utf-8")
    seed_survey(conn, days=1, walks=1)
    _phones(conn)
    add_users(conn)
    counted = settings.model_copy(update={"thresholds_file": ward})
    with TestClient(create_app(counted), follow_redirects=False) as client:
        assert sign_in(client, OFFICER).status_code == 303
        rows = {r[0]: r for r in _rows(client.get("/map?lang=en").text)}
        assert rows["Phones and browsers"][4] == "Yes"
        frame = client.get("/map/frame?lang=en").text
        assert _points(frame)["title"] == "Phone result (browser): counted in the cell statistics"
    with pytest.raises(ValueError, match=r"LOMSONG_THRESHOLDS_FILE: .*file not found"):
        survey_config(settings.model_copy(update={"thresholds_file": tmp_path / "none.toml"}))
