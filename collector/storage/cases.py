"""Cases in storage: create, list and read within the actor's scope, move with a logged event.

The scope (ward, carrier) is part of every query's WHERE clause, so no page can forget it: a case
outside the actor's scope is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

import psycopg

from lomsong.collector.caseflow import Actor, MoveRefused, check_move

__all__ = ["CaseEvent", "CaseRow", "NewCase", "add_event", "create_case", "get_case", "list_cases",
           "list_events", "move_case", "overdue_cases"]

MAX_LIST = 500


@dataclass(frozen=True)
class NewCase:
    ward_code: str
    carrier: str
    access: str
    title: str
    body: str
    site_id: str | None
    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True)
class CaseRow:
    id: int
    ward_code: str
    carrier: str
    access: str
    title: str
    body: str
    site_id: str | None
    lat: float
    lon: float
    radius_m: float
    state: str
    sent_on: date | None
    document_no: str | None
    reply_due_on: date | None
    action: str | None
    carrier_site_code: str | None
    promised_on: date | None
    done_at: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    overdue: bool


@dataclass(frozen=True)
class CaseEvent:
    at: datetime
    actor: str
    kind: str
    from_state: str | None
    to_state: str | None
    note: str


# Overdue: no reply by the date the letter asked for, or not done by the carrier's own promise.
_OVERDUE = ("((state IN ('sent') AND reply_due_on < %(today)s)"
            " OR (state IN ('acknowledged', 'planned', 'reopened') AND promised_on < %(today)s))")
_COLUMNS = ", ".join(f.name for f in fields(CaseRow) if f.name != "overdue") + f", {_OVERDUE}"
# The actor's scope, as SQL over the parameters of `_scope`.
_SCOPE = ("((%(carrier)s::text IS NULL AND (%(all)s OR ward_code = %(ward)s))"
          " OR (carrier = %(carrier)s AND state <> 'draft'))")
# Fields a move sets, per target state (all required but the carrier's site code).
_MOVE_FIELDS = {
    "sent": ("sent_on", "document_no", "reply_due_on"),
    "planned": ("action", "carrier_site_code", "promised_on"),
    "done": ("done_at",),
}
_OPTIONAL = frozenset({"carrier_site_code"})


def _scope(actor: Actor, today: date) -> dict[str, Any]:
    carrier = actor.carrier if actor.role == "carrier" else None
    if actor.role == "carrier" and carrier is None:
        carrier = "-"  # a carrier account without a carrier sees nothing
    return {"carrier": carrier, "all": actor.all_wards, "ward": actor.ward_code or "-",
            "today": today}


def create_case(conn: psycopg.Connection[Any], new: NewCase, actor: Actor) -> int:
    """Insert a draft case and its first event; returns its id."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO cases (ward_code, carrier, access, title, body, site_id, lat, lon,"
            " radius_m, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (new.ward_code, new.carrier, new.access, new.title, new.body, new.site_id, new.lat,
             new.lon, new.radius_m, actor.username)).fetchone()
        assert row is not None
        add_event(conn, int(row[0]), actor.username, "transition", None, "draft", "")
    return int(row[0])


def list_cases(conn: psycopg.Connection[Any], actor: Actor, today: date) -> list[CaseRow]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM cases WHERE {_SCOPE} ORDER BY id DESC"
                        f" LIMIT {MAX_LIST}", _scope(actor, today)).fetchall()
    return [CaseRow(*r) for r in rows]


def get_case(conn: psycopg.Connection[Any], case_id: int, actor: Actor, today: date,
             *, lock: bool = False) -> CaseRow | None:
    """The case if it exists and `actor` may see it (else None, whichever it is)."""
    params = {**_scope(actor, today), "id": case_id}
    row = conn.execute(f"SELECT {_COLUMNS} FROM cases WHERE id = %(id)s AND {_SCOPE}"
                       + (" FOR UPDATE" if lock else ""), params).fetchone()
    return None if row is None else CaseRow(*row)


def overdue_cases(conn: psycopg.Connection[Any], today: date) -> list[CaseRow]:
    """Every overdue case, whatever its ward (for the alert evaluator)."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM cases WHERE {_OVERDUE} ORDER BY id"
                        f" LIMIT {MAX_LIST}", {"today": today}).fetchall()
    return [CaseRow(*r) for r in rows]


def add_event(conn: psycopg.Connection[Any], case_id: int, actor: str, kind: str,
              from_state: str | None, to_state: str | None, note: str) -> None:
    conn.execute("INSERT INTO case_events (case_id, actor, kind, from_state, to_state, note)"
                 " VALUES (%s, %s, %s, %s, %s, %s)",
                 (case_id, actor, kind, from_state, to_state, note))
    conn.execute("UPDATE cases SET updated_at = now() WHERE id = %s", (case_id,))


def list_events(conn: psycopg.Connection[Any], case_id: int) -> list[CaseEvent]:
    rows = conn.execute("SELECT at, actor, kind, from_state, to_state, note FROM case_events"
                        " WHERE case_id = %s ORDER BY at, id", (case_id,)).fetchall()
    return [CaseEvent(*r) for r in rows]


def move_case(conn: psycopg.Connection[Any], case_id: int, to: str, actor: Actor, today: date,
              note: str, values: dict[str, Any], *, judged: bool = False) -> CaseRow:
    """Move a case the actor may see to `to`, setting that state's fields, and log it.

    `MoveRefused` when the case is not visible to the actor, the move is not allowed, or a
    field the target state needs is missing. `judged` moves come from a re-test judgement.
    """
    with conn.transaction():
        case = get_case(conn, case_id, actor, today, lock=True)
        if case is None:
            raise MoveRefused("case {id}: not found", not_found=True, id=str(case_id))
        if not judged:
            check_move(case.state, to, actor)
        wanted = _MOVE_FIELDS.get(to, ())
        given = {name: None if values.get(name) == "" else values.get(name) for name in wanted}
        missing = [name for name in wanted if given[name] is None and name not in _OPTIONAL]
        if missing:
            raise MoveRefused("{field}: required to move to {to}", field=missing[0], to=to)
        sets = ", ".join(["state = %s", *(f"{name} = %s" for name in wanted)])
        conn.execute(f"UPDATE cases SET {sets} WHERE id = %s",
                     (to, *(given[name] for name in wanted), case_id))
        add_event(conn, case_id, actor.username, "transition", case.state, to, note)
        moved = get_case(conn, case_id, actor, today)
    assert moved is not None
    return moved
