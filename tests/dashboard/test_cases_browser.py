"""The whole life of a case in real headless Chromium (Debian's /usr/bin/chromium).

A ward officer of Định Công writes and sends an ask; a Viettel account acknowledges it, plans the
work and marks it done; re-test measurements arrive through the ingest API with a probe token;
the officer plans and judges the re-test, and the case is verified with its comparison shown.
With a residential group in a dead spot at the baseline, the verified fix moves the group
indicator on the ward's page and the city's page from 0/1 to 1/1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from livecollector import live_collector

from lomsong.collector.settings import Settings
from lomsong.collector.storage.groups import replace_groups
from lomsong.collector.storage.scope import Scope
from lomsong.collector.storage.tokens import create_token
from lomsong.probe.record import Access, Carrier, ErrorKind, Kind, Measurement, PositionSource

from .cases_helpers import DINH_CONG, DINH_CONG_POINT, PASSWORD, add_case_users
from .test_dashboard_browser import ARGS, ARTIFACTS, CHROMIUM

pytestmark = [
    pytest.mark.parametrize("db_server", ["plain"], indirect=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)"),
]


@pytest.fixture
def server(migrated_url: str, conn: psycopg.Connection[Any]) -> Iterator[tuple[str, str]]:
    add_case_users(conn, with_passwords=True)
    token = create_token(conn, "pi-dc-ubnd", "probe", Scope.ward(DINH_CONG, write=True))
    settings = Settings(database_url=migrated_url, pool_min_size=1, pool_max_size=4,
                        secret_key="browser-test-" + "k" * 32, alert_interval_s=0)
    with live_collector(settings) as base:
        yield base, token


def _tests(start: datetime, speeds: list[float]) -> list[dict[str, Any]]:
    lat, lon = DINH_CONG_POINT
    return [Measurement(probe_id="pi-dc-ubnd", measured_at=start + timedelta(hours=5 * i),
                        kind=Kind.THROUGHPUT_DOWN, tool="iperf3", carrier=Carrier.VIETTEL,
                        access=Access.LTE, download_mbps=s, bytes_used=10_000_000,
                        duration_s=4.0, lat=lat, lon=lon, position_source=PositionSource.SITE,
                        site_id="ubnd-dinh-cong").model_dump(mode="json")
            for i, s in enumerate(speeds)]


def _upload(base: str, token: str, records: list[dict[str, Any]]) -> None:
    answer = httpx.post(f"{base}/api/v1/measurements", json={"measurements": records},
                        headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code in (200, 201, 202), answer.text


def _sign_in(page: Any, base: str, name: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/**")


def _move(page: Any, to: str, **fields: str) -> None:
    form = page.locator(f"form.move[data-to={to}]")
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    form.locator("button[type=submit]").click()
    page.wait_for_url("**done=moved")


def test_ask_sent_planned_done_retested_verified(server: tuple[str, str],
                                                 conn: psycopg.Connection[Any]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    base, token = server
    ARTIFACTS.mkdir(exist_ok=True)
    now = datetime.now(UTC)
    # Before the ask: the probe at the ward's one-stop office saw slow Viettel 4G.
    _upload(base, token, _tests(now - timedelta(days=30), [9.0 + i for i in range(10)]))
    requests: list[str] = []
    problems: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900}, locale="vi-VN")
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: problems.append(str(e)))

            _sign_in(page, base, "dc.canbo")
            page.goto(f"{base}/cases")
            lat, lon = DINH_CONG_POINT
            for name, value in {"title": "Bộ phận một cửa UBND phường Định Công: 4G dưới 40 Mbps",
                                "lat": str(lat), "lon": str(lon), "site_id": "ubnd-dinh-cong"
                                }.items():
                page.fill(f"form[action='/cases'] [name={name}]", value)
            page.select_option("select[name=carrier]", "viettel")
            page.click("form[action='/cases'] button[type=submit]")
            page.wait_for_url("**done=created")
            case_url = page.url.split("?")[0]
            sent_on = (now - timedelta(days=20)).date().isoformat()
            reply_due = (now + timedelta(days=10)).date().isoformat()
            _move(page, "sent", sent_on=sent_on, document_no="215/UBND-VHXH",
                  reply_due_on=reply_due)
            assert "Đã gửi" in page.inner_text("#case-state")

            _sign_in(page, base, "viettel.a")
            assert page.url.endswith("/cases")
            page.goto(case_url)
            _move(page, "acknowledged", note="Đã nhận công văn")
            _move(page, "planned", action="Lắp thêm sector hướng UBND",
                  carrier_site_code="HNI-DCG-012",
                  promised_on=(now + timedelta(days=5)).date().isoformat())
            _move(page, "done", note="Đã phát sóng")
            assert "Nhà mạng báo đã xong" in page.inner_text("#case-state")
            page.screenshot(path=str(ARTIFACTS / "case-done-carrier.png"), full_page=True)

            # A browser cannot wait two days for re-test tests: the carrier's "done" is moved
            # back two days, and the probe's tests of those two days arrive through the API.
            case_id = int(case_url.rsplit("/", 1)[1])
            conn.execute("UPDATE cases SET done_at = %s WHERE id = %s",
                         (now - timedelta(days=2), case_id))
            _upload(base, token, _tests(now - timedelta(days=2) + timedelta(minutes=5),
                                        [62.0 + i for i in range(9)]))

            _sign_in(page, base, "dc.canbo")
            page.goto(case_url)
            page.click("form[action$='/retest/plan'] button")
            page.wait_for_url("**done=planned")
            assert "pi-dc-ubnd" in page.inner_text("#retest")
            page.click("#judge")
            page.wait_for_url("**done=judged")
            assert "Đã xác nhận bằng đo kiểm lại" in page.inner_text("#case-state")
            verdict = page.inner_text("#verdicts")
            assert "Đạt chỉ tiêu" in verdict and "10," in verdict and "9," in verdict
            history = page.inner_text("#history")
            assert "viettel.a" in history and "dc.canbo" in history
            page.screenshot(path=str(ARTIFACTS / "case-verified.png"), full_page=True)
        finally:
            browser.close()
    outside = [u for u in requests if urlsplit(u).hostname != "127.0.0.1"
               and not u.startswith(("data:", "about:"))]
    assert requests and outside == []
    assert problems == [], problems


def _failures(start: datetime, count: int) -> list[dict[str, Any]]:
    """The probe's tests of a dead spot: no service, one every 5 hours (several time slots)."""
    lat, lon = DINH_CONG_POINT
    return [Measurement(probe_id="pi-dc-ubnd", measured_at=start + timedelta(hours=5 * i),
                        kind=Kind.THROUGHPUT_DOWN, tool="iperf3", carrier=Carrier.VIETTEL,
                        access=Access.LTE, error_kind=ErrorKind.NO_SERVICE,
                        error_message="no service", lat=lat, lon=lon,
                        position_source=PositionSource.SITE,
                        site_id="ubnd-dinh-cong").model_dump(mode="json")
            for i in range(count)]


