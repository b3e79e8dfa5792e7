"""Sign-in, sessions, CSRF, throttling, roles and security headers (plain tier: no SQL here
differs between tiers)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from lomsong.collector.app import create_app
from lomsong.collector.settings import Settings
from lomsong.collector.storage.users import set_disabled

from .conftest import ADMIN, OFFICER, add_users, csrf_of, sign_in

pytestmark = pytest.mark.parametrize("db_server", ["plain"], indirect=True)


def test_pages_need_a_session(client: TestClient) -> None:
    for path in ("/map", "/sites", "/fleet", "/admin", "/report.pdf", "/downloads/cells.csv"):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")


def test_sign_in_sets_a_safe_cookie_and_rotates_the_nonce(client: TestClient) -> None:
    before = csrf_of(client.get("/login").text)
    response = sign_in(client, OFFICER)
    assert response.status_code == 303 and response.headers["location"] == "/map"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert csrf_of(client.get("/map").text) != before  # new session nonce after sign-in
    assert client.get("/map").status_code == 200


def test_cookie_is_secure_in_prod(migrated_url: str, conn: psycopg.Connection[Any]) -> None:
    add_users(conn)
    settings = Settings(env="prod", database_url=migrated_url, secret_key="k" * 40,
                        pool_min_size=1, pool_max_size=2)
    with TestClient(create_app(settings), base_url="https://testserver",
                    follow_redirects=False) as client:
        response = sign_in(client, OFFICER)
        assert response.status_code == 303
        assert "; secure" in response.headers["set-cookie"].lower()


def test_wrong_password_and_unknown_user_look_the_same(client: TestClient) -> None:
    wrong = sign_in(client, (OFFICER[0], "sai-mat-khau-roi"))
    unknown = sign_in(client, ("khong.co", "sai-mat-khau-roi"))
    assert wrong.status_code == unknown.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu." in wrong.text
    assert "Sai tên đăng nhập hoặc mật khẩu." in unknown.text


def test_five_failures_lock_that_user_from_that_address_even_with_the_right_password(
        client: TestClient) -> None:
    for _ in range(5):
        assert sign_in(client, (OFFICER[0], "sai-mat-khau-roi")).status_code == 401
    locked = sign_in(client, OFFICER)
    assert locked.status_code == 429
    assert "thử lại sau" in locked.text


def test_failures_from_one_ip_lock_that_ip_for_other_names(client: TestClient) -> None:
    for i in range(5):
        sign_in(client, (f"nguoi.{i}", "sai-mat-khau-roi"))
    assert sign_in(client, ADMIN).status_code == 429


def test_post_without_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": OFFICER[0], "password": OFFICER[1]})
    assert response.status_code == 403
    assert "Biểu mẫu đã hết hạn" in response.text
    sign_in(client, ADMIN)
    forged = client.post("/admin/probes", data={"name": "pi-x", "csrf_token": "0" * 64})
    assert forged.status_code == 403


def test_open_redirect_after_sign_in_is_refused(client: TestClient) -> None:
    page = client.get("/login")
    response = client.post("/login", data={"username": OFFICER[0], "password": OFFICER[1],
                                           "csrf_token": csrf_of(page.text),
                                           "next": "//evil.example/x"})
    assert response.headers["location"] == "/map"


def test_officer_cannot_manage(officer: TestClient) -> None:
    assert officer.get("/admin").status_code == 403
    token = csrf_of(officer.get("/map").text)
    response = officer.post("/admin/probes", data={"name": "pi-x", "csrf_token": token})
    assert response.status_code == 403
    assert "Chỉ quản trị viên" in response.text


def test_disabling_a_user_ends_the_session(officer: TestClient,
                                           conn: psycopg.Connection[Any]) -> None:
    assert officer.get("/fleet").status_code == 200
    set_disabled(conn, OFFICER[0], True)
    assert officer.get("/fleet").status_code == 303


def test_sign_out(officer: TestClient) -> None:
    token = csrf_of(officer.get("/fleet").text)
    assert officer.post("/logout", data={"csrf_token": token}).status_code == 303
    assert officer.get("/fleet").status_code == 303


def test_a_saved_cookie_stops_working_after_sign_out(officer: TestClient) -> None:
    saved = officer.cookies.get("lomsong_session")
    assert saved and officer.get("/fleet").status_code == 200
    token = csrf_of(officer.get("/fleet").text)
    assert officer.post("/logout", data={"csrf_token": token}).status_code == 303
    officer.cookies.set("lomsong_session", saved)  # the attacker's copy, replayed
    assert officer.get("/fleet").status_code == 303


def test_a_saved_cookie_stops_working_after_users_disable(officer: TestClient,
                                                          conn: psycopg.Connection[Any]) -> None:
    saved = officer.cookies.get("lomsong_session")
    set_disabled(conn, OFFICER[0], True)
    set_disabled(conn, OFFICER[0], False)
    officer.cookies.set("lomsong_session", saved)
    assert officer.get("/fleet").status_code == 303


def test_security_headers(officer: TestClient) -> None:
    page = officer.get("/fleet")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    api = officer.get("/healthz")
    assert api.headers["x-content-type-options"] == "nosniff"


def test_language_switch_sticks(officer: TestClient) -> None:
    assert "Đăng xuất" in officer.get("/fleet").text
    english = officer.get("/fleet?lang=en")
    assert "Sign out" in english.text and 'lang="en"' in english.text
    assert "Sign out" in officer.get("/fleet").text  # the cookie keeps English
    assert "Đăng xuất" in officer.get("/fleet?lang=vi").text
    assert "Đăng xuất" in officer.get("/fleet?lang=xx").text


def test_a_nul_in_the_user_name_is_a_failed_sign_in_not_a_500(client: TestClient) -> None:
    resp = sign_in(client, ("an\x00admin", "mat-khau"))
    assert resp.status_code == 401
