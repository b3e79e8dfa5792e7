"""A done case's re-test asks the nearby fixed probes to test more: stored on every tier, served
only to the probe it names (in its token's ward), ended when the case is judged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from lomsong.analysis.thresholds import load_thresholds
from lomsong.collector.app import create_app
from lomsong.collector.dashboard.security import hash_password
from lomsong.collector.retest import (
    EXTRA_EVERY_MIN,
    EXTRA_MAX_PER_DAY,
    EXTRA_WINDOW_DAYS,
    judge_case,
    plan_retest,
)
from lomsong.collector.settings import Settings
from lomsong.collector.storage.cases import get_case, move_case
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.collector.storage.retest_requests import (
    MAX_PER_PROBE,
    RetestRequest,
    end_requests,
    list_requests,
    requests_for_probe,
    save_requests,
)
from lomsong.collector.storage.scope import Scope
from lomsong.collector.storage.tokens import create_token
from lomsong.probe.record import Access, Carrier, Kind, Measurement, PositionSource, Source
from lomsong.probe.retest import parse_schedule

from .cases_helpers import (
    DINH_CONG,
    DINH_CONG_POINT,
    DONG_DA,
    PASSWORD,
    actor,
    add_case_users,
    new_case,
)
from .conftest import csrf_of, sign_in

TODAY = date(2026, 12, 20)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}

DONE_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)


def _tests(start: datetime, speeds: list[float], *, probe: str, carrier: Carrier = Carrier.VIETTEL,
           position: PositionSource = PositionSource.SITE, north_m: float = 30.0,
           source: Source = Source.PROBE) -> list[Measurement]:
    lat, lon = DINH_CONG_POINT
    return [Measurement(probe_id=probe, measured_at=start + timedelta(hours=5 * i), source=source,
                        kind=Kind.THROUGHPUT_DOWN, tool="iperf3", carrier=carrier, access=Access.LTE,
                        download_mbps=speed, lat=lat + north_m / 111_000, lon=lon,
                        position_source=position)
            for i, speed in enumerate(speeds)]


def _store(conn: psycopg.Connection[Any], records: list[Measurement], ward: str | None) -> None:
    ingest(conn, [StoredRecord(m, m.measured_at, m.clock) for m in records], datetime.now(UTC), ward)


def _done_case(conn: psycopg.Connection[Any]) -> int:
    add_case_users(conn)
    case_id = new_case(conn)
    move_case(conn, case_id, "sent", actor("dc.canbo"), TODAY, "",
              {"sent_on": date(2026, 12, 1), "document_no": "45/UBND", "reply_due_on": date(2026, 12, 8)})
    move_case(conn, case_id, "planned", actor("viettel.a"), TODAY, "",
              {"action": "Nâng cấp trạm", "carrier_site_code": "HNI0042", "promised_on": date(2026, 12, 15)})
    move_case(conn, case_id, "done", actor("viettel.a"), TODAY, "", {"done_at": DONE_AT})
    return case_id


def _plan(conn: psycopg.Connection[Any], case_id: int) -> None:
    case = get_case(conn, case_id, actor("dc.canbo").scope, TODAY)
    assert case is not None
    plan_retest(conn, case, actor("dc.canbo"), load_thresholds())


def _nearby(conn: psycopg.Connection[Any]) -> None:
    before = DONE_AT - timedelta(days=20)
    _store(conn, _tests(before, [12.0] * 3, probe="pi-dc-ubnd"), DINH_CONG)  # asked
    _store(conn, _tests(before, [12.0] * 3, probe="pi-dc-old"), None)  # asked, unassigned ward
    _store(conn, _tests(before, [12.0] * 3, probe="pi-dc-vnpt", carrier=Carrier.VNPT), DINH_CONG)
    _store(conn, _tests(before, [12.0] * 3, probe="walker", position=PositionSource.GPS), DINH_CONG)
    _store(conn, _tests(before, [12.0] * 3, probe="pi-far", north_m=2_000.0), DINH_CONG)
    _store(conn, _tests(before, [12.0] * 3, probe="synthetic-pi", source=Source.SYNTHETIC), DINH_CONG)


def test_planning_asks_the_nearby_fixed_probes_of_the_carrier(conn: psycopg.Connection[Any]) -> None:
    case_id = _done_case(conn)
    _nearby(conn)
    before = datetime.now(UTC)
    _plan(conn, case_id)
    asked = list_requests(conn, case_id)
    assert [(r.probe_id, r.ward_code) for r in asked] == [("pi-dc-old", None), ("pi-dc-ubnd", DINH_CONG)]
    for r in asked:
        assert (r.carrier, r.access, r.every_min, r.max_extra_per_day) == (
            "viettel", "4g", EXTRA_EVERY_MIN, EXTRA_MAX_PER_DAY)
        assert before - timedelta(seconds=1) <= r.starts_at <= datetime.now(UTC)
        assert r.ends_at - r.starts_at == timedelta(days=EXTRA_WINDOW_DAYS)
    # Planning again replaces the requests (no duplicates).
    _plan(conn, case_id)
    assert len(list_requests(conn, case_id)) == 2


def test_requests_for_a_probe_are_its_own_unended_ones(conn: psycopg.Connection[Any]) -> None:
    case_ids = [_done_case(conn)] + [new_case(conn) for _ in range(MAX_PER_PROBE + 1)]
    now = datetime.now(UTC)
    for i, case_id in enumerate(case_ids):
        save_requests(conn, case_id, [RetestRequest(
            case_id, "pi-dc-ubnd", DINH_CONG, "viettel", "4g", now - timedelta(hours=1),
            now + timedelta(hours=1 + i), 10, 72)])
    save_requests(conn, case_ids[0], [
        RetestRequest(case_ids[0], "pi-dc-ubnd", DINH_CONG, "viettel", "4g", now - timedelta(hours=1),
                      now + timedelta(minutes=5), 10, 72),
        RetestRequest(case_ids[0], "pi-dc-ubnd", DONG_DA, "viettel", "4g", now - timedelta(hours=1),
                      now + timedelta(hours=9), 10, 72)])  # the same name in another ward
    mine = requests_for_probe(conn, "pi-dc-ubnd", Scope.ward(DINH_CONG), now)
    assert len(mine) == MAX_PER_PROBE and {r.ward_code for r in mine} == {DINH_CONG}
    assert mine[0].case_id == case_ids[0]  # the soonest to end first
    assert requests_for_probe(conn, "pi-dc-ubnd", Scope.ward(DINH_CONG), now + timedelta(hours=40)) == []
    assert requests_for_probe(conn, "pi-other", Scope.ward(DINH_CONG), now) == []
    namesake = requests_for_probe(conn, "pi-dc-ubnd", Scope.ward(DONG_DA), now)
    assert [r.ward_code for r in namesake] == [DONG_DA]
    assert end_requests(conn, case_ids[0], now) == 2
    assert [r.ends_at for r in list_requests(conn, case_ids[0])] == [now, now]
    with pytest.raises(ValueError, match="must be of case"):
        save_requests(conn, case_ids[1], mine[:2])


def test_judging_the_case_ends_its_requests(conn: psycopg.Connection[Any]) -> None:
    # The judge reads the rows of the case's own ward: the tests here are of its probe there.
    case_id = _done_case(conn)
    _nearby(conn)
    _store(conn, _tests(DONE_AT - timedelta(days=30), [12.0 + i for i in range(12)],
                        probe="pi-dc-ubnd"), DINH_CONG)
    case = get_case(conn, case_id, actor("dc.canbo").scope, TODAY)
    assert case is not None
    plan_retest(conn, case, actor("dc.canbo"), load_thresholds())
    now = datetime.now(UTC)
    assert requests_for_probe(conn, "pi-dc-ubnd", Scope.ward(DINH_CONG), now)
    judged = judge_case(conn, case_id, actor("dc.canbo"), TODAY, load_thresholds())
    assert judged.result.outcome == "not_enough_data"  # no tests after the done time yet: kept
    assert requests_for_probe(conn, "pi-dc-ubnd", Scope.ward(DINH_CONG), datetime.now(UTC))
    _store(conn, _tests(DONE_AT + timedelta(minutes=5), [60.0 + i for i in range(12)],
                        probe="pi-dc-ubnd"), DINH_CONG)  # the fix: the re-test's tests (12 over 55 h)
    judged = judge_case(conn, case_id, actor("dc.canbo"), TODAY, load_thresholds())
    assert judged.result.outcome == "met", judged.result.as_json()
    assert requests_for_probe(conn, "pi-dc-old", Scope.ward(None), datetime.now(UTC)) == []
    assert requests_for_probe(conn, "pi-dc-ubnd", Scope.ward(DINH_CONG), datetime.now(UTC)) == []


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_the_schedule_route_serves_a_probe_its_own_requests_only(
        client: TestClient, conn: psycopg.Connection[Any]) -> None:
    case_id = _done_case(conn)
    _nearby(conn)
    _plan(conn, case_id)
    tokens = {
        "asked": create_token(conn, "pi-dc-ubnd", "probe", Scope.ward(DINH_CONG, write=True)),
        "old": create_token(conn, "pi-dc-old", "probe"),
        "other": create_token(conn, "pi-dc-vnpt", "probe", Scope.ward(DINH_CONG, write=True)),
        "elsewhere": create_token(conn, "pi-dd-01", "probe", Scope.ward(DONG_DA, write=True)),
        "reader": create_token(conn, "officer", "reader", Scope.ward(DINH_CONG, write=True)),
    }
    resp = client.get("/api/v1/probes/schedule", headers=auth(tokens["asked"]))
    assert resp.status_code == 200, resp.text
    (request,) = parse_schedule(resp.json())  # what the probe's scheduler reads
    assert (request.case_id, request.carrier, request.every_min) == (case_id, Carrier.VIETTEL, 10)
    assert [r["case_id"] for r in client.get(
        "/api/v1/probes/schedule", headers=auth(tokens["old"])).json()["retests"]] == [case_id]
    for other in ("other", "elsewhere"):  # another probe of the ward, and one of another ward
        resp = client.get("/api/v1/probes/schedule", headers=auth(tokens[other]))
        assert resp.status_code == 200 and resp.json()["retests"] == [], other
    assert client.get("/api/v1/probes/schedule", headers=auth(tokens["reader"])).status_code == 403
    assert client.get("/api/v1/probes/schedule").status_code == 401
    assert client.get("/api/v1/probes/schedule", headers=auth("lsp_wrong")).status_code == 401


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_the_case_page_says_what_the_probes_were_asked(
        settings: Settings, conn: psycopg.Connection[Any]) -> None:
    case_id = _done_case(conn)
    _nearby(conn)
    conn.execute("UPDATE dashboard_users SET password_hash = %s", (hash_password(PASSWORD),))
    with TestClient(create_app(settings), follow_redirects=False) as web:
        assert sign_in(web, ("dc.canbo", PASSWORD)).status_code == 303
        before = web.get(f"/cases/{case_id}")
        assert before.status_code == 200 and 'id="retest-requests"' not in before.text
        planned = web.post(f"/cases/{case_id}/retest/plan",
                           data={"csrf_token": csrf_of(before.text)})
        assert planned.status_code == 303, planned.text
        page = web.get(f"/cases/{case_id}").text
    line = page[page.index('id="retest-requests"'):].split("</p>")[0]
    assert "10 phút một lần" in line and "tối đa 72 lần đo thêm" in line
    assert "pi-dc-old, pi-dc-ubnd" in line
