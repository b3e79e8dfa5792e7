"""A ward officer can neither see nor change another ward's data, on every route (issue 16).

Định Công (00316) and Đống Đa (00235) share one collector. Every page, download, report and API
route is asked as Định Công's staff; nothing of Đống Đa may appear, and every write aimed at
Đống Đa's rows must leave them as they were.
"""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.dashboard.conftest import csrf_of

from .conftest import DINH_CONG, DONG_DA, PASSWORD, City

PERIOD = f"from={datetime.now(UTC).date().replace(day=1).isoformat()}"

# Every GET route of the dashboard that shows ward data, and what Đống Đa has there.
READ_ROUTES = [
    "/map", "/map/frame", "/sites", "/weak-areas", "/planner", "/fleet", "/downloads",
    "/downloads/survey.gpkg", "/downloads/cells.csv", "/downloads/service_points.csv",
    "/downloads/weak_areas.csv", "/downloads/proposals.csv", "/downloads/gaps.csv",
    "/downloads/walk_route.csv", "/report.pdf", "/admin", "/admin/links", "/indicator",
    "/planner/walk.gpx",
]
FOREIGN_MARKS = (DONG_DA.site_id, DONG_DA.site_name, DONG_DA.probe, "Đống Đa")


def sign_in(client: TestClient, username: str) -> None:
    page = client.get("/login")
    done = client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": csrf_of(page.text), "next": "/map"})
    assert done.status_code == 303, done.text


def _text(response: httpx.Response) -> str:
    if response.headers.get("content-type", "").startswith("application/pdf"):
        return subprocess.run(["pdftotext", "-", "-"], input=response.content,
                              capture_output=True, check=True, timeout=60).stdout.decode()
    return response.content.decode("utf-8", errors="replace")


@pytest.mark.parametrize("path", READ_ROUTES)
def test_ward_staff_see_only_their_ward(city_client: TestClient, path: str) -> None:
    sign_in(city_client, f"{DINH_CONG.probe}.admin")
    response = city_client.get(f"{path}?{PERIOD}")
    assert response.status_code == 200, response.text[:500]
    text = _text(response)
    for mark in FOREIGN_MARKS:
        assert mark not in text, f"{path} shows {mark!r} of another ward"


@pytest.mark.parametrize("path", ["/map", "/sites", "/downloads"])
def test_survey_counts_only_the_wards_measurements(city_client: TestClient, path: str) -> None:
    sign_in(city_client, f"{DINH_CONG.probe}.officer")
    text = city_client.get(f"{path}?{PERIOD}&lang=en").text
    assert f"{DINH_CONG.records} measurements" in text
    assert f"{DINH_CONG.records + DONG_DA.records} measurements" not in text


def test_fleet_lists_the_wards_own_probe(city_client: TestClient) -> None:
    sign_in(city_client, f"{DINH_CONG.probe}.officer")
    assert DINH_CONG.probe in city_client.get("/fleet").text


def _admin_form(client: TestClient) -> str:
    return csrf_of(client.get("/admin").text)


def _state(url: str) -> dict[str, Any]:
    """Đống Đa's rows as the database holds them."""
    with psycopg.connect(url) as conn:
        return {
            "sites": conn.execute("SELECT site_id, name, lat, lon, ward_code FROM service_points"
                                  " WHERE ward_code = %s ORDER BY site_id",
                                  (DONG_DA.code,)).fetchall(),
            "tokens": conn.execute("SELECT name, role, revoked_at FROM api_tokens"
                                   " WHERE ward_code = %s ORDER BY id", (DONG_DA.code,)).fetchall(),
            "users": conn.execute("SELECT username, disabled_at, session_epoch FROM"
                                  " dashboard_users WHERE ward_code = %s ORDER BY username",
                                  (DONG_DA.code,)).fetchall(),
            "ward": conn.execute("SELECT name, boundary_json FROM wards WHERE code = %s",
                                 (DONG_DA.code,)).fetchall(),
            "links": conn.execute("SELECT id, revoked_at FROM enrolments ORDER BY id").fetchall(),
            "carriers": conn.execute("SELECT username, carrier, disabled_at, session_epoch FROM"
                                     " dashboard_users WHERE role = 'carrier' ORDER BY username"
                                     ).fetchall(),
        }


