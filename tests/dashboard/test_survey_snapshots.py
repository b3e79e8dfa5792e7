"""Analyses kept across collector processes (`collector.survey_snapshot`,
`collector.storage.snapshots`, `SurveyCache(keep=True)`, `dashboard.warm`), on a real database."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import io
import re
import threading
import time
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from lomsong import synthetic
from lomsong.analysis.pipeline import SurveyConfig
from lomsong.analysis.thresholds import load_thresholds
from lomsong.collector.app import create_app
from lomsong.collector.dashboard.pages_map import render_maps_again
from lomsong.collector.dashboard.survey import NONCE_SLOT, Period, Scope, Survey, SurveyCache
from lomsong.collector.dashboard.warm import warm_once
from lomsong.collector.settings import Settings
from lomsong.collector.storage.fleet import DataVersion
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.collector.storage.scope import ScopeError
from lomsong.collector.storage.snapshots import KEEP_PER_WARD, load_snapshot, save_snapshot
from lomsong.collector.storage.wards import save_ward
from lomsong.collector.survey import compute_survey
from lomsong.collector.survey_snapshot import (
    SnapshotError,
    dump_survey,
    fingerprint,
    load_survey,
    version_to_dict,
)

from .conftest import OFFICER, add_users, seed_survey, sign_in

WARD = Scope.ward(None)
KEY = "test-snapshot-key"
_MADE = re.compile(r'data-made-at="([^"]+)"')


def _period(days: int = 4) -> Period:
    today = datetime.now(UTC).date()
    return Period.days(today - timedelta(days=days), today)


def _assert_same(got: Survey, want: Survey) -> None:
    for f in dataclasses.fields(want.result):
        a, b = getattr(got.result, f.name), getattr(want.result, f.name)
        pd.testing.assert_frame_equal(a, b, obj=f.name)
        assert a.attrs == b.attrs, f.name
    assert got.report_input.thresholds == want.report_input.thresholds
    assert got.report_input.sources == want.report_input.sources
    assert (got.period, got.version, got.ward_name, got.measurements) == \
        (want.period, want.version, want.ward_name, want.measurements)
    if want.boundary is None:
        assert got.boundary is None
    else:
        pd.testing.assert_frame_equal(got.boundary, want.boundary)


class Counting:
    """The real analysis, counted."""

    def __init__(self, cache: SurveyCache) -> None:
        self.cache, self.runs = cache, 0

    def __call__(self, pool: ConnectionPool, period: Period, scope: Scope,
                 version: DataVersion) -> Survey:
        self.runs += 1
        return self.cache.default_compute(pool, period, scope, version)


def _cache(**options: Any) -> tuple[SurveyCache, Counting]:
    cache = SurveyCache(wait_below_s=0.0, keep=True, keep_key=KEY, **options)
    counting = Counting(cache)
    cache._compute = counting
    return cache, counting


def test_a_survey_reads_back_equal(conn: psycopg.Connection[Any]) -> None:
    seed_survey(conn)
    survey = compute_survey(conn, _period())
    assert not survey.result.classified.empty and not survey.result.weak_areas.empty
    survey.rendered[("map", "vi", "status")] = f"<script nonce='{NONCE_SLOT}'>1</script>"
    survey.rendered[("pdf", "vi")] = b"%PDF-not-text"  # only texts travel
    again = load_survey(dump_survey(survey, key=KEY, slot=NONCE_SLOT), key=KEY, slot="slotNEW")
    _assert_same(again, survey)
    assert again.rendered == {("map", "vi", "status"): "<script nonce='slotNEW'>1</script>"}
    # a text whose placeholder the reader cannot map is left out, never served half-made
    assert load_survey(dump_survey(survey, key=KEY, slot=NONCE_SLOT), key=KEY).rendered == {}


def test_what_is_not_a_snapshot_is_refused(conn: psycopg.Connection[Any]) -> None:
    seed_survey(conn, days=1, walks=1)
    signed = dump_survey(compute_survey(conn, _period(1)), key=KEY)
    head = len(signed) - len(_body(signed))
    for bad in (b"", b"not a zip", signed[: len(signed) // 2]):
        with pytest.raises(SnapshotError):
            load_survey(bad, key=KEY)
    with pytest.raises(SnapshotError, match="signature"):  # another collector's secret
        load_survey(signed, key="another key")
    # written into the database by someone without the key: refused before it is parsed
    forged = _rezip(_body(signed), b'"ward_name": "', b'"ward_name": "<script>')
    with pytest.raises(SnapshotError, match="signature"):
        load_survey(signed[:head] + forged, key=KEY)
    # signed, but a layout this code does not know
    newer = _rezip(_body(signed), b'"format": 1', b'"format": 99')
    resigned = signed[:head - 32] + hmac.new(KEY.encode(), newer, hashlib.sha256).digest() + newer
    with pytest.raises(SnapshotError, match="format 99"):
        load_survey(resigned, key=KEY)
    with pytest.raises(ValueError, match="key"):
        dump_survey(compute_survey(conn, _period(1)), key="")


def _body(signed: bytes) -> bytes:
    return signed[signed.index(b"PK\x03\x04"):]


def _rezip(body: bytes, old: bytes, new: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(body)) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "manifest.json":
                assert old in data
                data = data.replace(old, new)
            zout.writestr(item, data)
    return out.getvalue()


def test_the_fingerprint_names_code_and_settings() -> None:
    assert fingerprint(None) == fingerprint(None)
    assert fingerprint(SurveyConfig()) != fingerprint(None)
    assert fingerprint(SurveyConfig(radius_m=200.0)) != fingerprint(SurveyConfig())
    stricter = load_thresholds(override_text="[access.4g]\ndown_mbps = 50\n")
    assert fingerprint(SurveyConfig(thresholds=stricter)) != fingerprint(SurveyConfig())


def test_storage_keeps_the_newest_and_a_few_per_ward(conn: psycopg.Connection[Any]) -> None:
    made = datetime(2026, 11, 1, tzinfo=UTC)
    period = _period()
    save_snapshot(conn, WARD, period, "f1", {"n": 1}, made, 2.0, b"one")
    # an analysis that started earlier but finished later does not replace the newer one
    save_snapshot(conn, WARD, period, "f1", {"n": 0}, made - timedelta(minutes=1), 9.0, b"old")
    got = load_snapshot(conn, WARD, period, "f1")
    assert got is not None and (got.body, got.data_version, got.took_s) == (b"one", {"n": 1}, 2.0)
    assert load_snapshot(conn, WARD, period, "other code") is None
    assert load_snapshot(conn, Scope.ward("00316"), period, "f1") is None  # another ward
    for i in range(KEEP_PER_WARD + 3):
        save_snapshot(conn, Scope.ward("00316"), Period.days(
            period.first - timedelta(days=i), period.last), "f1", {}, made, 1.0, b"x")
    counts = dict(conn.execute(
        "SELECT ward_code, count(*) FROM survey_snapshots GROUP BY ward_code").fetchall())
    assert counts == {"": 1, "00316": KEEP_PER_WARD}
    with pytest.raises(ScopeError):
        save_snapshot(conn, Scope.all_wards(), period, "f1", {}, made, 1.0, b"x")
    with pytest.raises(ScopeError):
        load_snapshot(conn, Scope.of_carrier("viettel"), period, "f1")


def test_a_new_process_serves_the_kept_analysis_then_refreshes(
        migrated_url: str, conn: psycopg.Connection[Any]) -> None:
    seed_survey(conn)
    period = _period()
    with ConnectionPool(migrated_url, min_size=1, max_size=3, open=True) as pool:
        first, first_runs = _cache()
        made = first.fetch(pool, period, WARD)
        first.keep_idle(60)
        first.close()
        assert first_runs.runs == 1

        again, runs = _cache()  # the collector restarted
        served = again.fetch(pool, period, WARD)
        assert runs.runs == 0, "the kept analysis should have been served"
        assert served.made_at == made.made_at and not served.refreshing
        _assert_same(served.value, made.value)

        other, other_runs = _cache(config=SurveyConfig(radius_m=200.0))  # other settings
        other.fetch(pool, period, WARD)
        assert other_runs.runs == 1
        other.close()

        # new data: the next process shows the kept analysis at once and refreshes it
        start = datetime.now(UTC) - timedelta(hours=5)
        ingest(conn, [StoredRecord(m, m.measured_at, m.clock)
                      for m in synthetic.survey(start, days=1, walks=1)][:20], datetime.now(UTC))
        again.close()
        third, third_runs = _cache()
        stale = third.fetch(pool, period, WARD)  # at once: not even the data are checked
        assert stale.made_at == made.made_at and not stale.refreshing
        assert third.wait_idle(120)  # the check found new data and refreshed
        assert third_runs.runs == 1
        fresh = third.fetch(pool, period, WARD)
        assert fresh.made_at > made.made_at and not fresh.refreshing
        assert fresh.value.measurements == made.value.measurements + 20
        third.keep_idle(60)
        third.close()
        kept = load_snapshot(conn, WARD, period, fingerprint(None))
        assert kept is not None and kept.made_at == fresh.made_at
        assert kept.data_version == version_to_dict(fresh.value.version)


def test_a_restarted_collector_serves_pages_and_map_without_an_analysis(
        settings: Settings, conn: psycopg.Connection[Any]) -> None:
    seed_survey(conn)
    add_users(conn)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        assert sign_in(client, OFFICER).status_code == 303
        page = client.get("/sites")
        assert page.status_code == 200
        made = _MADE.search(page.text)
        assert made is not None
        frame = client.get("/map/frame")
        assert frame.status_code == 200
        cache: SurveyCache = client.app.state.survey_cache  # type: ignore[attr-defined]
        cache.keep_idle(60)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        cache = client.app.state.survey_cache  # type: ignore[attr-defined]
        counting = Counting(cache)
        cache._compute = counting
        drawn: list[Any] = []
        import lomsong.collector.dashboard.pages_map as pages_map

        real = pages_map.map_html
        pages_map.map_html = lambda *a, **k: drawn.append(a) or real(*a, **k)  # type: ignore
        try:
            assert sign_in(client, OFFICER).status_code == 303
            again = client.get("/sites")
            frame_again = client.get("/map/frame")
        finally:
            pages_map.map_html = real  # type: ignore[assignment]
        assert counting.runs == 0 and drawn == []
        shown = _MADE.search(again.text)
        assert shown is not None and shown.group(1) == made.group(1)
        assert frame_again.status_code == 200
        nonce = re.search(r"'nonce-([^']+)'", frame_again.headers["content-security-policy"])
        assert nonce is not None and f'nonce="{nonce.group(1)}"' in frame_again.text
        assert NONCE_SLOT not in frame_again.text and "slot" + "0" * 32 not in frame_again.text


def test_warm_up_makes_the_default_period_before_anyone_asks(
        migrated_url: str, conn: psycopg.Connection[Any]) -> None:
    seed_survey(conn)
    with ConnectionPool(migrated_url, min_size=1, max_size=3, open=True) as pool:
        cache, runs = _cache(prepare=render_maps_again)
        assert warm_once(cache, pool)
        assert runs.runs == 1
        ((scope, period), made), = cache.cache.snapshot()
        assert scope == WARD and (period.last - period.first).days == 29
        assert made.value.measurements > 0
        assert warm_once(cache, pool) and runs.runs == 1  # nothing new: nothing done
        cache.close()
        save_ward(conn, "00316", "Định Công", "01", "Hà Nội", None)
        city, city_runs = _cache()
        assert not warm_once(city, pool) and city_runs.runs == 0  # the city roll-ups do it
        city.close()
        conn.execute("DELETE FROM wards")
        # a first analysis longer than a page waits: the warm-up leaves it running
        slow, slow_runs = _cache(first_wait_s=0.01)
        release = threading.Event()
        real = slow._compute
        slow._compute = lambda *a: release.wait(60) and real(*a)  # type: ignore[assignment]
        assert warm_once(slow, pool)
        release.set()
        assert slow.wait_idle(60)
        deadline = time.monotonic() + 60
        while not slow.cache.snapshot():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert slow_runs.runs == 1
        slow.close()


def test_serve_warms_the_default_period_at_start(
        settings: Settings, conn: psycopg.Connection[Any]) -> None:
    seed_survey(conn, days=2, walks=1)
    warm = settings.model_copy(update={"survey_warm_interval_s": 3600.0})
    with TestClient(create_app(warm), follow_redirects=False) as client:
        cache: SurveyCache = client.app.state.survey_cache  # type: ignore[attr-defined]
        deadline = time.monotonic() + 120
        while not cache.cache.snapshot():
            assert time.monotonic() < deadline, "the default period was not analysed"
            time.sleep(0.2)
        cache.keep_idle(60)
    assert conn.execute("SELECT count(*) FROM survey_snapshots WHERE ward_code = ''"
                        ).fetchone() == (1,)


def test_a_slow_first_analysis_answers_being_made_then_the_page(
        settings: Settings, conn: psycopg.Connection[Any]) -> None:
    seed_survey(conn, days=2, walks=1)
    add_users(conn)
    quick = settings.model_copy(update={"survey_first_wait_s": 0.05})
    release = threading.Event()
    with TestClient(create_app(quick), follow_redirects=False) as client:
        cache: SurveyCache = client.app.state.survey_cache  # type: ignore[attr-defined]
        real = cache._compute

        def held(*args: Any) -> Survey:
            assert release.wait(120)
            return real(*args)

        cache._compute = held
        assert sign_in(client, OFFICER).status_code == 303
        for lang, text in (("vi", "Đang phân tích"), ("en", "The analysis is being made")):
            page = client.get(f"/sites?lang={lang}")
            assert page.status_code == 503, page.text[:300]
            assert 'data-pending="1"' in page.text and text in page.text
            assert page.headers["retry-after"].isdigit()
            assert '<meta http-equiv="refresh" content="2">' in page.text
            assert page.headers["cache-control"] == "no-store"
        frame = client.get("/map/frame")
        assert frame.status_code == 503 and 'data-pending="1"' in frame.text
        release.set()
        deadline = time.monotonic() + 120
        while (page := client.get("/sites")).status_code == 503:
            assert time.monotonic() < deadline, "the analysis never came"
            time.sleep(0.1)
        assert page.status_code == 200 and _MADE.search(page.text)
        # the next page knows how long an analysis takes here: the notice says it
        cache.keep_idle(60)
        other = Period.days(datetime.now(UTC).date() - timedelta(days=1),
                            datetime.now(UTC).date())
        release.clear()
        while True:  # once the period's measurements are counted (quickly), the estimate
            pending = client.get(f"/sites?from={other.first}&to={other.last}&lang=en")
            assert pending.status_code == 503
            if "It should take about" in pending.text:
                break
            assert "its analysis started at" in pending.text
            assert time.monotonic() < deadline
        release.set()
