"""Files attached to a case, kept in the database (no path on disk that a file name could steer)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from lomsong.collector.caseflow import Actor, MoveRefused
from lomsong.collector.storage.cases import add_event, visible
from lomsong.collector.storage.scope import Scope

__all__ = ["MAX_FILES_PER_CASE", "CaseFile", "add_file", "get_file_content", "list_files"]

MAX_FILES_PER_CASE = 20


@dataclass(frozen=True)
class CaseFile:
    id: int
    filename: str
    media_type: str
    size_bytes: int
    uploaded_by: str
    uploaded_at: datetime


def add_file(conn: psycopg.Connection[Any], case_id: int, filename: str, media_type: str,
             content: bytes, actor: Actor) -> int | None:
    """Store a checked file on a case the actor may change and log it; None when the case
    already holds `MAX_FILES_PER_CASE`; `MoveRefused` (not found) when the actor sees no such
    case or only reads."""
    where, scoped = visible(actor.scope)
    with conn.transaction():
        found = conn.execute(sql.SQL("SELECT 1 FROM cases WHERE id = %s AND {} FOR UPDATE")
                             .format(where), [case_id, *scoped]).fetchone()
        if found is None or not actor.scope.write:
            raise MoveRefused("case {id}: not found", not_found=True, id=str(case_id))
        count = conn.execute("SELECT count(*) FROM case_files WHERE case_id = %s",
                             (case_id,)).fetchone()
        if count is None or int(count[0]) >= MAX_FILES_PER_CASE:
            return None
        row = conn.execute(
            "INSERT INTO case_files (case_id, filename, media_type, size_bytes, sha256, content,"
            " uploaded_by) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (case_id, filename, media_type, len(content), hashlib.sha256(content).digest(),
             content, actor.username)).fetchone()
        assert row is not None
        add_event(conn, case_id, actor.username, "attachment", None, None, filename)
    return int(row[0])


_FILE = ("f.id, f.filename, f.media_type, f.size_bytes, f.uploaded_by, f.uploaded_at")


def list_files(conn: psycopg.Connection[Any], case_id: int, scope: Scope) -> list[CaseFile]:
    """The files of a case `scope` sees (none otherwise)."""
    where, scoped = visible(scope)
    rows = conn.execute(sql.SQL(
        "SELECT {} FROM case_files f JOIN cases ON cases.id = f.case_id"
        " WHERE f.case_id = %s AND {} ORDER BY f.id").format(sql.SQL(_FILE), where),
        [case_id, *scoped]).fetchall()
    return [CaseFile(*r) for r in rows]


def get_file_content(conn: psycopg.Connection[Any], case_id: int, file_id: int,
                     scope: Scope) -> tuple[CaseFile, bytes] | None:
    """A file of a case `scope` sees, or None."""
    where, scoped = visible(scope)
    row = conn.execute(sql.SQL(
        "SELECT {}, f.content FROM case_files f JOIN cases ON cases.id = f.case_id"
        " WHERE f.case_id = %s AND f.id = %s AND {}").format(sql.SQL(_FILE), where),
        [case_id, file_id, *scoped]).fetchone()
    return None if row is None else (CaseFile(*row[:6]), bytes(row[6]))
