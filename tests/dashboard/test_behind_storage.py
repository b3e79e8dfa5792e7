"""The measurements behind a cell, a weak area and a service point are exactly those the analysis
counted (on every storage tier), page without gaps, filter, and stay in their ward."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import h3
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from lomsong import synthetic
from lomsong.analysis._samples import NETWORK_FAILURES
from lomsong.analysis.period import Period
from lomsong.collector.dashboard import behind
from lomsong.collector.storage.behind import Selection, select_behind
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.collector.storage.scope import SINGLE_WARD, Scope
from lomsong.collector.survey import Survey, compute_survey

from .conftest import seed_survey


@pytest.fixture
def pool(migrated_url: str) -> Iterator[ConnectionPool]:
    with ConnectionPool(migrated_url, min_size=1, max_size=2, open=True) as p:
        yield p


@pytest.fixture
def survey(conn: psycopg.Connection[Any]) -> Survey:
    seed_survey(conn, days=3, walks=2)
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    return compute_survey(conn, Period.days(today - timedelta(days=5), today))


def _all(pool: ConnectionPool, target: behind.Target) -> list[dict[str, Any]]:
    rows, after = [], None
    while True:
        got, after = behind.page(pool, target, SINGLE_WARD, after)
        rows += got
        if after is None:
            return rows


def _samples(rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Download tests and failed ones, as `analysis._samples` counts them."""
    down = [r for r in rows if r["kind"] == "throughput_down"]
    failed = [r for r in down if r["error_kind"] in NETWORK_FAILURES]
    ok = [r for r in down if r["error_kind"] is None and r["download_mbps"] is not None]
    return len(ok) + len(failed), len(failed)


def test_rows_behind_cells_areas_and_sites_are_the_counted_samples(
        survey: Survey, pool: ConnectionPool) -> None:
    cells = survey.result.classified
    chosen = cells[cells["samples"] > 0].sort_values("samples", ascending=False)
    checked = 0
    for window in ("all", "peak", "offpeak"):
        for _i, cell in chosen[chosen["window"] == window].head(4).iterrows():
            target = behind.resolve(survey, behind.Ask("cell", cell["cell"], cell["carrier"],
                                                       cell["access"], window))
            rows = _all(pool, target)
            assert _samples(rows) == (cell["samples"], cell["failed"]), (window, cell["cell"])
            checked += 1
    assert checked >= 8

    areas = survey.result.weak_areas
    assert len(areas), "the synthetic survey has weak areas"
    for _i, area in areas.iterrows():
        target = behind.resolve(survey, behind.Ask("area", area["area_id"], window="all"))
        assert target.ask.carrier == area["carrier"] and target.ask.access == area["access"]
        rows = _all(pool, target)
        assert _samples(rows) == (area["samples"], area["failed"]), area["area_id"]
        counted, capped = behind.counts(pool, target, SINGLE_WARD)
        assert (counted.rows, capped) == (len(rows), False)

    cards = survey.result.scorecards
    for _i, card in cards[cards["samples"] > 0].iterrows():
        target = behind.resolve(survey, behind.Ask("site", card["site_id"], card["carrier"],
                                                   card["access"]))
        rows = _all(pool, target)
        assert _samples(rows) == (card["samples"], card["failed"]), card["site_id"]


def test_pages_follow_on_newest_first_and_filters_apply(
        survey: Survey, pool: ConnectionPool) -> None:
    card = survey.result.scorecards.sort_values("samples").iloc[-1]
    target = behind.resolve(survey, behind.Ask("site", card["site_id"]))
    first, after = behind.page(pool, target, SINGLE_WARD, None)
    assert len(first) == behind.PAGE_SIZE and after is not None
    rows = _all(pool, target)
    assert rows[:behind.PAGE_SIZE] == first
    keys = [(r["time"], r["id"]) for r in rows]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys)
    counted, _capped = behind.counts(pool, target, SINGLE_WARD)
    assert counted.rows == len(rows) > behind.PAGE_SIZE
    assert {r["carrier"] for r in rows} > {card["carrier"]}  # every carrier of the point

    area = survey.result.weak_areas.sort_values("failed").iloc[-1]
    assert area["failed"] > 0
    everything = behind.resolve(survey, behind.Ask("area", area["area_id"], window="all"))
    failed = _all(pool, behind.resolve(survey, behind.Ask("area", area["area_id"], window="all",
                                                          outcome="failed")))
    assert failed and all(r["error_kind"] for r in failed)
    assert len(failed) == behind.counts(pool, everything, SINGLE_WARD)[0].failed
    ok = _all(pool, behind.resolve(survey, behind.Ask("area", area["area_id"], window="all",
                                                      outcome="ok")))
    assert len(ok) + len(failed) == len(_all(pool, everything))
    assert all(r["error_kind"] is None for r in ok)
    peak = _all(pool, behind.resolve(survey, behind.Ask("site", card["site_id"],
                                                        card["carrier"], window="peak")))
    local = ZoneInfo("Asia/Ho_Chi_Minh")
    assert peak and all(19 <= r["time"].astimezone(local).hour < 22 for r in peak)
    assert {r["carrier"] for r in peak} == {card["carrier"]}


def test_unknown_targets_and_bad_cells_are_refused(survey: Survey) -> None:
    with pytest.raises(behind.NotFound, match="weak area"):
        behind.resolve(survey, behind.Ask("area", "viettel-4g-999"))
    with pytest.raises(behind.NotFound, match="service point"):
        behind.resolve(survey, behind.Ask("site", "no-such-point"))
    with pytest.raises(ValueError, match="not an H3 cell"):
        behind.resolve(survey, behind.Ask("cell", "8a-not-a-cell"))
    with pytest.raises(ValueError, match="resolution-9"):
        behind.resolve(survey, behind.Ask("cell", "89415cb4e43ffff"))
    with pytest.raises(ValueError, match="window"):
        behind.Ask("cell", "x", window="night")


def test_another_wards_rows_are_never_selected(conn: psycopg.Connection[Any]) -> None:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    walked = [m for m in synthetic.survey(start, days=1, walks=1) if m.lat is not None][:30]
    for ward in ("00316", "00235"):
        records = [StoredRecord(measurement=m.model_copy(update={"id": uuid.uuid4()}),
                                time=m.measured_at, clock=m.clock) for m in walked]
        ingest(conn, records, datetime.now(UTC), ward)
    cells = tuple({int(h3.str_to_int(h3.latlng_to_cell(m.lat, m.lon, 10))) for m in walked})
    sel = Selection(cells=cells)
    mine = select_behind(conn, sel, scope=Scope.ward("00316"), limit=1000)
    assert len(mine) == len(walked)
    assert select_behind(conn, sel, scope=Scope.ward("00999"), limit=1000) == []
    assert select_behind(conn, sel, scope=Scope.ward(None), limit=1000) == []
    assert len(select_behind(conn, sel, scope=Scope.all_wards(), limit=1000)) == 2 * len(walked)


def test_a_weak_area_opens_on_its_deciding_window(survey: Survey, pool: ConnectionPool) -> None:
    for _i, area in survey.result.weak_areas.iterrows():
        target = behind.resolve(survey, behind.Ask("area", area["area_id"]))
        assert target.ask.window == (area["deciding_window"] or "all")
        assert target.fixed and target.carriers == (area["carrier"],)
        hours = target.selection.local_hours
        assert (hours is None) == (target.ask.window == "all")
