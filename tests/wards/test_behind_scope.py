"""The measurements behind a figure stay in the officer's ward: another ward's service point is
not found, and a cell both wards measured lists and exports only the officer's own tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import h3
import psycopg
import pytest
from fastapi.testclient import TestClient

from .conftest import DINH_CONG, DONG_DA, City
from .test_ward_scope import sign_in

PERIOD = f"from={datetime.now(UTC).date().replace(day=1).isoformat()}"


def _shared_cell(url: str) -> str:
    """A cell holding tests of both wards (their synthetic walks share positions)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT h3_r10 FROM measurements WHERE h3_r10 IS NOT NULL GROUP BY h3_r10"
            " HAVING count(DISTINCT ward_code) = 2 ORDER BY count(*) DESC LIMIT 1").fetchone()
    assert row is not None
    return str(h3.int_to_str(row[0]))


@pytest.mark.parametrize("suffix", ["", ".csv", ".geojson"])
def test_another_wards_service_point_is_not_found(city_client: TestClient,
                                                  suffix: str) -> None:
    sign_in(city_client, f"{DINH_CONG.probe}.officer")
    mine = city_client.get(f"/measurements{suffix}?target=site&id={DINH_CONG.site_id}&{PERIOD}")
    assert mine.status_code == 200
    theirs = city_client.get(f"/measurements{suffix}?target=site&id={DONG_DA.site_id}&{PERIOD}")
    assert theirs.status_code == 404
    assert DONG_DA.site_name not in theirs.text and DONG_DA.probe not in theirs.text


@pytest.mark.parametrize("who", [DINH_CONG, DONG_DA])
def test_a_shared_cell_shows_only_the_wards_own_tests(city: City, city_client: TestClient,
                                                      who: object) -> None:
    me = DINH_CONG if who is DINH_CONG else DONG_DA
    other = DONG_DA if me is DINH_CONG else DINH_CONG
    cell = _shared_cell(city.url)
    sign_in(city_client, f"{me.probe}.officer")
    query = f"target=cell&id={cell}&{PERIOD}"
    page = city_client.get(f"/measurements?{query}")
    assert page.status_code == 200
    assert me.probe in page.text and other.probe not in page.text
    exported = city_client.get(f"/measurements.csv?{query}").text
    assert me.probe in exported and other.probe not in exported
    features = json.loads(city_client.get(f"/measurements.geojson?{query}").text)["features"]
    assert features and {f["properties"]["probe_id"] for f in features} == {me.probe}
