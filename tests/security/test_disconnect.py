"""A probe whose link drops in the middle of a body: one INFO line, no ERROR traceback."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from seckit import URL

from lomsong.collector.storage.tokens import create_token


def test_client_gone_mid_body_logs_one_line_and_stores_nothing(
        client: TestClient, conn: psycopg.Connection[Any], caplog: pytest.LogCaptureFixture) -> None:
    token = create_token(conn, "pi-gone-01", "probe")
    parts = [{"type": "http.request", "body": b'{"measurements": [{"id": ', "more_body": True},
             {"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": URL, "raw_path": URL.encode(),
             "query_string": b"", "root_path": "", "client": ("192.0.2.1", 4000),
             "server": ("testserver", 80), "app": client.app,
             "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                         (b"authorization", f"Bearer {token}".encode())]}

    async def receive() -> dict[str, Any]:
        return parts.pop(0) if parts else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def call() -> None:
        await client.app(scope, receive, send)  # type: ignore[arg-type]

    with caplog.at_level(logging.INFO):
        client.portal.call(call)  # type: ignore[union-attr]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    gone = [r for r in caplog.records if "went away" in r.getMessage()]
    assert len(gone) == 1 and gone[0].levelno == logging.INFO and gone[0].exc_info is None
    assert conn.execute("SELECT count(*) FROM measurement_ids").fetchone() == (0,)
