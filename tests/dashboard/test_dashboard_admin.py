"""Data management: service points (form and upload), ward, probes (token once), users."""

from __future__ import annotations

import json
import re
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from lomsong import synthetic
from lomsong.collector.storage.sites import get_ward, list_sites
from lomsong.collector.storage.tokens import list_tokens, lookup_token
from lomsong.collector.storage.users import get_user

from .conftest import OFFICER, csrf_of, sign_in

pytestmark = pytest.mark.parametrize("db_server", ["plain"], indirect=True)

GOOD_CSV = ("site_id,name,type,address,lat,lon\n"
            "hcc-01,Điểm phục vụ hành chính công,public_service_point,Số 1 phố Mẫu,21.0288,105.8516\n"
            "th-04,Trường tiểu học Mẫu,school,Số 40 phố Mẫu,21.0323,105.8544\n")


def _post(client: TestClient, path: str, data: dict[str, str],
          files: dict[str, Any] | None = None) -> Any:
    token = csrf_of(client.get("/admin").text)
    return client.post(path, data={**data, "csrf_token": token}, files=files)


def test_add_and_edit_a_service_point_by_form(admin: TestClient,
                                              conn: psycopg.Connection[Any]) -> None:
    form = {"site_id": "nvh-02", "name": "Nhà văn hoá tổ 2", "site_type": "community_house",
            "address": "Ngõ 12", "lat": "21,0251", "lon": "105.8559"}
    response = _post(admin, "/admin/sites", form)
    assert response.status_code == 303 and response.headers["location"] == "/admin?done=saved"
    edit = admin.get("/admin?edit=nvh-02").text
    assert 'value="Nhà văn hoá tổ 2"' in edit
    _post(admin, "/admin/sites", {**form, "name": "Nhà văn hoá tổ dân phố 2"})
    (site,) = list_sites(conn)
    assert site.name == "Nhà văn hoá tổ dân phố 2" and site.lat == pytest.approx(21.0251)
    bad = _post(admin, "/admin/sites", {**form, "site_id": "x-9", "lon": "east"})
    assert bad.status_code == 422 and "lon: &#39;east&#39; is not a number" in bad.text
    assert len(list_sites(conn)) == 1
    # "Delete" asks first: a page with the same form and a confirming button, nothing deleted
    ask = _post(admin, "/admin/sites/delete", {"site_id": "nvh-02"})
    assert ask.status_code == 200 and "Xoá điểm phục vụ nvh-02?" in ask.text
    assert 'name="confirmed" value="yes"' in ask.text and "<script" not in ask.text
    assert len(list_sites(conn)) == 1
    confirmed = {"site_id": "nvh-02", "confirmed": "yes"}
    assert _post(admin, "/admin/sites/delete", confirmed).status_code == 303
    assert list_sites(conn) == []


def test_upload_imports_all_rows_or_none(admin: TestClient, conn: psycopg.Connection[Any]) -> None:
    files = {"file": ("diem.csv", GOOD_CSV.encode(), "text/csv")}
    assert _post(admin, "/admin/sites/upload", {}, files).status_code == 303
    assert [s.site_id for s in list_sites(conn)] == ["hcc-01", "th-04"]
    bad = GOOD_CSV.replace("th-04", "th-05") + "bd-06,Chợ,market,Sân chợ,21.03,105.85\n"
    response = _post(admin, "/admin/sites/upload", {},
                     {"file": ("diem-moi.csv", bad.encode(), "text/csv")})
    assert response.status_code == 422
    assert "diem-moi.csv row 4, type: &#39;market&#39; is not one of" in response.text
    assert "Chưa lưu gì" in response.text
    assert [s.site_id for s in list_sites(conn)] == ["hcc-01", "th-04"]  # th-05 not imported


def test_upload_geojson_of_the_sample_ward(admin: TestClient,
                                           conn: psycopg.Connection[Any]) -> None:
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": list(p.lonlat)},
                 "properties": {"site_id": p.site_id, "name": p.name, "type": p.site_type,
                                "address": p.address}} for p in synthetic.SERVICE_POINTS]
    body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    response = _post(admin, "/admin/sites/upload", {},
                     {"file": ("diem.geojson", body, "application/geo+json")})
    assert response.status_code == 303
    assert len(list_sites(conn)) == len(synthetic.SERVICE_POINTS)


def test_ward_name_and_boundary(admin: TestClient, conn: psycopg.Connection[Any]) -> None:
    polygon = {"type": "Polygon", "coordinates": [synthetic.ward_boundary()]}
    files = {"boundary": ("ranh-gioi.geojson", json.dumps(polygon).encode(), "application/json")}
    assert _post(admin, "/admin/ward", {"ward_name": "Phường Mẫu"}, files).status_code == 303
    _post(admin, "/admin/ward", {"ward_name": "Phường Mẫu 2"})  # name only: boundary kept
    ward = get_ward(conn)
    assert ward is not None and ward.name == "Phường Mẫu 2" and ward.boundary_json
    point = {"type": "Point", "coordinates": [105.85, 21.03]}
    bad = _post(admin, "/admin/ward", {"ward_name": "X"},
                {"boundary": ("p.geojson", json.dumps(point).encode(), "application/json")})
    assert bad.status_code == 422 and "Polygon" in bad.text