# Each write a ward admin can send, aimed at Đống Đa's rows.
WRITES: list[tuple[str, dict[str, str], dict[str, Any] | None]] = [
    ("/admin/sites", {"site_id": DONG_DA.site_id, "name": "đổi tên", "site_type": "public_service_point",
                      "address": "", "lat": "21.01", "lon": "105.83"}, None),
    ("/admin/sites/delete", {"site_id": DONG_DA.site_id}, None),
    ("/admin/sites/upload", {}, {"file": ("sites.csv", (
        "site_id,name,address,type,lat,lon\n"
        f"{DONG_DA.site_id},đổi tên,,public_service_point,21.01,105.83\n"
    ).encode(), "text/csv")}),
    ("/admin/probes/revoke", {"name": DONG_DA.probe}, None),
    ("/admin/users/disable", {"username": f"{DONG_DA.probe}.officer", "disabled": "true"}, None),
    ("/admin/ward", {"ward_name": "Phường Đống Đa (đổi)"}, None),
    ("/admin/probes", {"name": "new-pi"}, None),
    ("/admin/users", {"username": "new.officer", "role": "officer",
                      "password": PASSWORD}, None),
    ("/city/ward", {"code": DONG_DA.code}, None),
    ("/admin/posters", {"site_id": DONG_DA.site_id}, None),
    ("/admin/links", {"days": "30", "site_id": DONG_DA.site_id, "label": "đổi"}, None),
    ("/admin/carriers", {"username": "vnpt.new", "carrier": "vnpt", "password": PASSWORD}, None),
    ("/admin/carriers/disable", {"username": "viettel.one", "confirmed": "yes"}, None),
]


@pytest.mark.parametrize(("path", "data", "files"), WRITES, ids=[w[0] for w in WRITES])
def test_ward_admin_cannot_change_another_ward(city_client: TestClient, city: City, path: str,
                                               data: dict[str, str],
                                               files: dict[str, Any] | None) -> None:
    sign_in(city_client, f"{DINH_CONG.probe}.admin")
    before = _state(city.url)
    response = city_client.post(path, data={**data, "csrf_token": _admin_form(city_client)},
                                files=files)
    assert response.status_code in (303, 200, 403, 404, 409), response.text[-600:]
    assert _state(city.url) == before


def test_rows_a_ward_admin_adds_belong_to_the_ward(city_client: TestClient, city: City) -> None:
    sign_in(city_client, f"{DINH_CONG.probe}.admin")
    csrf = _admin_form(city_client)
    city_client.post("/admin/probes", data={"name": "dc-pi-2", "csrf_token": csrf})
    city_client.post("/admin/users", data={"username": "dc.new", "role": "officer",
                                           "password": PASSWORD, "csrf_token": csrf})
    with psycopg.connect(city.url) as conn:
        assert conn.execute("SELECT ward_code FROM api_tokens WHERE name = 'dc-pi-2'"
                            ).fetchone() == (DINH_CONG.code,)
        assert conn.execute("SELECT ward_code FROM dashboard_users WHERE username = 'dc.new'"
                            ).fetchone() == (DINH_CONG.code,)


def test_a_ward_officer_has_no_city_page(city_client: TestClient) -> None:
    sign_in(city_client, f"{DINH_CONG.probe}.officer")
    assert city_client.get("/city").status_code == 403


def test_the_city_officer_reads_every_ward_and_changes_none(city_client: TestClient,
                                                            city: City) -> None:
    sign_in(city_client, "city.officer")
    page = city_client.get("/city")
    assert "Phường Định Công" in page.text and "Phường Đống Đa" in page.text
    chosen = city_client.post("/city/ward", data={"code": DONG_DA.code,
                                                  "csrf_token": csrf_of(page.text)})
    assert chosen.status_code == 303
    assert DONG_DA.site_name in city_client.get("/sites").text
    assert city_client.get("/admin").status_code == 403


def test_a_city_account_chooses_a_ward_before_the_map(city_client: TestClient) -> None:
    sign_in(city_client, "city.officer")  # signing in lands on /map
    landing = city_client.get("/map")
    assert landing.status_code == 303 and landing.headers["location"] == "/city"
    page = city_client.get("/city")
    city_client.post("/city/ward", data={"code": DINH_CONG.code, "csrf_token": csrf_of(page.text)})
    shown = city_client.get(f"/map?{PERIOD}")
    assert shown.status_code == 200 and "data-made-at" in shown.text


def test_a_carrier_account_sees_no_ward_page(city_client: TestClient) -> None:
    sign_in(city_client, "viettel.one")
    for path in ("/map", "/sites", "/fleet", "/downloads", "/city"):
        assert city_client.get(path).status_code == 403, path


