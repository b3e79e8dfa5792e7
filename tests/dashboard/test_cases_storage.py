"""Cases in real PostgreSQL: the state machine per role, the scope of every read, the log."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest

from lomsong.collector.caseflow import MoveRefused
from lomsong.collector.storage.case_files import MAX_FILES_PER_CASE, add_file, list_files
from lomsong.collector.storage.cases import (
    get_case,
    list_cases,
    list_events,
    move_case,
    overdue_cases,
)

from .cases_helpers import CITY, DINH_CONG, DONG_DA, actor, add_case_users, new_case
from .tests_support import plain_only

db_server = plain_only
TODAY = date(2026, 12, 5)
SENT = {"sent_on": date(2026, 12, 1), "document_no": "123/UBND-VHXH",
        "reply_due_on": date(2026, 12, 10)}


@pytest.fixture
def cases_conn(conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    add_case_users(conn)
    return conn


def test_full_life_is_logged_with_who_and_states(cases_conn: psycopg.Connection[Any]) -> None:
    case_id = new_case(cases_conn)
    move_case(cases_conn, case_id, "sent", actor("dc.canbo"), TODAY, "gửi công văn", SENT)
    move_case(cases_conn, case_id, "acknowledged", actor("viettel.a"), TODAY, "đã nhận", {})
    planned = move_case(cases_conn, case_id, "planned", actor("viettel.b"), TODAY, "",
                        {"action": "Lắp trạm mới", "carrier_site_code": "HNI-DC-0042",
                         "promised_on": date(2026, 12, 20)})
    assert planned.carrier_site_code == "HNI-DC-0042"
    done = move_case(cases_conn, case_id, "done", actor("viettel.a"), TODAY, "",
                     {"done_at": datetime(2026, 12, 4, tzinfo=UTC)})
    assert done.state == "done"
    events = list_events(cases_conn, case_id, actor("tp.admin").scope)
    assert [(e.actor, e.from_state, e.to_state) for e in events] == [
        ("dc.canbo", None, "draft"), ("dc.canbo", "draft", "sent"),
        ("viettel.a", "sent", "acknowledged"), ("viettel.b", "acknowledged", "planned"),
        ("viettel.a", "planned", "done")]
    assert events[1].note == "gửi công văn"


@pytest.mark.parametrize(("name", "frm", "to"), [
    ("viettel.a", "draft", "sent"),  # a carrier does not send the ward's letter
    ("dc.canbo", "sent", "acknowledged"),  # an officer does not acknowledge for the carrier
    ("dc.canbo", "sent", "done"),
])
def test_role_may_not_make_move(cases_conn: psycopg.Connection[Any], name: str, frm: str,
                                to: str) -> None:
    case_id = new_case(cases_conn)
    if frm == "sent":
        move_case(cases_conn, case_id, "sent", actor("dc.canbo"), TODAY, "", SENT)
    with pytest.raises(MoveRefused, match=f"{frm} -> {to}|not found"):
        move_case(cases_conn, case_id, to, actor(name), TODAY, "", SENT)
    assert list_events(cases_conn, case_id, actor("tp.admin").scope)[-1].to_state == frm


def test_verified_only_by_a_judgement(cases_conn: psycopg.Connection[Any]) -> None:
    case_id = new_case(cases_conn)
    with pytest.raises(MoveRefused, match="draft -> verified is not allowed for this account"):
        move_case(cases_conn, case_id, "verified", actor("tp.admin"), TODAY, "", {})


def test_send_needs_document_number(cases_conn: psycopg.Connection[Any]) -> None:
    case_id = new_case(cases_conn)
    with pytest.raises(MoveRefused, match="document_no: required to move to sent"):
        move_case(cases_conn, case_id, "sent", actor("dc.canbo"), TODAY, "",
                  {**SENT, "document_no": ""})


def test_scope_ward_and_carrier(cases_conn: psycopg.Connection[Any]) -> None:
    mine = new_case(cases_conn)
    other_ward = new_case(cases_conn, ward=DONG_DA)
    vnpt = new_case(cases_conn, carrier="vnpt")
    for case_id in (mine, other_ward, vnpt):
        officer = "dc.canbo" if case_id != other_ward else "dd.canbo"
        move_case(cases_conn, case_id, "sent", actor(officer), TODAY, "", SENT)
    draft = new_case(cases_conn)

    def ids(name: str) -> set[int]:
        return {c.id for c in list_cases(cases_conn, actor(name).scope, TODAY)}

    assert ids("dc.canbo") == {mine, vnpt, draft}
    assert ids("dd.canbo") == {other_ward}
    assert ids("viettel.a") == {mine, other_ward}  # never a draft, never another carrier's
    assert ids("vnpt.a") == {vnpt}
    assert ids("tp.admin") == {mine, other_ward, vnpt, draft}
    assert get_case(cases_conn, mine, actor("dd.canbo").scope, TODAY) is None
    assert get_case(cases_conn, mine, actor("vnpt.a").scope, TODAY) is None
    with pytest.raises(MoveRefused, match="not found"):
        move_case(cases_conn, mine, "acknowledged", actor("vnpt.a"), TODAY, "", {})
    with pytest.raises(MoveRefused, match="not found"):
        move_case(cases_conn, mine, "closed", actor("dd.canbo"), TODAY, "", {})


def test_overdue_reply_and_promise(cases_conn: psycopg.Connection[Any]) -> None:
    late_reply = new_case(cases_conn)
    move_case(cases_conn, late_reply, "sent", actor("dc.canbo"), TODAY, "", SENT)
    late_work = new_case(cases_conn, ward=DINH_CONG)
    move_case(cases_conn, late_work, "sent", actor("dc.canbo"), TODAY, "", SENT)
    move_case(cases_conn, late_work, "planned", actor("viettel.a"), TODAY, "",
              {"action": "Tối ưu anten", "carrier_site_code": "", "promised_on": date(2026, 12, 8)})
    day = date(2026, 12, 9)
    assert {c.id for c in overdue_cases(cases_conn, CITY, day)} == {late_work}
    assert {c.id for c in overdue_cases(cases_conn, CITY, date(2026, 12, 11))} == {late_reply, late_work}
    flagged = {c.id: c.overdue for c in list_cases(cases_conn, actor("dc.canbo").scope, day)}
    assert flagged == {late_reply: False, late_work: True}


def test_files_are_capped_per_case(cases_conn: psycopg.Connection[Any]) -> None:
    case_id = new_case(cases_conn)
    for i in range(MAX_FILES_PER_CASE):
        assert add_file(cases_conn, case_id, f"f{i}.pdf", "application/pdf", b"%PDF-1.4",
                        actor("dc.canbo")) is not None
    assert add_file(cases_conn, case_id, "x.pdf", "application/pdf", b"%PDF-1.4",
                    actor("dc.canbo")) is None
    assert len(list_files(cases_conn, case_id, actor("dc.canbo").scope)) == MAX_FILES_PER_CASE