def _group_around(lat: float, lon: float, half_deg: float) -> str:
    ring = [[lon - half_deg, lat - half_deg], [lon + half_deg, lat - half_deg],
            [lon + half_deg, lat + half_deg], [lon - half_deg, lat + half_deg],
            [lon - half_deg, lat - half_deg]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def test_a_verified_fix_moves_the_residential_group_indicator(
        server: tuple[str, str], conn: psycopg.Connection[Any]) -> None:
    """Tổ dân phố 7 of Định Công is in a dead spot at the baseline; the carrier's fix is
    verified by re-test measurements after its done date, and the indicator on the ward's page
    and on the city's page moves from 0/1 to 1/1."""
    sync_api = pytest.importorskip("playwright.sync_api")
    base, token = server
    ARTIFACTS.mkdir(exist_ok=True)
    now = datetime.now(UTC)
    lat, lon = DINH_CONG_POINT
    replace_groups(conn, Scope.ward(DINH_CONG, write=True),
                   [("TDP7", "Tổ dân phố 7", _group_around(lat, lon, 0.0015))])
    _upload(base, token, _failures(now - timedelta(days=30), 10))
    local = ZoneInfo("Asia/Ho_Chi_Minh")
    today = now.astimezone(local).date()
    periods = (f"baseline_from={today - timedelta(days=31)}&baseline_to="
               f"{today - timedelta(days=20)}&from={today - timedelta(days=2)}&to={today}")
    problems: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900}, locale="vi-VN")
            page.on("pageerror", lambda e: problems.append(str(e)))

            def indicators() -> tuple[str, str]:
                _sign_in(page, base, "dc.canbo")
                page.goto(f"{base}/indicator?{periods}")
                ward = page.inner_text("#indicator td.indicator")
                _sign_in(page, base, "tp.admin")
                page.goto(f"{base}/city?{periods}")
                row = page.locator("tr", has_text="Phường Định Công").first
                city = row.locator("td.num").nth(3).inner_text()
                return ward.split("(")[0].strip(), city.split("(")[0].strip()

            assert indicators() == ("0 / 1", "0 / 1")

            _sign_in(page, base, "dc.canbo")
            page.goto(f"{base}/cases")
            for name, value in {"title": "Tổ dân phố 7: không có sóng Viettel",
                                "lat": str(lat), "lon": str(lon)}.items():
                page.fill(f"form[action='/cases'] [name={name}]", value)
            page.select_option("select[name=carrier]", "viettel")
            page.click("form[action='/cases'] button[type=submit]")
            page.wait_for_url("**done=created")
            case_url = page.url.split("?")[0]
            _move(page, "sent", sent_on=(now - timedelta(days=20)).date().isoformat(),
                  document_no="216/UBND-VHXH",
                  reply_due_on=(now + timedelta(days=10)).date().isoformat())
            _sign_in(page, base, "viettel.a")
            page.goto(case_url)
            _move(page, "planned", action="Phát sóng trạm mới", carrier_site_code="HNI-DCG-013",
                  promised_on=(now + timedelta(days=5)).date().isoformat())
            _move(page, "done", note="Đã phát sóng")

            # As in the test above: the carrier's "done" moved back two days, and the re-test
            # measurements of those two days arrive through the probe's ingest API.
            case_id = int(case_url.rsplit("/", 1)[1])
            conn.execute("UPDATE cases SET done_at = %s WHERE id = %s",
                         (now - timedelta(days=2), case_id))
            _upload(base, token, _tests(now - timedelta(days=2) + timedelta(minutes=5),
                                        [62.0 + i for i in range(9)]))
            _sign_in(page, base, "dc.canbo")
            page.goto(case_url)
            page.click("#judge")
            page.wait_for_url("**done=judged")
            assert "Đã xác nhận bằng đo kiểm lại" in page.inner_text("#case-state")

            assert indicators() == ("1 / 1", "1 / 1")
            page.screenshot(path=str(ARTIFACTS / "indicator-city.png"), full_page=True)
            _sign_in(page, base, "dc.canbo")
            page.goto(f"{base}/indicator?{periods}")
            groups = page.inner_text("#groups")
            assert "Tổ dân phố 7" in groups and "Lõm sóng" in groups
            page.screenshot(path=str(ARTIFACTS / "indicator-ward.png"), full_page=True)
        finally:
            browser.close()
    assert problems == [], problems