def test_a_readers_query_returns_its_wards_measurements_only(city_client: TestClient,
                                                             city: City) -> None:
    got = city_client.get("/api/v1/measurements", params={"limit": 5000}, headers={
        "Authorization": f"Bearer {city.readers[DINH_CONG.code]}"})
    assert got.status_code == 200, got.text
    probes = {m["probe_id"] for m in got.json()["items"]}
    assert probes == {DINH_CONG.probe}
    assert len(got.json()["items"]) == DINH_CONG.records


def test_a_probes_measurements_belong_to_its_ward(city_client: TestClient, city: City) -> None:
    from lomsong import synthetic

    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    record = next(iter(synthetic.survey(start, days=1, walks=1)))
    record = record.model_copy(update={"probe_id": DONG_DA.probe})
    sent = city_client.post("/api/v1/measurements",
                            json={"measurements": [record.model_dump(mode="json")]},
                            headers={"Authorization": f"Bearer {city.probes[DONG_DA.code]}"})
    assert sent.status_code == 200, sent.text
    with psycopg.connect(city.url) as conn:
        assert conn.execute("SELECT ward_code FROM measurements WHERE id = %s",
                            (record.id,)).fetchone() == (DONG_DA.code,)


def test_the_city_page_compares_the_wards_escaped(city_client: TestClient, city: City) -> None:
    with psycopg.connect(city.url, autocommit=True) as conn:
        conn.execute("UPDATE wards SET name = %s WHERE code = %s",
                     ("<script>alert(1)</script>", DONG_DA.code))
    sign_in(city_client, "city.officer")
    page = city_client.get(f"/city?{PERIOD}&lang=en")
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)" in page.text
    assert "Phường Định Công" in page.text
    assert page.text.count('<path class="') == 2  # both wards drawn, no script on the page
    assert f"{DINH_CONG.records} measurements" in page.text
    assert f"{DONG_DA.records} measurements" in page.text
    bad = city_client.get("/city?baseline_from=2026-13-01")
    assert bad.status_code == 422      # in the page's language, naming the form's field
    assert "Baseline from: &#39;2026-13-01&#39; is not a date" in bad.text
    assert "Kỳ gốc từ: &#39;2026-13-01&#39; không phải là ngày" in city_client.get(
        "/city?baseline_from=2026-13-01&lang=vi").text


def test_the_city_pdf_shows_every_ward_coloured_and_escaped(city_client: TestClient,
                                                             city: City, tmp_path: Any) -> None:
    with psycopg.connect(city.url, autocommit=True) as conn:
        conn.execute("UPDATE wards SET name = %s WHERE code = %s",
                     ("Đống Đa <b>&amp;</b>", DONG_DA.code))
    sign_in(city_client, "city.officer")
    pdf = city_client.get(f"/city/report.pdf?{PERIOD}&report_lang=en")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = " ".join(_text(pdf).split())  # table cells wrap, next to the next column's text
    assert "Phường Định Công" in text and "Đống Đa <b>&amp;</b>" in text
    for seed in (DINH_CONG, DONG_DA):
        assert re.search(rf"\b{seed.records}( –)? measurements", text), seed.code
    (tmp_path / "city.pdf").write_bytes(pdf.content)
    subprocess.run(["pdftoppm", "-r", "40", "-f", "1", "-l", "1", "-png",
                    str(tmp_path / "city.pdf"), str(tmp_path / "page")], check=True, timeout=60)
    from PIL import Image

    page = next(tmp_path.glob("page*.png"))
    colours = {c for _, c in Image.open(page).convert("RGB").getcolors(1_000_000)}
    from lomsong.maps.city_report import STATUS_COLOURS

    drawn = {s for s, hex_ in STATUS_COLOURS.items()
             if tuple(int(hex_[i:i + 2], 16) for i in (1, 3, 5)) in colours}
    assert drawn, "no ward drawn in a status colour"
    sign_in(city_client, f"{DINH_CONG.probe}.officer")
    assert city_client.get("/city/report.pdf").status_code == 403


def test_a_ward_admin_cannot_revoke_another_wards_link(city_client: TestClient,
                                                      city: City) -> None:
    from lomsong.collector.storage.enrolments import create_enrolment
    from lomsong.collector.storage.scope import Scope

    with psycopg.connect(city.url, autocommit=True) as conn:
        link = create_enrolment(conn, ward="Phường Đống Đa", site_id=DONG_DA.site_id, label="dd",
                                expires_at=datetime.now(UTC) + timedelta(days=3),
                                scope=Scope.ward(DONG_DA.code, write=True))
    sign_in(city_client, f"{DINH_CONG.probe}.admin")
    before = _state(city.url)
    for confirm in ("", "yes"):
        city_client.post("/admin/links/revoke", data={
            "enrolment_id": str(link.id), "confirm": confirm,
            "csrf_token": _admin_form(city_client)})
        assert _state(city.url) == before


