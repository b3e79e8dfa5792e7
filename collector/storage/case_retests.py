"""A case's re-test in storage: its plan, the fixed probes near its place, and its verdicts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from lomsong.collector.storage.cases import add_event

__all__ = ["RetestPlan", "Verdict", "get_plan", "list_verdicts", "probes_near", "save_plan",
           "save_verdict"]

MAX_PROBES = 50
MAX_VERDICTS = 100


@dataclass(frozen=True)
class RetestPlan:
    case_id: int
    planned_at: datetime
    after_time: datetime
    min_samples: int
    min_slots: int
    slot_hours: int
    probes: list[str]
    route_gpx: str


@dataclass(frozen=True)
class Verdict:
    judged_at: datetime
    judged_by: str
    outcome: str
    comparison: dict[str, Any]


def probes_near(conn: psycopg.Connection[Any], box: tuple[float, float, float, float],
                carrier: str) -> list[str]:
    """Fixed probes (placed at a site) that measured `carrier` inside `box` (lon/lat bounds)."""
    min_lon, min_lat, max_lon, max_lat = box
    rows = conn.execute(
        "SELECT DISTINCT probe_id FROM measurements WHERE position_source = 'site'"
        " AND carrier = %s AND lon BETWEEN %s AND %s AND lat BETWEEN %s AND %s"
        f" ORDER BY probe_id LIMIT {MAX_PROBES}",
        (carrier, min_lon, max_lon, min_lat, max_lat)).fetchall()
    return [str(r[0]) for r in rows]


def save_plan(conn: psycopg.Connection[Any], plan: RetestPlan, actor: str) -> None:
    """Store (or replace) the case's re-test plan and log it."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO case_retests (case_id, after_time, min_samples, min_slots, slot_hours,"
            " probes, route_gpx) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (case_id) DO"
            " UPDATE SET planned_at = now(), after_time = EXCLUDED.after_time,"
            " min_samples = EXCLUDED.min_samples, min_slots = EXCLUDED.min_slots,"
            " slot_hours = EXCLUDED.slot_hours, probes = EXCLUDED.probes,"
            " route_gpx = EXCLUDED.route_gpx",
            (plan.case_id, plan.after_time, plan.min_samples, plan.min_slots, plan.slot_hours,
             plan.probes, plan.route_gpx))
        add_event(conn, plan.case_id, actor, "retest", None, None, "")


def get_plan(conn: psycopg.Connection[Any], case_id: int) -> RetestPlan | None:
    row = conn.execute("SELECT case_id, planned_at, after_time, min_samples, min_slots,"
                       " slot_hours, probes, route_gpx FROM case_retests WHERE case_id = %s",
                       (case_id,)).fetchone()
    return None if row is None else RetestPlan(*row)


def save_verdict(conn: psycopg.Connection[Any], case_id: int, actor: str, outcome: str,
                 comparison: dict[str, Any]) -> None:
    conn.execute("INSERT INTO case_verdicts (case_id, judged_by, outcome, comparison)"
                 " VALUES (%s, %s, %s, %s::jsonb)",
                 (case_id, actor, outcome, json.dumps(comparison, default=str)))


def list_verdicts(conn: psycopg.Connection[Any], case_id: int) -> list[Verdict]:
    rows = conn.execute("SELECT judged_at, judged_by, outcome, comparison FROM case_verdicts"
                        f" WHERE case_id = %s ORDER BY judged_at DESC, id DESC"
                        f" LIMIT {MAX_VERDICTS}", (case_id,)).fetchall()
    return [Verdict(*r) for r in rows]
