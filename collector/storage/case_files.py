"""Files attached to a case, kept in the database (no path on disk that a file name could steer)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from lomsong.collector.storage.cases import add_event

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
             content: bytes, actor: str) -> int | None:
    """Store a checked file and log it; None when the case already holds `MAX_FILES_PER_CASE`."""
    with conn.transaction():
        conn.execute("SELECT 1 FROM cases WHERE id = %s FOR UPDATE", (case_id,))
        count = conn.execute("SELECT count(*) FROM case_files WHERE case_id = %s",
                             (case_id,)).fetchone()
        if count is None or int(count[0]) >= MAX_FILES_PER_CASE:
            return None
        row = conn.execute(
            "INSERT INTO case_files (case_id, filename, media_type, size_bytes, sha256, content,"
            " uploaded_by) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (case_id, filename, media_type, len(content), hashlib.sha256(content).digest(),
             content, actor)).fetchone()
        assert row is not None
        add_event(conn, case_id, actor, "attachment", None, None, filename)
    return int(row[0])


def list_files(conn: psycopg.Connection[Any], case_id: int) -> list[CaseFile]:
    rows = conn.execute("SELECT id, filename, media_type, size_bytes, uploaded_by, uploaded_at"
                        " FROM case_files WHERE case_id = %s ORDER BY id", (case_id,)).fetchall()
    return [CaseFile(*r) for r in rows]


def get_file_content(conn: psycopg.Connection[Any], case_id: int,
                     file_id: int) -> tuple[CaseFile, bytes] | None:
    """A file of `case_id` (the caller has checked the case is visible), or None."""
    row = conn.execute("SELECT id, filename, media_type, size_bytes, uploaded_by, uploaded_at,"
                       " content FROM case_files WHERE case_id = %s AND id = %s",
                       (case_id, file_id)).fetchone()
    return None if row is None else (CaseFile(*row[:6]), bytes(row[6]))
