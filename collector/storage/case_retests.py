"""A case's re-test in storage: its plan, the fixed probes near its place, and its verdicts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from lomsong.collector.caseflow import Actor, MoveRefused
from lomsong.collector.storage.cases import add_event, visible
from lomsong.collector.storage.scope import Scope

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
                carrier: str, scope: Scope) -> list[str]:
    """Fixed probes (placed at a site) of the scope's ward(s) that measured `carrier` inside
    `box` (lon/lat bounds)."""
    min_lon, min_lat, max_lon, max_lat = box
    ward, scoped = scope.where("ward_code")
    rows = conn.execute(sql.SQL(
        "SELECT DISTINCT probe_id FROM measurements WHERE position_source = 'site'"
        " AND carrier = %s AND lon BETWEEN %s AND %s AND lat BETWEEN %s AND %s AND {}"
        " ORDER BY probe_id LIMIT {}").format(ward, sql.Literal(MAX_PROBES)),
        [carrier, min_lon, max_lon, min_lat, max_lat, *scoped]).fetchall()
    return [str(r[0]) for r in rows]


def _writable(actor: Actor, case_id: int) -> None:
    if not actor.scope.write:
        raise MoveRefused("case {id}: not found", not_found=True, id=str(case_id))


def save_plan(conn: psycopg.Connection[Any], plan: RetestPlan, actor: Actor) -> None:
    """Store (or replace) the re-test plan of a case the actor may change, and log it."""
    _writable(actor, plan.case_id)
    where, scoped = visible(actor.scope)
    with conn.transaction():
        cur = conn.execute(sql.SQL(
            "INSERT INTO case_retests (case_id, after_time, min_samples, min_slots, slot_hours,"
            " probes, route_gpx) SELECT id, %s, %s, %s, %s, %s, %s FROM cases"
            " WHERE id = %s AND {} ON CONFLICT (case_id) DO"
            " UPDATE SET planned_at = now(), after_time = EXCLUDED.after_time,"
            " min_samples = EXCLUDED.min_samples, min_slots = EXCLUDED.min_slots,"
            " slot_hours = EXCLUDED.slot_hours, probes = EXCLUDED.probes,"
            " route_gpx = EXCLUDED.route_gpx").format(where),
            [plan.after_time, plan.min_samples, plan.min_slots, plan.slot_hours, plan.probes,
             plan.route_gpx, plan.case_id, *scoped])
        if cur.rowcount == 0:
            raise MoveRefused("case {id}: not found", not_found=True, id=str(plan.case_id))
        add_event(conn, plan.case_id, actor.username, "retest", None, None, "")


def get_plan(conn: psycopg.Connection[Any], case_id: int, scope: Scope) -> RetestPlan | None:
    """The re-test plan of a case `scope` sees, if it has one."""
    where, scoped = visible(scope)
    row = conn.execute(sql.SQL(
        "SELECT r.case_id, r.planned_at, r.after_time, r.min_samples, r.min_slots,"
        " r.slot_hours, r.probes, r.route_gpx FROM case_retests r"
        " JOIN cases ON cases.id = r.case_id WHERE r.case_id = %s AND {}").format(where),
        [case_id, *scoped]).fetchone()
    return None if row is None else RetestPlan(*row)


def save_verdict(conn: psycopg.Connection[Any], case_id: int, actor: Actor, outcome: str,
                 comparison: dict[str, Any]) -> None:
    """Store a judgement of a case the actor may change."""
    _writable(actor, case_id)
    where, scoped = visible(actor.scope)
    cur = conn.execute(sql.SQL(
        "INSERT INTO case_verdicts (case_id, judged_by, outcome, comparison)"
        " SELECT id, %s, %s, %s::jsonb FROM cases WHERE id = %s AND {}").format(where),
        [actor.username, outcome, json.dumps(comparison, default=str), case_id, *scoped])
    if cur.rowcount == 0:
        raise MoveRefused("case {id}: not found", not_found=True, id=str(case_id))


def list_verdicts(conn: psycopg.Connection[Any], case_id: int, scope: Scope) -> list[Verdict]:
    """The judgements of a case `scope` sees, newest first."""
    where, scoped = visible(scope)
    rows = conn.execute(sql.SQL(
        "SELECT v.judged_at, v.judged_by, v.outcome, v.comparison FROM case_verdicts v"
        " JOIN cases ON cases.id = v.case_id WHERE v.case_id = %s AND {}"
        " ORDER BY v.judged_at DESC, v.id DESC LIMIT {}").format(where,
                                                                 sql.Literal(MAX_VERDICTS)),
        [case_id, *scoped]).fetchall()
    return [Verdict(*r) for r in rows]
