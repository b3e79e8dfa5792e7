"""Cases and alerts through `Scope` in real PostgreSQL, on every tier: who sees which case, file,
history, re-test plan and alert; open and overdue asks per ward and carrier."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest

from lomsong.collector.caseflow import Actor, MoveRefused
from lomsong.collector.storage.alerts import (
    Condition,
    add_subscription,
    list_subscriptions,
    sync_alerts,
    undelivered,
)
from lomsong.collector.storage.case_files import add_file, get_file_content, list_files
from lomsong.collector.storage.case_retests import RetestPlan, get_plan, save_plan
from lomsong.collector.storage.cases import (
    AskCounts,
    ask_counts,
    get_case,
    list_cases,
    list_events,
    move_case,
    reply_case,
)
from lomsong.collector.storage.scope import ScopeError

from .cases_helpers import CITY, DINH_CONG, DONG_DA, actor, add_case_users, new_case

TODAY = date(2026, 12, 5)
SENT = {"sent_on": date(2026, 12, 1), "document_no": "12/UBND", "reply_due_on": date(2026, 12, 3)}
PDF = b"%PDF-1.4\n%%EOF\n"


def _sent(conn: psycopg.Connection[object], ward: str, carrier: str) -> int:
    case_id = new_case(conn, ward=ward, carrier=carrier, title=f"{ward} {carrier}")
    move_case(conn, case_id, "sent", actor("dc.canbo" if ward == DINH_CONG else "dd.canbo"),
              TODAY, "", SENT)
    return case_id


@pytest.fixture
def cases(conn: psycopg.Connection[object]) -> dict[str, int]:
    add_case_users(conn)
    made = {"dc_viettel": _sent(conn, DINH_CONG, "viettel"),
            "dd_viettel": _sent(conn, DONG_DA, "viettel"),
            "dd_vnpt": _sent(conn, DONG_DA, "vnpt"),
            "dd_draft": new_case(conn, ward=DONG_DA, carrier="viettel", title="draft")}
    add_file(conn, made["dd_vnpt"], "cv.pdf", "application/pdf", PDF, actor("dd.canbo"))
    return made


@pytest.mark.parametrize(("name", "seen"), [
    ("dc.canbo", {"dc_viettel"}),
    ("dd.canbo", {"dd_viettel", "dd_vnpt", "dd_draft"}),
    ("viettel.a", {"dc_viettel", "dd_viettel"}),  # its own carrier's, every ward, never drafts
    ("vnpt.a", {"dd_vnpt"}),
    ("tp.admin", {"dc_viettel", "dd_viettel", "dd_vnpt", "dd_draft"}),
])
def test_each_account_sees_its_scope(conn: psycopg.Connection[object], cases: dict[str, int],
                                     name: str, seen: set[str]) -> None:
    scope = actor(name).scope
    assert {c.id for c in list_cases(conn, scope, TODAY)} == {cases[k] for k in seen}
    for key, case_id in cases.items():
        visible = key in seen
        assert (get_case(conn, case_id, scope, TODAY) is not None) == visible, (name, key)
        assert bool(list_events(conn, case_id, scope)) == visible, (name, key)
    files = list_files(conn, cases["dd_vnpt"], scope)
    assert len(files) == ("dd_vnpt" in seen)
    content = get_file_content(conn, cases["dd_vnpt"], 1, scope) if files else None
    assert content is None or content[1] == PDF


def test_out_of_scope_and_read_only_change_nothing(conn: psycopg.Connection[object],
                                                   cases: dict[str, int]) -> None:
    target = cases["dd_vnpt"]
    before = list_events(conn, target, CITY)
    for name in ("dc.canbo", "viettel.a"):
        with pytest.raises(MoveRefused, match="not found"):
            move_case(conn, target, "acknowledged", actor(name), TODAY, "", {})
        with pytest.raises(MoveRefused, match="not found"):
            add_file(conn, target, "x.pdf", "application/pdf", PDF, actor(name))
        assert not reply_case(conn, target, actor(name), "trả lời")
    city_officer = Actor.of("tp.canbo", "city_officer", None, None)
    assert get_case(conn, target, city_officer.scope, TODAY) is not None  # reads every ward
    with pytest.raises(MoveRefused, match="not allowed for this account"):
        move_case(conn, target, "closed", city_officer, TODAY, "", {})
    with pytest.raises(MoveRefused, match="not found"):
        add_file(conn, target, "x.pdf", "application/pdf", PDF, city_officer)
    assert not reply_case(conn, target, city_officer, "trả lời")
    plan = RetestPlan(target, datetime.now(UTC), datetime.now(UTC), 10, 2, 4, [], "<gpx/>")
    for who in (city_officer, actor("dc.canbo")):
        with pytest.raises(MoveRefused, match="not found"):
            save_plan(conn, plan, who)
    assert get_plan(conn, target, CITY) is None
    assert list_events(conn, target, CITY) == before
    assert reply_case(conn, target, actor("vnpt.a"), "đã nhận")  # the case's own carrier may


def test_a_case_is_made_only_in_the_writers_ward(conn: psycopg.Connection[object],
                                                 cases: dict[str, int]) -> None:
    with pytest.raises(ScopeError, match="outside"):
        _create(conn, "dc.canbo", DONG_DA)
    with pytest.raises(ScopeError, match="outside"):
        _create(conn, "viettel.a", DINH_CONG)
    with pytest.raises(ScopeError, match="not a ward record"):
        _create(conn, "tp.admin", "01234")
    assert _create(conn, "tp.admin", DONG_DA) > max(cases.values())


def _create(conn: psycopg.Connection[object], name: str, ward: str) -> int:
    from lomsong.collector.storage.cases import NewCase, create_case

    return create_case(conn, NewCase(ward, "viettel", "4g", "t", "", None, 21.0, 105.8, 150),
                       actor(name))


def test_open_and_overdue_asks_per_ward_and_carrier(conn: psycopg.Connection[object],
                                                    cases: dict[str, int]) -> None:
    # dd_viettel: planned for a day already past (overdue); dd_vnpt: planned, on time.
    move_case(conn, cases["dd_viettel"], "planned", actor("viettel.a"), TODAY, "",
              {"action": "Lắp trạm", "promised_on": date(2026, 12, 4)})
    move_case(conn, cases["dd_vnpt"], "planned", actor("vnpt.a"), TODAY, "",
              {"action": "Nâng cấp", "promised_on": date(2026, 12, 31)})
    new_case(conn, ward=DINH_CONG, carrier="mobifone")  # a draft is not an ask yet
    everything = ask_counts(conn, CITY, TODAY)
    # dc_viettel was sent with a reply due on 3 December: overdue on the 5th.
    assert everything == [AskCounts(DONG_DA, "viettel", 1, 1), AskCounts(DONG_DA, "vnpt", 1, 0),
                          AskCounts(DINH_CONG, "viettel", 1, 1)]
    assert ask_counts(conn, actor("dc.canbo").scope, TODAY) == [
        AskCounts(DINH_CONG, "viettel", 1, 1)]
    assert ask_counts(conn, actor("vnpt.a").scope, TODAY) == [AskCounts(DONG_DA, "vnpt", 1, 0)]
    assert ask_counts(conn, actor("dc.canbo").scope, date(2026, 12, 2)) == [
        AskCounts(DINH_CONG, "viettel", 1, 0)]


def test_alerts_reach_only_their_scope(conn: psycopg.Connection[object],
                                       cases: dict[str, int]) -> None:
    now = datetime(2026, 12, 5, 3, tzinfo=UTC)
    sync_alerts(conn, [
        Condition("probe_silent", "dc-pi", DINH_CONG, None, "dc-pi"),
        Condition("probe_silent", "dd-pi", DONG_DA, None, "dd-pi"),
        Condition("site_below_target", "DD|vnpt|4g", DONG_DA, "vnpt", "DD vnpt"),
        Condition("case_overdue", str(cases["dd_viettel"]), DONG_DA, "viettel", "dd viettel"),
    ], now)
    kinds = ["probe_silent", "site_below_target", "case_overdue"]
    for name in ("dc.canbo", "dd.canbo", "viettel.a", "vnpt.a", "tp.admin"):
        add_subscription(conn, name, "email", f"{name}@example.vn", kinds, None)
    got = {s.username: {a.key for a in undelivered(conn, s, 50)}
           for s in list_subscriptions(conn)}
    assert got == {
        "dc.canbo": {"dc-pi"},
        "dd.canbo": {"dd-pi", "DD|vnpt|4g", str(cases["dd_viettel"])},
        "viettel.a": {str(cases["dd_viettel"])},
        "vnpt.a": {"DD|vnpt|4g"},
        "tp.admin": {"dc-pi", "dd-pi", "DD|vnpt|4g", str(cases["dd_viettel"])},
    }