# Routes whose callers are not dashboard accounts of a ward, and where their scope is tested.
NOT_WARD_ACCOUNTS = {
    "/openapi.json": "the API's schema, no data",
    "/docs": "the API's documentation page, no data",
    "/docs/oauth2-redirect": "the API's documentation page, no data",
    "/redoc": "the API's documentation page, no data",
    "/healthz": "process up, no data",
    "/readyz": "database reachable, no data",
    "/login": "signing in (tests/dashboard/test_dashboard_auth.py)",
    "/logout": "signing out (tests/dashboard/test_dashboard_auth.py)",
    "/": "a redirect to /map",
    "/api/v1/measurements": "reader and probe tokens of one ward: test_a_readers_query_returns_"
                            "its_wards_measurements_only, test_a_probes_measurements_belong_to_"
                            "its_ward",
    "/api/v1/probes/status": "a probe reports its own status under its token's name",
    "/api/v1/probes/servers": "the city's measurement servers, the same for every probe",
    "/api/v1/probes/schedule": "a probe token's own re-test requests in its token's ward (tests/"
                               "dashboard/test_retest_requests.py::test_the_schedule_route_"
                               "serves_a_probe_its_own_requests_only)",
    "/admin/links/revoke": "test_a_ward_admin_cannot_revoke_another_wards_link",
    "/city": "test_the_city_officer_reads_every_ward_and_changes_none, "
             "test_a_ward_officer_has_no_city_page",
    "/city/report.pdf": "test_the_city_pdf_shows_every_ward_coloured_and_escaped",
    "/do": "the phone page of an enrolment link, which names its ward (tests/phone/test_enrol.py)",
    "/do/api/down": "an enrolment link's payload, no ward data",
    "/do/api/up": "an enrolment link's upload test, nothing stored",
    "/do/api/ping": "an enrolment link's latency test, nothing stored",
    "/do/api/results": "an enrolment link's records, stored in its ward (tests/phone/"
                       "test_phone_api.py::test_a_record_the_link_does_not_allow_is_refused)",
    "/measurements": "the measurements behind a figure, of the ward's survey only "
                     "(tests/wards/test_behind_scope.py)",
    "/measurements.csv": "its CSV (tests/wards/test_behind_scope.py)",
    "/measurements.geojson": "its GeoJSON (tests/wards/test_behind_scope.py)",
    "/map/tiles/{z}/{x}/{y}.png": "basemap tiles of the configured server, no ward data "
                                  "(tests/dashboard/test_basemap_layers.py)",
    "/static/vendor": "vendored scripts and styles",
    "/static/dashboard": "the dashboard's own scripts and styles",
    "/static/phone": "the phone page's own scripts",
}


def _app_routes(app: Any) -> list[tuple[str, frozenset[str], re.Pattern[str]]]:
    """(path, methods, regex) of every route of `app`, through included routers and mounts."""
    from starlette.routing import Mount

    found: list[tuple[str, frozenset[str], re.Pattern[str]]] = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        for r in contexts() if contexts is not None else [route]:
            if isinstance(r, Mount):
                found.append((r.path, frozenset({"MOUNT"}), re.compile(re.escape(r.path))))
            else:
                methods = frozenset(r.methods or ()) - {"HEAD"}
                found.append((r.path, methods, r.path_regex))
    return found


def test_every_route_of_the_app_is_in_the_role_matrix(city_client: TestClient) -> None:
    """A route added later without a role test fails here (no route slips through)."""
    from .test_case_scope import CASE_READS, CASE_WRITES

    ids = {"case": 1, "file": 1, "subscription": 1}
    asked = ([("GET", p) for p in READ_ROUTES] + [("POST", w[0]) for w in WRITES]
             + [("GET", p.format(**ids)) for p, _ in CASE_READS]
             + [("POST", p.format(**ids)) for p, _, _ in CASE_WRITES])
    routes = _app_routes(city_client.app)
    assert len(routes) > 50
    missing = []
    for path, methods, regex in routes:
        covered = any(m in methods and regex.fullmatch(p) for m, p in asked)
        if not covered and path not in NOT_WARD_ACCOUNTS:
            missing.append(f"{'/'.join(sorted(methods))} {path}")
    assert missing == [], f"routes without a role test: {missing}"
    tests = {name for name in globals() if name.startswith("test_")}
    for reason in NOT_WARD_ACCOUNTS.values():
        for name in re.findall(r"\btest_\w+", reason):
            assert name in tests or "tests/" in reason, name
