"""The ward's indicator page: its own ward's residential groups only, names escaped, dates
checked."""

from __future__ import annotations

import json

import psycopg
import shapely
from fastapi.testclient import TestClient

from lomsong.collector.storage.groups import replace_groups
from lomsong.collector.storage.scope import Scope

from .conftest import DINH_CONG, DONG_DA, City, quadrant_groups
from .test_ward_scope import PERIOD, sign_in

HOSTILE = '<script>alert(1)</script>"${x}'


def test_the_indicator_page_shows_the_wards_own_groups_escaped(city_client: TestClient,
                                                                city: City) -> None:
    groups = quadrant_groups()
    with psycopg.connect(city.url, autocommit=True) as conn:
        replace_groups(conn, Scope.ward(DINH_CONG.code, write=True), [
            (g.group_id, HOSTILE if g.group_id == "TDP1" else g.name,
             json.dumps(shapely.geometry.mapping(g.geometry))) for g in groups.itertuples()])
        replace_groups(conn, Scope.ward(DONG_DA.code, write=True), [
            ("DD9", "Tổ dân phố Đống Đa 9", json.dumps(shapely.geometry.mapping(
                shapely.box(105.82, 21.01, 105.83, 21.02))))])
    sign_in(city_client, f"{DINH_CONG.probe}.officer")
    page = city_client.get(f"/indicator?{PERIOD}&lang=en")
    assert page.status_code == 200, page.text[-300:]
    assert HOSTILE not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "Tổ dân phố 2" in page.text and "Đống Đa 9" not in page.text
    bad = city_client.get("/indicator?baseline_from=2026-02-30")
    assert bad.status_code == 422 and "baseline_from" in bad.text
    sign_in(city_client, "viettel.one")
    assert city_client.get("/indicator").status_code == 403
