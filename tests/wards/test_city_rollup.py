"""The city's per-ward roll-ups (issue 16, item 7), on every tier.

A stored roll-up holds the same figures as a fresh computation of the ward; a refresh recomputes
only the wards marked dirty (by ingest, a service point's change) or never computed; a ward scope
reads only its ward's roll-ups; and the city page and PDF are served by a database role that may
not read the measurements at all, so they cannot reread raw rows.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from psycopg.conninfo import make_conninfo

from lomsong.analysis.city import ward_status, ward_summary
from lomsong.collector.app import create_app
from lomsong.collector.city_rollup import compute_ward, kept_periods, kind_of, refresh
from lomsong.collector.settings import Settings
from lomsong.collector.storage.fleet import data_version
from lomsong.collector.storage.ingest import ingest
from lomsong.collector.storage.rollups import (
    clear_dirty,
    due_wards,
    mark_dirty,
    read_rollups,
    save_rollup,
)
from lomsong.collector.storage.scope import Scope, ScopeError
from lomsong.collector.storage.sites import ServicePoint, save_site
from lomsong.collector.survey import compute_survey
from tests.dashboard.conftest import csrf_of

from .conftest import DINH_CONG, DONG_DA, PASSWORD, WardSeed, _records, seed_city

CITY = Scope.all_wards()


def _days() -> dict[str, tuple[Any, Any]]:
    return {k: (p.first, p.last) for k, p in kept_periods().items()}


@pytest.fixture
def seeded(conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    seed_city(conn)
    return conn


def test_a_rollup_holds_the_figures_of_a_fresh_computation(
        seeded: psycopg.Connection[Any]) -> None:
    walk = _records(dataclasses.replace(DINH_CONG, records=10_000))  # a day's synthetic walk
    ingest(seeded, walk, datetime.now(UTC), DINH_CONG.code)
    counts = {DINH_CONG.code: DINH_CONG.records + len(walk), DONG_DA.code: DONG_DA.records}
    done = refresh(seeded, CITY)
    assert sorted(done.refreshed) == sorted([DINH_CONG.code, DONG_DA.code])
    for kind, period in kept_periods().items():
        stored = read_rollups(seeded, CITY, kind)
        for seed in (DINH_CONG, DONG_DA):
            survey = compute_survey(seeded, period, scope=Scope.ward(seed.code))
            summary = ward_summary(survey.result.scorecards, survey.result.weak_areas)
            r = stored[seed.code]
            assert (r.period_first, r.period_last) == (period.first, period.last)
            assert r.measurements == survey.measurements == counts[seed.code]
            assert r.status == ward_status(summary)
            assert r.carriers == summary.to_dict("records")
            if seed is DINH_CONG:
                assert {c["carrier"] for c in r.carriers} == {"viettel", "vnpt", "mobifone"}
            version = data_version(seeded, period.start_utc, period.end_utc,
                                   Scope.ward(seed.code))
            assert r.data_version["measurements"] == version.measurements
            assert r.dirty_since is None


def test_a_refresh_recomputes_only_the_dirty_wards(seeded: psycopg.Connection[Any]) -> None:
    refresh(seeded, CITY)
    assert due_wards(seeded, CITY, _days()) == ([], {})
    before = read_rollups(seeded, CITY, "last30")
    assert refresh(seeded, CITY).refreshed == []

    extra = _records(WardSeed(DONG_DA.code, DONG_DA.file, DONG_DA.site_id, DONG_DA.site_name,
                              DONG_DA.probe, 7))
    ingest(seeded, extra, datetime.now(UTC), DONG_DA.code)
    assert due_wards(seeded, CITY, _days())[0] == [DONG_DA.code]
    assert read_rollups(seeded, CITY, "last30")[DONG_DA.code].dirty_since is not None
    assert refresh(seeded, CITY).refreshed == [DONG_DA.code]
    after = read_rollups(seeded, CITY, "last30")
    assert after[DINH_CONG.code] == before[DINH_CONG.code]  # not touched
    assert after[DONG_DA.code].measurements == DONG_DA.records + 7
    assert after[DONG_DA.code].computed_at > before[DONG_DA.code].computed_at
    assert after[DONG_DA.code].dirty_since is None

    # A service point's change marks its ward (trigger), as a new outline or thresholds would.
    save_site(seeded, ServicePoint("DC-2", "Nhà văn hoá", "public_service_point", "", 20.98,
                                   105.83), Scope.ward(DINH_CONG.code, write=True))
    assert refresh(seeded, CITY).refreshed == [DINH_CONG.code]
    seeded.execute("UPDATE wards SET thresholds_toml = '' WHERE code = %s", (DONG_DA.code,))
    assert refresh(seeded, CITY, codes=[DINH_CONG.code]).refreshed == []
    assert refresh(seeded, CITY).refreshed == [DONG_DA.code]


def test_one_wards_failure_leaves_it_due_and_the_others_refreshed(
        seeded: psycopg.Connection[Any]) -> None:
    # Thresholds that cannot be read (they were checked when stored; here a later bad edit).
    seeded.execute("UPDATE wards SET thresholds_toml = 'not = [toml' WHERE code = %s",
                   (DINH_CONG.code,))
    done = refresh(seeded, CITY)
    assert done.refreshed == [DONG_DA.code] and done.failed == [DINH_CONG.code]
    assert "1 failed (" + DINH_CONG.code + ")" in str(done)
    assert DINH_CONG.code in due_wards(seeded, CITY, _days())[0]  # tried again next round


def test_a_marking_made_during_a_refresh_is_kept(seeded: psycopg.Connection[Any]) -> None:
    refresh(seeded, CITY)
    mark_dirty(seeded, DINH_CONG.code)
    due, marks = due_wards(seeded, CITY, _days())
    assert due == [DINH_CONG.code]
    mark_dirty(seeded, DINH_CONG.code)  # new measurements while the refresh computes
    assert not clear_dirty(seeded, DINH_CONG.code, marks[DINH_CONG.code])
    assert due_wards(seeded, CITY, _days())[0] == [DINH_CONG.code]


def test_a_new_day_makes_every_ward_due(seeded: psycopg.Connection[Any]) -> None:
    refresh(seeded, CITY)
    days = _days()
    first, last = days["last30"]
    days["last30"] = (first + timedelta(days=1), last + timedelta(days=1))
    assert due_wards(seeded, CITY, days)[0] == sorted([DINH_CONG.code, DONG_DA.code])


def test_a_ward_scope_reads_and_writes_only_its_ward(seeded: psycopg.Connection[Any]) -> None:
    refresh(seeded, CITY)
    own = Scope.ward(DINH_CONG.code)
    assert list(read_rollups(seeded, own, "last30")) == [DINH_CONG.code]
    assert due_wards(seeded, own, {"last30": _days()["last30"]}) == ([], {})
    mark_dirty(seeded, DONG_DA.code)
    assert due_wards(seeded, own, _days())[0] == []  # the other ward's marking is not its own
    figures = compute_ward(seeded, DINH_CONG.code, kept_periods()["last30"])
    with pytest.raises(ScopeError):
        save_rollup(seeded, own, DONG_DA.code, "last30", *_days()["last30"], figures.status,
                    figures.measurements, figures.carriers, figures.data_version, 1)
    with pytest.raises(ValueError):
        read_rollups(seeded, own, "year")


def test_kept_periods_are_recognised() -> None:
    for kind, period in kept_periods().items():
        assert kind_of(period) == kind


@pytest.fixture
def no_measurements_app(seeded: psycopg.Connection[Any], migrated_url: str
                        ) -> Iterator[TestClient]:
    """The collector connected as a role that may read every table but the measurements."""
    role = f"city_page_{uuid.uuid4().hex[:8]}"
    seeded.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'x'").format(sql.Identifier(role)))
    try:
        seeded.execute(sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA public TO {}").format(
            sql.Identifier(role)))
        seeded.execute(sql.SQL("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {}").format(
            sql.Identifier(role)))
        seeded.execute(sql.SQL("REVOKE ALL ON measurements, measurement_ids FROM {}").format(
            sql.Identifier(role)))
        url = make_conninfo(migrated_url, user=role, password="x")
        with psycopg.connect(url) as probe_conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            probe_conn.execute("SELECT count(*) FROM measurements")
        settings = Settings(database_url=url, pool_min_size=1, pool_max_size=2,
                            pool_timeout_s=5, secret_key="test-secret-" + "x" * 32,
                            migrate_on_start=False, city_refresh_interval_s=0)
        with TestClient(create_app(settings), follow_redirects=False) as client:
            yield client
    finally:
        seeded.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        seeded.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _sign_in(client: TestClient, username: str) -> None:
    page = client.get("/login")
    done = client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": csrf_of(page.text), "next": "/city"})
    assert done.status_code == 303, done.text


def test_the_city_page_and_pdf_read_no_measurement(seeded: psycopg.Connection[Any],
                                                   no_measurements_app: TestClient) -> None:
    refresh(seeded, CITY)
    ingest(seeded, _records(DONG_DA)[:3], datetime.now(UTC), DONG_DA.code)  # now outdated
    client = no_measurements_app
    _sign_in(client, "city.officer")
    page = client.get("/city?lang=en")
    assert page.status_code == 200, page.text[:500]
    assert f"{DINH_CONG.records} measurements" in page.text
    assert f"{DONG_DA.records} measurements" in page.text  # as stored, not yet recomputed
    assert page.text.count("Figures of ") == 2
    assert page.text.count("Newer data since") == 1
    month = client.get(f"/city?from={kept_periods()['month'].first.isoformat()}&lang=en")
    assert month.status_code == 200 and month.text.count("Figures of ") == 2
    pdf = client.get("/city/report.pdf?report_lang=en")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    # A period that is not kept is computed from the measurements: this role may not.
    try:
        other = client.get("/city?from=2026-01-01&to=2026-01-31").status_code
    except psycopg.errors.InsufficientPrivilege:
        other = 500
    assert other >= 500


def test_a_ward_officer_has_no_city_page_nor_pdf(seeded: psycopg.Connection[Any],
                                                 no_measurements_app: TestClient) -> None:
    refresh(seeded, CITY)
    _sign_in(no_measurements_app, f"{DINH_CONG.probe}.officer")
    assert no_measurements_app.get("/city").status_code == 403
    assert no_measurements_app.get("/city/report.pdf").status_code == 403


def test_the_cli_refreshes_the_due_wards(seeded: psycopg.Connection[Any], migrated_url: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from lomsong.cli import main

    assert main(["city", "refresh", "--database-url", migrated_url]) == 0
    assert capsys.readouterr().out.split() == sorted([DINH_CONG.code, DONG_DA.code])
    assert main(["city", "refresh", "--database-url", migrated_url]) == 0
    assert capsys.readouterr().out.split() == []
    assert main(["city", "refresh", "--all", "--ward", DONG_DA.code,
                 "--database-url", migrated_url]) == 0
    assert capsys.readouterr().out.split() == [DONG_DA.code]


def test_a_refresh_keeps_each_wards_analysis_for_its_dashboard(
        seeded: psycopg.Connection[Any], migrated_url: str) -> None:
    from psycopg_pool import ConnectionPool

    from lomsong.collector.dashboard.survey import SurveyCache

    key = "city-snapshot-key"
    refresh(seeded, CITY, keep_key=key)
    kept = dict(seeded.execute("SELECT ward_code, count(*) FROM survey_snapshots"
                               " GROUP BY ward_code").fetchall())
    assert kept == {DINH_CONG.code: len(kept_periods()), DONG_DA.code: len(kept_periods())}
    cache = SurveyCache(keep=True, keep_key=key)
    computed: list[Any] = []
    cache._compute = lambda *args: computed.append(args)  # type: ignore[assignment,return-value]
    with ConnectionPool(migrated_url, min_size=1, max_size=2, open=True) as pool:
        for period in kept_periods().values():
            got = cache.fetch(pool, period, Scope.ward(DONG_DA.code))
            want = compute_survey(seeded, period, scope=Scope.ward(DONG_DA.code))
            assert not got.refreshing and got.value.measurements == want.measurements
            assert got.value.result.weak_areas.equals(want.result.weak_areas)
    cache.close()
    assert computed == []  # served from what the refresh kept
    # without the key (benchmarks, or LOMSONG_SURVEY_KEEP=false) nothing is kept
    seeded.execute("DELETE FROM survey_snapshots")
    refresh(seeded, CITY, every_ward=True)
    assert seeded.execute("SELECT count(*) FROM survey_snapshots").fetchone() == (0,)
