"""A case's re-test: plan it when the carrier says the work is done, judge it on later tests.

The judgement reads only the rows of the case's carrier and access technology around its place
(`copy_rows_near` on a box just larger than its radius; `analysis.retest` measures exact
distances), and moves the case: ``met`` -> verified, ``not_met`` -> reopened; with too few tests
after the done time, the case stays done and the verdict says so.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg

from lomsong.analysis.retest import RetestPlace, RetestResult, judge_retest
from lomsong.analysis.retest_plan import walk_route_gpx
from lomsong.analysis.thresholds import Thresholds
from lomsong.collector.caseflow import Actor, MoveRefused
from lomsong.collector.storage.analysis_rows import copy_rows_near
from lomsong.collector.storage.case_retests import (
    RetestPlan,
    get_plan,
    probes_near,
    save_plan,
    save_verdict,
)
from lomsong.collector.storage.cases import CaseRow, get_case, move_case
from lomsong.collector.storage.retest_requests import (
    RetestRequest,
    end_requests,
    fixed_probes_near,
    save_requests,
)
from lomsong.collector.storage.scope import Scope

__all__ = ["BEFORE_DAYS", "EXTRA_EVERY_MIN", "EXTRA_MAX_PER_DAY", "EXTRA_WINDOW_DAYS", "JudgedCase",
           "case_box", "judge_case", "plan_retest"]

# The "before" sample: the tests of the last 90 days before the ask was sent (older ones describe
# a network that may have changed since).
BEFORE_DAYS = 90
# What the nearby fixed probes are asked: test the case's carrier every 10 min (instead of about
# every 30) for 7 days, at most 72 extra tests a day (a probe's own cap may be lower: its SIM's
# data budget decides). 72 x ~25 MB (an adaptive 4G test) is about 1.8 GB a day at most.
EXTRA_EVERY_MIN = 10
EXTRA_MAX_PER_DAY = 72
EXTRA_WINDOW_DAYS = 7
_COLUMNS = ("measured_at", "clock", "kind", "carrier", "access", "plan_down_mbps",
            "download_mbps", "error_kind", "probe_id", "site_id", "lat", "lon")
_TEXT = {"clock", "kind", "carrier", "access", "error_kind", "probe_id", "site_id"}


@dataclass(frozen=True)
class JudgedCase:
    case: CaseRow
    result: RetestResult


def case_box(case: CaseRow) -> tuple[float, float, float, float]:
    """(min_lon, min_lat, max_lon, max_lat) just around the case's disk (1% margin)."""
    dlat = 1.01 * case.radius_m / 110_574.0
    dlon = 1.01 * case.radius_m / max(111_412.84 * math.cos(math.radians(case.lat)) - 93.5, 1.0)
    return case.lon - dlon, case.lat - dlat, case.lon + dlon, case.lat + dlat


def plan_retest(conn: psycopg.Connection[Any], case: CaseRow, actor: Actor,
                thresholds: Thresholds) -> RetestPlan:
    """Plan (or re-plan) the re-test of a done case: walk route, fixed probes, sample rule; and
    ask those probes to test the case's carrier more often for `EXTRA_WINDOW_DAYS`."""
    if case.state != "done" or case.done_at is None:
        raise MoveRefused("state: a re-test is planned for a done case, not {frm}",
                          frm=case.state)
    rules = thresholds.rules
    now = datetime.now(UTC)
    box = case_box(case)
    plan = RetestPlan(
        case_id=case.id, planned_at=now, after_time=case.done_at,
        min_samples=rules.min_samples, min_slots=rules.min_slots, slot_hours=rules.slot_hours,
        probes=probes_near(conn, box, case.carrier, _ward(case)),
        route_gpx=walk_route_gpx(case.lat, case.lon, case.radius_m, f"lomsong case {case.id}"))
    starts_at = max(now, case.done_at)
    requests = [RetestRequest(
        case_id=case.id, probe_id=p.probe_id, ward_code=p.ward_code, carrier=case.carrier,
        access=case.access, starts_at=starts_at,
        ends_at=starts_at + timedelta(days=EXTRA_WINDOW_DAYS), every_min=EXTRA_EVERY_MIN,
        max_extra_per_day=EXTRA_MAX_PER_DAY) for p in fixed_probes_near(conn, box, case.carrier)]
    with conn.transaction():
        save_plan(conn, plan, actor)
        save_requests(conn, case.id, requests)
    return plan


def _ward(case: CaseRow) -> Scope:
    """The measurements a case is judged on: its own ward's (read only)."""
    return Scope.ward(case.ward_code)


def _rows(conn: psycopg.Connection[Any], case: CaseRow, start: datetime) -> gpd.GeoDataFrame:
    with tempfile.TemporaryFile() as out:
        copy_rows_near(conn, [case_box(case)], [], out, start=start, carriers=[case.carrier],
                       accesses=[case.access], columns=_COLUMNS, scope=_ward(case))
        out.seek(0)
        types = {c: ("object" if c in _TEXT else "float64") for c in _COLUMNS}
        types["measured_at"] = "object"
        table = pd.read_csv(out, keep_default_na=False, na_values=[""], dtype=types)
    table["measured_at"] = pd.to_datetime(table["measured_at"], utc=True, format="ISO8601")
    lat, lon = table["lat"].to_numpy("float64"), table["lon"].to_numpy("float64")
    has = np.isfinite(lat) & np.isfinite(lon)
    points = gpd.points_from_xy(np.where(has, lon, 0.0), np.where(has, lat, 0.0), crs="EPSG:4326")
    points[~has] = None
    return gpd.GeoDataFrame(table, geometry=points)


def judge_case(conn: psycopg.Connection[Any], case_id: int, actor: Actor, today: date,
               thresholds: Thresholds) -> JudgedCase:
    """Judge a done case on the tests after its done time; store the verdict; move the case."""
    case = get_case(conn, case_id, actor.scope, today)
    if case is None or actor.role == "carrier" or not actor.scope.write:
        raise MoveRefused("case {id}: not found", not_found=True, id=str(case_id))
    if case.state != "done" or case.done_at is None or case.sent_on is None:
        raise MoveRefused("state: only a done case is judged, not {frm}", frm=case.state)
    plan = get_plan(conn, case.id, actor.scope)
    if plan is None:
        plan = plan_retest(conn, case, actor, thresholds)
    local = ZoneInfo(thresholds.windows.timezone)
    place = RetestPlace(
        lat=case.lat, lon=case.lon, radius_m=case.radius_m, carrier=case.carrier,
        access=case.access,
        before_until=datetime.combine(case.sent_on, time(0), local).astimezone(UTC),
        after_from=max(plan.after_time, case.done_at))
    start = place.before_until - timedelta(days=BEFORE_DAYS)
    result = judge_retest(_rows(conn, case, start), place, thresholds)
    with conn.transaction():
        save_verdict(conn, case.id, actor, result.outcome, result.as_json())
        # The verdict (stored above, shown beside the history) is the note of the move.
        if result.outcome == "met":
            case = move_case(conn, case.id, "verified", actor, today, "", {}, judged=True)
        elif result.outcome == "not_met":
            case = move_case(conn, case.id, "reopened", actor, today, "", {}, judged=True)
        if result.outcome != "not_enough_data":  # judged: the probes go back to their schedule
            end_requests(conn, case.id, datetime.now(UTC))
    return JudgedCase(case, result)
