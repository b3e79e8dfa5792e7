"""Carrier accounts made and disabled on the admin page by the city's administrator (issue 16):
the organisation chosen through the carriers' normaliser, CSRF, a confirmation before disabling,
and no other account may do either."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient

from tests.dashboard.conftest import csrf_of

from .conftest import DINH_CONG, PASSWORD, City
from .test_ward_scope import sign_in


def _carriers(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT username, carrier, disabled_at IS NOT NULL FROM"
                            " dashboard_users WHERE role = 'carrier' ORDER BY username"
                            ).fetchall()


def _csrf(client: TestClient) -> str:
    return csrf_of(client.get("/admin").text)


def test_the_city_admin_adds_a_carrier_user_who_signs_in(city_client: TestClient,
                                                         city: City) -> None:
    sign_in(city_client, "city.admin")
    page = city_client.get("/admin?lang=en")
    assert page.status_code == 200 and 'id="carrier-accounts"' in page.text
    assert "viettel.one" in page.text
    added = city_client.post("/admin/carriers", data={
        "username": "VNPT.Ha-Noi", "carrier": "VinaPhone", "password": PASSWORD,
        "csrf_token": _csrf(city_client)})
    assert added.status_code == 303, added.text[-500:]
    assert ("vnpt.ha-noi", "vnpt", False) in _carriers(city.url)
    city_client.cookies.clear()
    sign_in(city_client, "vnpt.ha-noi")
    assert city_client.get("/cases").status_code == 200
    assert city_client.get("/map").status_code == 403


def test_a_carrier_outside_the_three_or_a_short_password_is_refused(city_client: TestClient,
                                                                    city: City) -> None:
    sign_in(city_client, "city.admin")
    before = _carriers(city.url)
    for carrier, password in (("Orange", PASSWORD), ("vietnamobile", PASSWORD),
                              ("mobifone", "ngan")):
        got = city_client.post("/admin/carriers", data={
            "username": "x.one", "carrier": carrier, "password": password,
            "csrf_token": _csrf(city_client)})
        assert got.status_code == 422, carrier
    assert "Orange" in got.text or "password" in got.text
    taken = city_client.post("/admin/carriers", data={
        "username": "viettel.one", "carrier": "viettel", "password": PASSWORD,
        "csrf_token": _csrf(city_client)})
    assert taken.status_code == 409
    no_csrf = city_client.post("/admin/carriers", data={
        "username": "y.one", "carrier": "viettel", "password": PASSWORD})
    assert no_csrf.status_code == 403
    assert _carriers(city.url) == before


def test_disabling_asks_first_then_ends_the_session(city: City, city_client: TestClient) -> None:
    from fastapi.testclient import TestClient as Client

    carrier = Client(city_client.app, follow_redirects=False)
    sign_in(carrier, "viettel.one")
    assert carrier.get("/cases").status_code == 200
    sign_in(city_client, "city.admin")
    asked = city_client.post("/admin/carriers/disable", data={
        "username": "viettel.one", "csrf_token": _csrf(city_client)})
    assert asked.status_code == 200 and 'name="confirmed" value="yes"' in asked.text
    assert "viettel.one" in asked.text
    assert ("viettel.one", "viettel", False) in _carriers(city.url)
    done = city_client.post("/admin/carriers/disable", data={
        "username": "viettel.one", "confirmed": "yes", "csrf_token": _csrf(city_client)})
    assert done.status_code == 303
    assert ("viettel.one", "viettel", True) in _carriers(city.url)
    assert carrier.get("/cases").status_code in (303, 307)  # signed out
    ward_user = city_client.post("/admin/carriers/disable", data={
        "username": f"{DINH_CONG.probe}.officer", "confirmed": "yes",
        "csrf_token": _csrf(city_client)})
    assert ward_user.status_code == 404  # only carrier accounts are disabled here


def test_no_other_account_manages_carrier_users(city_client: TestClient, city: City) -> None:
    before = _carriers(city.url)
    for username in (f"{DINH_CONG.probe}.admin", f"{DINH_CONG.probe}.officer", "city.officer"):
        city_client.cookies.clear()
        sign_in(city_client, username)
        csrf = csrf_of(city_client.get("/cases").text)
        page = city_client.get("/admin")
        assert 'id="carrier-accounts"' not in page.text
        for path, data in (("/admin/carriers", {"username": "z.one", "carrier": "viettel",
                                                "password": PASSWORD}),
                           ("/admin/carriers/disable", {"username": "viettel.one",
                                                        "confirmed": "yes"})):
            got = city_client.post(path, data={**data, "csrf_token": csrf})
            assert got.status_code == 403, (username, path)
    assert _carriers(city.url) == before
