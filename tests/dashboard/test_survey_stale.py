"""Pages on a real database: the last survey at once while the new one is computed, then the new."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from lomsong import synthetic
from lomsong.collector.dashboard.pages_map import render_maps_again
from lomsong.collector.dashboard.survey import Period, Scope, Survey, SurveyCache
from lomsong.collector.storage.fleet import DataVersion

from .conftest import seed_survey

WAIT_S = 120.0
_REFRESHING = "đang tính phân tích mới hơn"


class HeldBack:
    """The real analysis; every one after the first waits until `release` is set."""

    def __init__(self, cache: SurveyCache) -> None:
        self.cache = cache
        self.release = threading.Event()
        self.started = threading.Event()
        self.runs = 0

    def __call__(self, pool: ConnectionPool, period: Period, scope: Scope,
                 version: DataVersion) -> Survey:
        self.runs += 1
        if self.runs > 1:
            self.started.set()
            assert self.release.wait(WAIT_S)
        return self.cache.default_compute(pool, period, scope, version)


@pytest.fixture
def held(officer: TestClient, conn: psycopg.Connection[Any]) -> HeldBack:
    seed_survey(conn)
    app = officer.app
    app.state.survey_cache.close()  # type: ignore[attr-defined]
    cache = SurveyCache(wait_below_s=0.0, prepare=render_maps_again)
    gate = HeldBack(cache)
    cache._compute = gate  # the real analysis, held back so the test sees both states
    app.state.survey_cache = cache  # type: ignore[attr-defined]
    return gate


PAGES = ("/sites", "/map", "/weak-areas", "/planner", "/downloads")


def test_pages_show_the_last_survey_while_the_new_one_computes(
        officer: TestClient, conn: psycopg.Connection[Any], held: HeldBack) -> None:
    point = synthetic.SERVICE_POINTS[0]
    for page in PAGES:
        first = officer.get(page)
        assert first.status_code == 200
        assert "Phân tích lập lúc" in first.text and _REFRESHING not in first.text, page
    assert point.name in officer.get("/sites").text
    assert officer.get("/map/frame").status_code == 200
    conn.execute("UPDATE service_points SET name = 'Tên mới', updated_at = now()"
                 " WHERE site_id = %s", (point.site_id,))
    for page in PAGES:  # served at once from the last survey, saying a newer one is coming
        stale = officer.get(page)
        assert stale.status_code == 200 and _REFRESHING in stale.text, page
        if page == "/sites":  # the scorecards of the last survey (other pages read live lists)
            assert "Tên mới" not in stale.text
    assert held.started.wait(WAIT_S)
    assert point.name in officer.get("/sites").text
    english = officer.get("/weak-areas?lang=en").text
    assert "a newer analysis is being computed" in english and "Analysis made at" in english
    officer.get("/map?lang=vi")
    held.release.set()
    assert held.cache.wait_idle(WAIT_S)
    ((_, made),) = held.cache.cache.snapshot()
    maps = [v for k, v in made.value.rendered.items() if k[:3] == ("map", "vi", "status")]
    assert len(maps) == 1 and "Tên mới" in maps[0]  # drawn by the worker, not by a page
    for page in PAGES:
        fresh = officer.get(page)
        assert _REFRESHING not in fresh.text and "Phân tích lập lúc" in fresh.text, page
    assert "Tên mới" in officer.get("/sites").text
    assert held.runs == 2


def test_pages_say_when_the_newer_analysis_failed(
        officer: TestClient, conn: psycopg.Connection[Any], held: HeldBack) -> None:
    assert officer.get("/sites").status_code == 200

    def broken(pool: ConnectionPool, period: Period, scope: Scope,
               version: DataVersion) -> Survey:
        raise RuntimeError("analysis broke")

    held.cache._compute = broken
    point = synthetic.SERVICE_POINTS[0]
    conn.execute("UPDATE service_points SET name = 'Tên mới', updated_at = now()"
                 " WHERE site_id = %s", (point.site_id,))
    officer.get("/sites")  # starts the refresh, which fails
    assert held.cache.wait_idle(WAIT_S)
    page = officer.get("/sites?lang=en")
    assert page.status_code == 200 and point.name in page.text  # the last survey, kept
    assert "their analysis failed" in page.text and "older than the data" in page.text
    assert "phân tích chúng bị lỗi" in officer.get("/sites?lang=vi").text
