"""Limits a stranger reaches: body size before parsing (every route, multipart included), the
size of a 422 reply, concurrent password hashing, and the sign-in lockout."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

from fastapi.testclient import TestClient
from seckit import URL, auth

from lomsong.collector.bodylimit import SMALL_BODY_BYTES, limit_for
from lomsong.collector.dashboard.site_upload import MAX_UPLOAD_BYTES

MIB = 1024 * 1024


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body sent chunked (no Content-Length), as a client that lies or streams would."""
    head = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\n"
            b"Content-Type: text/csv\r\n\r\n")
    yield head
    sent = len(head)
    while sent < total:
        yield b"x" * size
        sent += size


def _temp_files() -> set[Path]:
    return set(Path(tempfile.gettempdir()).iterdir())


def test_multipart_to_login_and_admin_is_refused_before_parsing(client: TestClient) -> None:
    multipart = {"Content-Type": "multipart/form-data; boundary=b"}
    for path, limit in (("/login", SMALL_BODY_BYTES),
                        ("/admin/sites/upload", limit_for("/admin/sites/upload", 0))):
        declared = client.post(path, content=b"x" * 16, headers={
            **multipart, "Content-Length": str(6 * 1024 * MIB)})
        assert declared.status_code == 413, path
        assert str(limit) in declared.json()["detail"]
        before = _temp_files()
        streamed = client.post(path, content=_chunks(limit + 4 * MIB), headers=multipart)
        assert streamed.status_code == 413, (path, streamed.status_code, streamed.text[:200])
        assert _temp_files() <= before, "a refused body left a file in the temp folder"
    assert limit_for("/admin/ward", 0) > MAX_UPLOAD_BYTES


def test_ingest_body_over_the_limit_is_413_even_streamed(client: TestClient,
                                                         tokens: dict[str, str]) -> None:
    resp = client.post(URL, content=(b"[" * 65_536 for _ in range(40)), headers={
        **auth(tokens["probe"]), "Content-Type": "application/json"})
    assert resp.status_code == 413
    assert "2097152" in resp.json()["detail"]


def test_other_routes_take_small_bodies_only(client: TestClient,
                                             tokens: dict[str, str]) -> None:
    resp = client.post("/api/v1/probes/status", content=b"{" + b" " * SMALL_BODY_BYTES + b"}",
                       headers={**auth(tokens["probe"]), "Content-Type": "application/json"})
    assert resp.status_code == 413




def test_the_phone_pages_routes_get_their_own_body_limits() -> None:
    from lomsong.collector.phone.results import BODY_MAX_BYTES

    # A walk's queued results (up to 200 records) and an upload test are bigger than a form.
    assert limit_for("/do/api/results", 1 << 20) == BODY_MAX_BYTES > SMALL_BODY_BYTES
    assert limit_for("/do/api/up", 1 << 20, phone_payload_bytes=64 << 20) == 64 << 20
    assert limit_for("/do/api/ping", 1 << 20, phone_payload_bytes=64 << 20) == SMALL_BODY_BYTES