def test_probe_token_shown_once_then_revoked(admin: TestClient,
                                             conn: psycopg.Connection[Any]) -> None:
    response = _post(admin, "/admin/probes", {"name": "pi-hcc-01"})
    assert response.status_code == 200
    token = re.search(r'<code id="new-token">(lsk_[A-Za-z0-9_-]+)</code>', response.text)
    assert token is not None
    assert lookup_token(conn, token.group(1)) is not None
    assert token.group(1) not in admin.get("/admin").text
    assert _post(admin, "/admin/probes", {"name": "pi-hcc-01"}).status_code == 409
    assert _post(admin, "/admin/probes", {"name": "bad name!"}).status_code == 422
    ask = _post(admin, "/admin/probes/revoke", {"name": "pi-hcc-01"})
    assert ask.status_code == 200 and "Thu hồi mã truy cập của thiết bị đo pi-hcc-01?" in ask.text
    assert lookup_token(conn, token.group(1)) is not None
    confirmed = {"name": "pi-hcc-01", "confirmed": "yes"}
    assert _post(admin, "/admin/probes/revoke", confirmed).status_code == 303
    assert lookup_token(conn, token.group(1)) is None
    assert [t.revoked_at is not None for t in list_tokens(conn)] == [True]


def test_admin_adds_and_disables_users(admin: TestClient, client: TestClient,
                                       conn: psycopg.Connection[Any]) -> None:
    short = _post(admin, "/admin/users", {"username": "chi", "role": "officer",
                                          "password": "ngan"})
    assert short.status_code == 422
    added = _post(admin, "/admin/users", {"username": "Chi.Canbo", "role": "officer",
                                          "password": "mat-khau-cua-chi"})
    assert added.status_code == 303
    user = get_user(conn, "chi.canbo")
    assert user is not None and user.role == "officer"
    _post(admin, "/admin/users/disable", {"username": OFFICER[0], "disabled": "true"})
    disabled = get_user(conn, OFFICER[0])
    assert disabled is not None and not disabled.active
    client.cookies.clear()
    assert sign_in(client, OFFICER).status_code == 401


@pytest.mark.parametrize(("lang", "message"), [
    ("vi", "Mật khẩu: cần ít nhất 10 ký tự"), ("en", "Password: at least 10 characters")])
def test_a_short_password_is_refused_in_the_pages_language(admin: TestClient,
                                                           conn: psycopg.Connection[Any],
                                                           lang: str, message: str) -> None:
    short = _post(admin, f"/admin/users?lang={lang}", {"username": "chi", "role": "officer",
                                                       "password": "ngan-qua"})
    assert short.status_code == 422
    assert re.search(r'<p class="error" role="alert">[^<]*' + re.escape(message) + "</p>",
                     short.text), short.text[:2000]
    assert get_user(conn, "chi") is None


_RING = [[105.84, 21.02], [105.86, 21.02], [105.86, 21.04], [105.84, 21.02]]
_HOSTILE_UPLOADS = [
    ("sites", "big.csv", GOOD_CSV.encode() + b"x-1,\"" + b"A" * (129 * 1024) + b"\",school,,21,105\n",
     "longer than 4096|field larger than field limit"),
    ("sites", "digits.csv", GOOD_CSV.encode() + b"x-2,B,school,," + b"9" * 400 + b",105.8\n",
     "lat: .* out of range"),
    ("sites", "digits.geojson", (
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
        '{"name": "A", "type": "school"}, "geometry": {"type": "Point", "coordinates": '
        '[105.8, ' + "9" * 400 + ']}}]}').encode(), "a number of 400 characters"),
    ("sites", "deep.geojson", b'{"features": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
     "nested more than 32 levels"),
    ("ward", "deep.geojson", b"[" * 100_000 + b"]" * 100_000, "nested more than 32 levels"),
    ("ward", "kind.geojson", json.dumps({"type": "Hexagon", "coordinates": []}).encode(),
     "geometry type &#39;Hexagon&#39; is not one of Polygon, MultiPolygon"),
    ("ward", "nan.geojson", b'{"type": "Polygon", "coordinates": [[[NaN, 21], [1, 2], [3, 4], '
     b'[NaN, 21]]]}', "NaN is not a number JSON allows"),
    ("ward", "open.geojson", json.dumps({"type": "Polygon", "coordinates": [_RING[:3]]}).encode(),
     "ring must be closed"),
    ("ward", "digits.geojson", b'{"type": "Polygon", "coordinates": [[[1' + b"0" * 399 + b", 2]]]}",
     "a number of 400 characters"),
]


@pytest.mark.parametrize(("form", "filename", "content", "message"), _HOSTILE_UPLOADS,
                         ids=[f"{f}-{n}" for f, n, _c, _m in _HOSTILE_UPLOADS])
def test_hostile_uploads_are_clear_4xx(admin: TestClient, conn: psycopg.Connection[Any],
                                       form: str, filename: str, content: bytes,
                                       message: str) -> None:
    if form == "sites":
        resp = _post(admin, "/admin/sites/upload", {},
                     {"file": (filename, content, "application/octet-stream")})
    else:
        resp = _post(admin, "/admin/ward", {"ward_name": "X"},
                     {"boundary": (filename, content, "application/json")})
    assert resp.status_code == 422, resp.text[:300]
    assert re.search(message, resp.text), resp.text[-2000:]
    assert list_sites(conn) == [] and get_ward(conn) is None
