"""Cases in storage: create, list and read within a `Scope`, move with a logged event.

The scope (`visible`: the ward(s), or a carrier organisation's sent cases) is part of every
query's WHERE clause, so no page can forget it: a case outside the scope is simply not found, and
a read-only scope (the city officer's) changes none.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg import sql

from lomsong.collector.caseflow import Actor, MoveRefused, check_move
from lomsong.collector.storage.scope import Scope, ScopeError

__all__ = ["OPEN_STATES", "AskCounts", "CaseEvent", "CaseRow", "NewCase", "add_event",
           "ask_counts", "create_case", "get_case", "list_cases", "list_events", "move_case",
           "overdue_cases", "reply_case", "visible"]

MAX_LIST = 500
MAX_EVENTS = 1_000
MAX_COUNTS = 10_000  # ward x carrier pairs: 3,321 wards of Vietnam x 3 carriers fit


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
# Its two parameters are the local date of today.
_OVERDUE = ("((state = 'sent' AND reply_due_on < %s)"
            " OR (state IN ('acknowledged', 'planned', 'reopened') AND promised_on < %s))")
# An ask the carrier has and the ward still waits on (sent, and neither verified nor closed).
OPEN_STATES = ("sent", "acknowledged", "planned", "done", "reopened")
_COLUMNS = sql.SQL(", ".join(f"cases.{f.name}" for f in fields(CaseRow) if f.name != "overdue")
                   + f", {_OVERDUE}")
# Fields a move sets, per target state (all required but the carrier's site code).
_MOVE_FIELDS = {
    "sent": ("sent_on", "document_no", "reply_due_on"),
    "planned": ("action", "carrier_site_code", "promised_on"),
    "done": ("done_at",),
}
_OPTIONAL = frozenset({"carrier_site_code"})


def visible(scope: Scope, table: str = "cases") -> tuple[sql.Composable, list[Any]]:
    """The cases `scope` sees, as a SQL condition on `table` with its parameters: a carrier
    organisation's cases once sent, in every ward; else the scope's ward(s)."""
    if scope.carrier is not None:
        return (sql.SQL("({} = %s AND {} <> 'draft')").format(
            sql.Identifier(table, "carrier"), sql.Identifier(table, "state")), [scope.carrier])
    return scope.where("ward_code", table)


def _select(conn: psycopg.Connection[Any], scope: Scope, today: date, extra: str,
            params: list[Any], tail: str = "") -> list[CaseRow]:
    where, scoped = visible(scope)
    query = sql.SQL("SELECT {} FROM cases WHERE {} AND {} {}").format(
        _COLUMNS, where, sql.SQL(extra), sql.SQL(tail))  # extra and tail: literals of this module
    rows = conn.execute(query, [today, today, *scoped, *params]).fetchall()
    return [CaseRow(*r) for r in rows]


def create_case(conn: psycopg.Connection[Any], new: NewCase, actor: Actor) -> int:
    """Insert a draft case of a ward the actor may write to and its first event; returns its id.

    `ScopeError` when the ward is outside the actor's scope, the scope only reads, or the ward
    is not a ward record.
    """
    ward = actor.scope.narrowed(new.ward_code).home()
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO cases (ward_code, carrier, access, title, body, site_id, lat, lon,"
            " radius_m, created_by) SELECT code, %s, %s, %s, %s, %s, %s, %s, %s, %s FROM wards"
            " WHERE code = %s RETURNING id",
            (new.carrier, new.access, new.title, new.body, new.site_id, new.lat, new.lon,
             new.radius_m, actor.username, ward)).fetchone()
        if row is None:
            raise ScopeError(f"ward {ward!r} is not a ward record (lomsong wards add)")
        add_event(conn, int(row[0]), actor.username, "transition", None, "draft", "")
    return int(row[0])


def list_cases(conn: psycopg.Connection[Any], scope: Scope, today: date) -> list[CaseRow]:
    """The newest `MAX_LIST` cases `scope` sees."""
    return _select(conn, scope, today, "TRUE", [], f"ORDER BY id DESC LIMIT {MAX_LIST}")


def get_case(conn: psycopg.Connection[Any], case_id: int, scope: Scope, today: date,
             *, lock: bool = False) -> CaseRow | None:
    """The case if it exists and `scope` sees it (else None, whichever it is)."""
    rows = _select(conn, scope, today, "id = %s", [case_id], "FOR UPDATE" if lock else "")
    return rows[0] if rows else None


def overdue_cases(conn: psycopg.Connection[Any], scope: Scope, today: date) -> list[CaseRow]:
    """The overdue cases `scope` sees (every ward's for the alert evaluator)."""
    return _select(conn, scope, today, _OVERDUE, [today, today],
                   f"ORDER BY id LIMIT {MAX_LIST}")


@dataclass(frozen=True)
class AskCounts:
    """A ward's asks to one carrier: how many are open (`OPEN_STATES`) and how many overdue."""

    ward_code: str
    carrier: str
    open: int
    overdue: int


def ask_counts(conn: psycopg.Connection[Any], scope: Scope, today: date) -> list[AskCounts]:
    """Open and overdue asks per ward and carrier, of the cases `scope` sees (pairs without an
    open or overdue ask are left out)."""
    where, scoped = visible(scope)
    query = sql.SQL(
        "SELECT ward_code, carrier, count(*) FILTER (WHERE state = ANY(%s)),"
        " count(*) FILTER (WHERE {overdue}) FROM cases WHERE {where}"
        " AND (state = ANY(%s) OR {overdue}) GROUP BY ward_code, carrier"
        " ORDER BY ward_code, carrier LIMIT {limit}").format(
        overdue=sql.SQL(_OVERDUE), where=where, limit=sql.Literal(MAX_COUNTS))
    states = list(OPEN_STATES)
    rows = conn.execute(query, [states, today, today, *scoped, states, today, today]).fetchall()
    return [AskCounts(str(w), str(c), int(o), int(d)) for w, c, o, d in rows]


def add_event(conn: psycopg.Connection[Any], case_id: int, actor: str, kind: str,
              from_state: str | None, to_state: str | None, note: str) -> None:
    """Log an event of a case the caller has found in its scope (within its transaction)."""
    conn.execute("INSERT INTO case_events (case_id, actor, kind, from_state, to_state, note)"
                 " VALUES (%s, %s, %s, %s, %s, %s)",
                 (case_id, actor, kind, from_state, to_state, note))
    conn.execute("UPDATE cases SET updated_at = now() WHERE id = %s", (case_id,))


def reply_case(conn: psycopg.Connection[Any], case_id: int, actor: Actor, note: str) -> bool:
    """Log a reply on a case the actor may change; False when it sees no such case or reads
    only."""
    if not actor.scope.write:
        return False
    where, scoped = visible(actor.scope)
    with conn.transaction():
        cur = conn.execute(sql.SQL(
            "INSERT INTO case_events (case_id, actor, kind, note) SELECT id, %s, 'reply', %s"
            " FROM cases WHERE id = %s AND {}").format(where),
            [actor.username, note, case_id, *scoped])
        if cur.rowcount == 0:
            return False
        conn.execute("UPDATE cases SET updated_at = now() WHERE id = %s", (case_id,))
    return True


def list_events(conn: psycopg.Connection[Any], case_id: int, scope: Scope) -> list[CaseEvent]:
    """The history of a case `scope` sees (empty otherwise), oldest first."""
    where, scoped = visible(scope)
    rows = conn.execute(sql.SQL(
        "SELECT e.at, e.actor, e.kind, e.from_state, e.to_state, e.note FROM case_events e"
        " JOIN cases ON cases.id = e.case_id WHERE e.case_id = %s AND {}"
        " ORDER BY e.at, e.id LIMIT {}").format(where, sql.Literal(MAX_EVENTS)),
        [case_id, *scoped]).fetchall()
    return [CaseEvent(*r) for r in rows]


def move_case(conn: psycopg.Connection[Any], case_id: int, to: str, actor: Actor, today: date,
              note: str, values: dict[str, Any], *, judged: bool = False) -> CaseRow:
    """Move a case the actor may see to `to`, setting that state's fields, and log it.

    `MoveRefused` when the case is not visible to the actor, the move is not allowed, or a
    field the target state needs is missing. `judged` moves come from a re-test judgement.
    """
    with conn.transaction():
        case = get_case(conn, case_id, actor.scope, today, lock=True)
        if case is None:
            raise MoveRefused("case {id}: not found", not_found=True, id=str(case_id))
        if not actor.scope.write:
            raise MoveRefused("state: {frm} -> {to} is not allowed for this account",
                              frm=case.state, to=to)
        if not judged:
            check_move(case.state, to, actor)
        wanted = _MOVE_FIELDS.get(to, ())
        given = {name: None if values.get(name) == "" else values.get(name) for name in wanted}
        missing = [name for name in wanted if given[name] is None and name not in _OPTIONAL]
        if missing:
            raise MoveRefused("{field}: required to move to {to}", field=missing[0], to=to)
        sets = sql.SQL(", ").join([sql.SQL("state = %s"), *(
            sql.SQL("{} = %s").format(sql.Identifier(name)) for name in wanted)])
        where, scoped = visible(actor.scope)
        conn.execute(sql.SQL("UPDATE cases SET {} WHERE id = %s AND {}").format(sets, where),
                     [to, *(given[name] for name in wanted), case_id, *scoped])
        add_event(conn, case_id, actor.username, "transition", case.state, to, note)
        moved = get_case(conn, case_id, actor.scope, today)
    assert moved is not None
    return moved
