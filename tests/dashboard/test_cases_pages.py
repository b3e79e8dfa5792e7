"""Case pages per role and route: a carrier sees only its own cases, an officer only their ward's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from lomsong.collector.app import create_app
from lomsong.collector.settings import Settings
from lomsong.collector.storage.case_files import add_file
from lomsong.collector.storage.cases import list_events, move_case

from .cases_helpers import CITY, DINH_CONG_POINT, PASSWORD, actor, add_case_users, new_case
from .conftest import csrf_of, sign_in
from .tests_support import plain_only

db_server = plain_only
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SENT = {"sent_on": "2026-12-01", "document_no": "77/UBND-VHXH", "reply_due_on": "2026-12-30"}


@pytest.fixture
def web(settings: Settings, conn: psycopg.Connection[Any]) -> Iterator[TestClient]:
    add_case_users(conn, with_passwords=True)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def login(client: TestClient, name: str) -> str:
    """Sign in as `name`; returns a CSRF token of the new session."""
    client.cookies.clear()
    assert sign_in(client, (name, PASSWORD)).status_code == 303
    return csrf_of(client.get("/cases").text)


def post(client: TestClient, url: str, name: str, **data: str) -> Any:
    return client.post(url, data={"csrf_token": login(client, name), **data})


@pytest.fixture
def sent_case(conn: psycopg.Connection[Any]) -> int:
    from datetime import date

    case_id = new_case(conn, title='<script>alert(1)</script> UBND ${x}')
    move_case(conn, case_id, "sent", actor("dc.canbo"), date(2026, 12, 5), "",
              {"sent_on": date(2026, 12, 1), "document_no": "1/UBND",
               "reply_due_on": date(2026, 12, 30)})
    add_file(conn, case_id, "cv.pdf", "application/pdf", PDF, actor("dc.canbo"))
    return case_id


def test_cycle_through_the_pages(web: TestClient, conn: psycopg.Connection[Any]) -> None:
    lat, lon = DINH_CONG_POINT
    made = post(web, "/cases", "dc.canbo", title="Bộ phận một cửa: 4G yếu", carrier="viettel",
                access="4g", lat=str(lat), lon=str(lon), site_id="ubnd-dinh-cong")
    assert made.status_code == 303
    url = made.headers["location"].split("?")[0]
    assert post(web, url + "/move", "dc.canbo", to="sent", **SENT).status_code == 303
    assert post(web, url + "/move", "viettel.a", to="acknowledged").status_code == 303
    assert post(web, url + "/move", "viettel.b", to="planned", action="Thêm trạm",
                carrier_site_code="HNI-0042", promised_on="2026-12-28").status_code == 303
    assert post(web, url + "/move", "viettel.a", to="done", note="đã phát sóng").status_code == 303
    page = web.get(url)
    assert page.status_code == 200 and "Nhà mạng báo đã xong" in page.text
    assert "HNI-0042" in page.text and "viettel.b" in page.text
    assert 'action="' + url + '/retest/judge"' not in page.text  # a carrier does not judge
    officer_page = web.get(url) if login(web, "dc.canbo") else None
    assert officer_page is not None and url + "/retest/judge" in officer_page.text


def test_missing_field_is_named_and_nothing_moves(web: TestClient, sent_case: int) -> None:
    answer = post(web, f"/cases/{sent_case}/move", "viettel.a", to="planned", action="x",
                  promised_on="28/12/2026")
    assert answer.status_code == 422 and "promised_on: không phải ngày (YYYY-MM-DD)" in answer.text
    assert "Đã gửi" in answer.text


@pytest.mark.parametrize("name", ["dd.canbo", "vnpt.a"])
@pytest.mark.parametrize(("method", "route", "data"), [
    ("get", "", {}),
    ("post", "/move", {"to": "acknowledged"}),
    ("post", "/move", {"to": "closed"}),
    ("post", "/reply", {"note": "xin chào"}),
    ("get", "/files/{file}", {}),
    ("post", "/retest/plan", {}),
    ("get", "/retest.gpx", {}),
    ("post", "/retest/judge", {}),
])
def test_out_of_scope_is_not_found(web: TestClient, conn: psycopg.Connection[Any],
                                   sent_case: int, name: str, method: str, route: str,
                                   data: dict[str, str]) -> None:
    file_id = conn.execute("SELECT id FROM case_files").fetchone()[0]  # type: ignore[index]
    url = f"/cases/{sent_case}" + route.format(file=file_id)
    before = len(list_events(conn, sent_case, CITY))
    if method == "get":
        login(web, name)
        answer = web.get(url)
    else:
        answer = post(web, url, name, **data)
    assert answer.status_code == 404
    assert "alert(1)" not in answer.text
    assert len(list_events(conn, sent_case, CITY)) == before
    assert f"/cases/{sent_case}\"" not in web.get("/cases").text


def test_upload_out_of_scope_is_not_found(web: TestClient, conn: psycopg.Connection[Any],
                                          sent_case: int) -> None:
    token = login(web, "vnpt.a")
    answer = web.post(f"/cases/{sent_case}/files", data={"csrf_token": token},
                      files={"file": ("x.pdf", PDF, "application/pdf")})
    assert answer.status_code == 404
    assert conn.execute("SELECT count(*) FROM case_files").fetchone() == (1,)


def test_carrier_has_only_case_pages(web: TestClient, sent_case: int) -> None:
    web.cookies.clear()
    assert sign_in(web, ("viettel.a", PASSWORD)).headers["location"] == "/cases"
    assert web.get("/map").status_code == 403
    assert web.get("/downloads").status_code == 403
    listing = web.get("/cases").text
    assert f'href="/cases/{sent_case}"' in listing
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing and "<script>alert" not in listing


def test_files_checked_by_content_and_served_as_attachment(web: TestClient,
                                                           sent_case: int) -> None:
    token = login(web, "viettel.a")
    url = f"/cases/{sent_case}/files"
    fake = web.post(url, data={"csrf_token": token},
                    files={"file": ("bao-cao.pdf", b"<html><script>x</script>", "application/pdf")})
    assert fake.status_code == 422 and "chỉ nhận tệp PDF, PNG hoặc JPEG" in fake.text
    big = web.post(url, data={"csrf_token": token},
                   files={"file": ("a.pdf", PDF + b"0" * (5 * 1024 * 1024), "application/pdf")})
    assert big.status_code == 422 and "lớn hơn 5 MiB" in big.text
    huge = web.post(url, data={"csrf_token": token},
                    files={"file": ("a.pdf", PDF + b"0" * (6 * 1024 * 1024), "application/pdf")})
    assert huge.status_code == 413  # refused by the body limit before the form is parsed
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * (700 * 1024)  # a real scan is larger than a form
    assert web.post(url, data={"csrf_token": token},
                    files={"file": ("../../ảnh x.html", png, "text/html")}).status_code == 303
    page = web.get(f"/cases/{sent_case}").text
    assert "anh_x.png" in page
    file_id = page.split(f"/cases/{sent_case}/files/")[-1].split('"')[0]
    served = web.get(f"/cases/{sent_case}/files/{file_id}")
    assert served.content == png
    assert served.headers["content-type"] == "image/png"
    assert served.headers["content-disposition"] == 'attachment; filename="anh_x.png"'
    assert served.headers["x-content-type-options"] == "nosniff"


def test_forms_need_csrf(web: TestClient, conn: psycopg.Connection[Any], sent_case: int) -> None:
    login(web, "viettel.a")
    before = len(list_events(conn, sent_case, CITY))
    answer = web.post(f"/cases/{sent_case}/move", data={"to": "acknowledged"})
    assert answer.status_code == 403
    assert len(list_events(conn, sent_case, CITY)) == before


def test_other_ward_officer_cannot_create_for_another_ward(web: TestClient,
                                                           conn: psycopg.Connection[Any]) -> None:
    lat, lon = DINH_CONG_POINT
    post(web, "/cases", "dd.canbo", title="x", carrier="vnpt", access="4g", lat=str(lat),
         lon=str(lon), ward_code="00316")
    assert conn.execute("SELECT ward_code FROM cases").fetchall() == [("00235",)]


def test_overdue_flag_on_list(web: TestClient, conn: psycopg.Connection[Any],
                              sent_case: int) -> None:
    conn.execute("UPDATE cases SET reply_due_on = DATE '2020-01-01' WHERE id = %s", (sent_case,))
    login(web, "dc.canbo")
    assert 'class="overdue"' in web.get("/cases").text


def test_query_cannot_inject_an_error_or_status(web: TestClient, sent_case: int) -> None:
    login(web, "dc.canbo")
    for url in ("/cases", f"/cases/{sent_case}"):
        answer = web.get(url, params={"error": "Gọi số 0900", "status_code": "500"})
        assert answer.status_code == 200 and "Gọi số 0900" not in answer.text


def test_carrier_replies_and_moves_its_promise(web: TestClient, conn: psycopg.Connection[Any],
                                               sent_case: int) -> None:
    url = f"/cases/{sent_case}"
    assert post(web, url + "/reply", "viettel.b", note="Sẽ khảo sát <b>tuần sau</b>"
                ).status_code == 303
    assert post(web, url + "/move", "viettel.b", to="planned", action="Khảo sát",
                promised_on="2026-12-20").status_code == 303
    assert post(web, url + "/move", "viettel.a", to="planned", action="Lắp trạm mới",
                promised_on="2027-01-15", note="lùi hạn").status_code == 303
    events = list_events(conn, sent_case, CITY)
    assert [(e.actor, e.kind, e.note) for e in events[-3:]] == [
        ("viettel.b", "reply", "Sẽ khảo sát <b>tuần sau</b>"),
        ("viettel.b", "transition", ""), ("viettel.a", "transition", "lùi hạn")]
    page = web.get(url).text
    assert "2027-01-15" in page and "&lt;b&gt;tuần sau&lt;/b&gt;" in page


def test_each_user_manages_own_alert_email(web: TestClient, conn: psycopg.Connection[Any]) -> None:
    assert post(web, "/alerts", "viettel.a", email="noc@viettel.vn",
                kinds="case_overdue").status_code == 303
    bad = post(web, "/alerts", "viettel.a", email="x@y\r\nBcc: z@w.vn", kinds="case_overdue")
    assert bad.status_code == 422 and "không phải địa chỉ thư" in bad.text
    [(sub_id, kinds)] = conn.execute("SELECT id, kinds FROM alert_subscriptions").fetchall()
    assert kinds == ["case_overdue"]
    login(web, "dc.canbo")
    assert "noc@viettel.vn" not in web.get("/alerts").text
    assert post(web, "/alerts/delete", "dc.canbo", subscription_id=str(sub_id)).status_code == 303
    assert conn.execute("SELECT count(*) FROM alert_subscriptions").fetchone() == (1,)
    assert post(web, "/alerts/delete", "viettel.a", subscription_id=str(sub_id)).status_code == 303
    assert conn.execute("SELECT count(*) FROM alert_subscriptions").fetchone() == (0,)


def test_refused_move_is_explained_in_the_users_language(web: TestClient, sent_case: int) -> None:
    vi = post(web, f"/cases/{sent_case}/move", "viettel.a", to="planned", action="x")
    assert vi.status_code == 422
    assert "promised_on: bắt buộc khi chuyển sang Đã có kế hoạch" in vi.text
    en = web.post(f"/cases/{sent_case}/move?lang=en",
                  data={"csrf_token": login(web, "viettel.a"), "to": "closed"})
    assert en.status_code == 422
    assert "state: Sent -&gt; Closed is not allowed for this account" in en.text
