"""The role matrix of the case and alert routes (issue 16): a ward's staff, another carrier and
the city officer against one of Đống Đa's asks (to VNPT, done, with a file and a re-test plan).

Each route is asked by every outsider first (nothing of the case may show, nothing may change),
then by Đống Đa's own officer, whose read must show the case and whose write must change it, so
the refusals cannot pass by a route that never works.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from lomsong.analysis.thresholds import load_thresholds
from lomsong.collector.caseflow import Actor
from lomsong.collector.dashboard.security import hash_password
from lomsong.collector.retest import plan_retest
from lomsong.collector.storage.alerts import add_subscription
from lomsong.collector.storage.case_files import add_file
from lomsong.collector.storage.cases import NewCase, create_case, get_case, move_case
from lomsong.collector.storage.users import create_user
from tests.dashboard.conftest import csrf_of

from .conftest import DINH_CONG, DONG_DA, PASSWORD, City
from .test_ward_scope import sign_in

TITLE = "Đống Đa hỏi VNPT: nhà văn hoá tổ 7"
FILE_NAME = "dd-cong-van.pdf"
DD_EMAIL = "dd.officer@dongda.example.vn"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
OWNER = f"{DONG_DA.probe}.officer"
# Who must neither see nor change the case: Định Công's officer and admin, another carrier.
OUTSIDERS = (f"{DINH_CONG.probe}.officer", f"{DINH_CONG.probe}.admin", "viettel.one")
# The city officer reads every ward's cases and changes none.
READ_ONLY = ("city.officer",)


def seed_case(url: str) -> dict[str, int]:
    """Đống Đa's done VNPT ask with a file and a re-test plan; its officer's subscription."""
    officer = Actor.of(OWNER, "officer", DONG_DA.code, None)
    vnpt = Actor.of("vnpt.one", "carrier", None, "vnpt")
    with psycopg.connect(url, autocommit=True) as conn:
        create_user(conn, "vnpt.one", hash_password(PASSWORD), "carrier", carrier="vnpt")
        case_id = create_case(conn, NewCase(DONG_DA.code, "vnpt", "4g", TITLE, "", None, 21.02,
                                            105.83, 150.0), officer)
        today = date.today()
        move_case(conn, case_id, "sent", officer, today, "", {
            "sent_on": today - timedelta(days=9), "document_no": "31/UBND",
            "reply_due_on": today + timedelta(days=9)})
        move_case(conn, case_id, "planned", vnpt, today, "", {
            "action": "Nâng cấp trạm", "promised_on": today + timedelta(days=3)})
        move_case(conn, case_id, "done", vnpt, today, "",
                  {"done_at": datetime.now(UTC) - timedelta(days=1)})
        file_id = add_file(conn, case_id, FILE_NAME, "application/pdf", PDF, officer)
        assert file_id is not None
        done = get_case(conn, case_id, officer.scope, today)
        assert done is not None
        plan_retest(conn, done, officer, load_thresholds())
        subscription = add_subscription(conn, OWNER, "email", DD_EMAIL, ["case_overdue"], None)
    return {"case": case_id, "file": file_id, "subscription": subscription}


def state(url: str, case_id: int) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        return {
            "cases": conn.execute("SELECT * FROM cases WHERE ward_code = %s ORDER BY id",
                                  (DONG_DA.code,)).fetchall(),
            "events": conn.execute("SELECT id, actor, kind, note FROM case_events"
                                   " WHERE case_id = %s ORDER BY id", (case_id,)).fetchall(),
            "files": conn.execute("SELECT id, sha256 FROM case_files WHERE case_id = %s"
                                  " ORDER BY id", (case_id,)).fetchall(),
            "plans": conn.execute("SELECT * FROM case_retests WHERE case_id = %s",
                                  (case_id,)).fetchall(),
            "verdicts": conn.execute("SELECT id FROM case_verdicts WHERE case_id = %s",
                                     (case_id,)).fetchall(),
            "subscriptions": conn.execute("SELECT id, target FROM alert_subscriptions"
                                          " WHERE username = %s", (OWNER,)).fetchall(),
        }


# (path with {case}/{file}, what must not show to an outsider). The owner's page shows it.
CASE_READS: list[tuple[str, str]] = [
    ("/cases", TITLE),
    ("/cases/{case}", TITLE),
    ("/cases/{case}/files/{file}", "%PDF"),
    ("/cases/{case}/retest.gpx", "<gpx"),
    ("/alerts", DD_EMAIL),
]
# (path, form fields, file). Each changes the case (or the owner's subscriptions) when its owner
# sends it.
CASE_WRITES: list[tuple[str, dict[str, str], bool]] = [
    ("/cases", {"title": "Ask", "carrier": "vnpt", "access": "4g", "lat": "21.02",
                "lon": "105.83", "ward_code": DONG_DA.code}, False),
    ("/cases/{case}/move", {"to": "reopened", "note": "chưa đạt"}, False),
    ("/cases/{case}/reply", {"note": "trả lời"}, False),
    ("/cases/{case}/files", {}, True),
    ("/cases/{case}/retest/plan", {}, False),
    ("/cases/{case}/retest/judge", {}, False),
    ("/alerts", {"email": "khac@example.vn", "kinds": "case_overdue"}, False),
    ("/alerts/delete", {"subscription_id": "{subscription}"}, False),
]


def _fill(text: str, ids: dict[str, int]) -> str:
    return text.format(**ids)


def _as(client: TestClient, username: str) -> str:
    client.cookies.clear()
    sign_in(client, username)
    return csrf_of(client.get("/cases").text)


@pytest.mark.parametrize(("path", "mark"), CASE_READS, ids=[r[0] for r in CASE_READS])
def test_case_reads_stay_in_scope(city_client: TestClient, city: City, path: str,
                                  mark: str) -> None:
    ids = seed_case(city.url)
    url = _fill(path, ids)
    for username in OUTSIDERS:
        _as(city_client, username)
        got = city_client.get(url)
        assert got.status_code in (200, 404), (username, got.status_code)
        assert mark not in got.content.decode("utf-8", "replace"), (username, url)
    for username in (*READ_ONLY, OWNER):
        if path == "/alerts" and username != OWNER:
            continue  # subscriptions are each user's own
        _as(city_client, username)
        got = city_client.get(url)
        assert got.status_code == 200 and mark in got.content.decode("utf-8", "replace"), username


@pytest.mark.parametrize(("path", "data", "upload"), CASE_WRITES,
                         ids=[w[0] for w in CASE_WRITES])
def test_case_writes_stay_in_scope(city_client: TestClient, city: City, path: str,
                                   data: dict[str, str], upload: bool) -> None:
    ids = seed_case(city.url)
    url = _fill(path, ids)
    form = {k: _fill(v, ids) for k, v in data.items()}
    files = {"file": ("cv.pdf", PDF, "application/pdf")} if upload else None
    before = state(city.url, ids["case"])
    for username in (*OUTSIDERS, *READ_ONLY):
        csrf = _as(city_client, username)
        sent = city_client.post(url, data={**form, "csrf_token": csrf}, files=files)
        assert sent.status_code in (303, 403, 404, 409, 422), (username, sent.status_code)
        assert state(city.url, ids["case"]) == before, (username, url)
    csrf = _as(city_client, OWNER)
    done = city_client.post(url, data={**form, "csrf_token": csrf}, files=files)
    assert done.status_code == 303, done.text[-400:]
    assert state(city.url, ids["case"]) != before, "the owner's write changed nothing"


def test_a_carrier_sees_its_own_asks_in_every_ward(city_client: TestClient, city: City) -> None:
    ids = seed_case(city.url)
    _as(city_client, "vnpt.one")
    assert TITLE in city_client.get("/cases").text
    assert city_client.get(f"/cases/{ids['case']}").status_code == 200
    _as(city_client, "viettel.one")
    assert TITLE not in city_client.get("/cases").text
