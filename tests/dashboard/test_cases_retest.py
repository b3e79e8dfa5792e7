"""Re-test of a done case in real PostgreSQL: planned, then judged only on later measurements."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from lomsong.analysis.thresholds import load_thresholds
from lomsong.collector.caseflow import MoveRefused
from lomsong.collector.retest import judge_case, plan_retest
from lomsong.collector.storage.case_retests import get_plan, list_verdicts
from lomsong.collector.storage.cases import get_case, move_case
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.probe.record import Access, Carrier, Kind, Measurement, PositionSource

from .cases_helpers import DINH_CONG, DINH_CONG_POINT, actor, add_case_users, new_case
from .tests_support import plain_only

db_server = plain_only
TODAY = date(2026, 12, 20)
SENT_ON = date(2026, 12, 1)
DONE_AT = datetime(2026, 12, 10, 3, 0, tzinfo=UTC)


def _tests(start: datetime, speeds: list[float], *, carrier: Carrier = Carrier.VIETTEL,
           north_m: float = 30.0, probe: str = "pi-dc-ubnd",
           source: PositionSource = PositionSource.SITE) -> list[Measurement]:
    lat, lon = DINH_CONG_POINT
    # one test every 5 h: spread over several 4-hour slots, as the sample rule asks
    return [Measurement(probe_id=probe, measured_at=start + timedelta(hours=5 * i),
                        kind=Kind.THROUGHPUT_DOWN, tool="iperf3", carrier=carrier,
                        access=Access.LTE, download_mbps=speed, bytes_used=10_000_000,
                        duration_s=4.0, lat=lat + north_m / 111_000, lon=lon,
                        position_source=source)
            for i, speed in enumerate(speeds)]


def _store(conn: psycopg.Connection[Any], measurements: list[Measurement]) -> None:
    ingest(conn, [StoredRecord(measurement=m, time=m.measured_at, clock=m.clock)
                  for m in measurements], datetime.now(UTC), DINH_CONG)


def _done_case(conn: psycopg.Connection[Any]) -> int:
    add_case_users(conn)
    case_id = new_case(conn)
    move_case(conn, case_id, "sent", actor("dc.canbo"), TODAY, "",
              {"sent_on": SENT_ON, "document_no": "45/UBND", "reply_due_on": date(2026, 12, 8)})
    move_case(conn, case_id, "planned", actor("viettel.a"), TODAY, "",
              {"action": "Nâng cấp trạm", "carrier_site_code": "HNI0042",
               "promised_on": date(2026, 12, 15)})
    move_case(conn, case_id, "done", actor("viettel.a"), TODAY, "", {"done_at": DONE_AT})
    return case_id


def test_fix_verified_with_before_after_comparison(conn: psycopg.Connection[Any]) -> None:
    case_id = _done_case(conn)
    _store(conn, _tests(datetime(2026, 11, 20, tzinfo=UTC), [12.0 + i for i in range(12)]))
    _store(conn, _tests(DONE_AT + timedelta(hours=1), [55.0 + i for i in range(12)]))
    # Not counted: another carrier, too far (500 m), and before the done time.
    _store(conn, _tests(DONE_AT + timedelta(hours=2), [3.0] * 12, carrier=Carrier.VNPT,
                        probe="pi-vnpt"))
    _store(conn, _tests(DONE_AT + timedelta(hours=3), [2.0] * 12, north_m=500.0, probe="far"))
    judged = judge_case(conn, case_id, actor("dc.canbo"), TODAY, load_thresholds())
    result = judged.result
    assert judged.case.state == "verified"
    assert (result.outcome, result.before.judged, result.after.judged) == ("met", 12, 12)
    assert (result.before.status, result.after.status) == ("confirmed_weak", "ok")
    assert result.mwu_p_value is not None and result.mwu_p_value < 0.001
    assert result.share_difference == 1.0
    assert result.share_difference_lo is not None and result.share_difference_lo > 0.5
    stored = list_verdicts(conn, case_id, actor("dc.canbo").scope)
    assert stored[0].outcome == "met" and stored[0].comparison["after"]["judged"] == 12


def test_only_tests_after_done_time_count(conn: psycopg.Connection[Any]) -> None:
    case_id = _done_case(conn)
    # more than 90 days before the ask: not in the "before" sample
    _store(conn, _tests(datetime(2026, 8, 1, tzinfo=UTC), [5.0] * 10))
    # fast tests while the carrier worked (after sent, before done) prove nothing
    _store(conn, _tests(datetime(2026, 12, 2, tzinfo=UTC), [80.0] * 20))
    _store(conn, _tests(DONE_AT + timedelta(hours=1), [80.0] * 2))
    judged = judge_case(conn, case_id, actor("tp.admin"), TODAY, load_thresholds())
    assert judged.result.outcome == "not_enough_data"
    assert (judged.result.before.judged, judged.result.after.judged) == (0, 2)
    assert get_case(conn, case_id, actor("dc.canbo").scope, TODAY).state == "done"  # type: ignore[union-attr]


def test_fix_not_met_reopens(conn: psycopg.Connection[Any]) -> None:
    case_id = _done_case(conn)
    _store(conn, _tests(DONE_AT + timedelta(hours=1), [10.0] * 10))
    judged = judge_case(conn, case_id, actor("dc.canbo"), TODAY, load_thresholds())
    assert (judged.result.outcome, judged.case.state) == ("not_met", "reopened")
    assert judged.result.mwu_p_value is None  # no before sample: no test, no invented p-value


def test_carrier_and_other_ward_cannot_judge(conn: psycopg.Connection[Any]) -> None:
    case_id = _done_case(conn)
    for name in ("viettel.a", "dd.canbo"):
        with pytest.raises(MoveRefused, match="not found"):
            judge_case(conn, case_id, actor(name), TODAY, load_thresholds())


def test_plan_has_route_in_radius_probes_and_rule(conn: psycopg.Connection[Any]) -> None:
    case_id = _done_case(conn)
    _store(conn, _tests(datetime(2026, 11, 20, tzinfo=UTC), [20.0] * 3))
    _store(conn, _tests(datetime(2026, 11, 20, tzinfo=UTC), [20.0] * 3, probe="walker",
                        source=PositionSource.GPS))
    case = get_case(conn, case_id, actor("dc.canbo").scope, TODAY)
    assert case is not None
    plan_retest(conn, case, actor("dc.canbo"), load_thresholds())
    plan = get_plan(conn, case_id, actor("dc.canbo").scope)
    assert plan is not None and plan.probes == ["pi-dc-ubnd"]
    assert (plan.after_time, plan.min_samples, plan.min_slots) == (DONE_AT, 5, 2)
    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    points = ET.fromstring(plan.route_gpx).findall("g:rte/g:rtept", ns)
    lat0, lon0 = DINH_CONG_POINT
    for p in points:
        dy = (float(p.get("lat", "nan")) - lat0) * 111_195
        dx = (float(p.get("lon", "nan")) - lon0) * 111_195 * math.cos(math.radians(lat0))
        assert math.hypot(dx, dy) < case.radius_m
    assert len(points) > 8
