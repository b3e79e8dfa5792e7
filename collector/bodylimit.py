"""Request body limits, applied before any route parses a body (JSON, form or multipart).

`BodyLimit` answers 413 at once when ``Content-Length`` is over the route's limit, and otherwise
counts the bytes as the route reads them: the read that goes over raises a 413
``HTTPException``, so a chunked or lying client never gets more than the limit into memory or the
temp folder (Starlette spools multipart files there). Limits by path:

- ``POST /api/v1/measurements``: ``max_body_bytes`` (a batch of up to 5,000 records);
- ``/admin/...``: an upload (`MAX_UPLOAD_BYTES`) plus room for the form's other fields;
- ``POST /cases/<id>/files``: a file attached to a case (`MAX_FILE_BYTES`) plus the same room;
- ``POST /do/api/up``: the phone page's upload test (``phone_payload_max_bytes``; the route
  counts and discards it without keeping it);
- ``POST /do/api/results``: a phone's queued results (`phone.results.BODY_MAX_BYTES`);
- everything else (sign-in, forms, probe status): `SMALL_BODY_BYTES`.

Example
-------
>>> limit_for("/login", 32 << 20), limit_for("/api/v1/measurements", 32 << 20)
(65536, 33554432)
>>> limit_for("/do/api/up", 32 << 20, phone_payload_bytes=64 << 20)
67108864
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lomsong.collector.dashboard.case_upload import MAX_FILE_BYTES
from lomsong.collector.dashboard.site_upload import MAX_UPLOAD_BYTES
from lomsong.collector.phone.results import BODY_MAX_BYTES as RESULTS_MAX_BYTES

__all__ = ["SMALL_BODY_BYTES", "BodyLimit", "limit_for"]

SMALL_BODY_BYTES = 64 * 1024
_FORM_ROOM_BYTES = 64 * 1024


def limit_for(path: str, max_body_bytes: int, *, phone_payload_bytes: int = SMALL_BODY_BYTES) -> int:
    """The largest body (bytes) a request to `path` may send."""
    if path.rstrip("/") == "/api/v1/measurements":
        return max_body_bytes
    if path.rstrip("/") == "/do/api/up":
        return phone_payload_bytes
    if path.rstrip("/") == "/do/api/results":
        return RESULTS_MAX_BYTES
    if path.startswith("/admin/"):
        return MAX_UPLOAD_BYTES + _FORM_ROOM_BYTES
    if path.startswith("/cases/") and path.endswith("/files"):
        return MAX_FILE_BYTES + _FORM_ROOM_BYTES
    return SMALL_BODY_BYTES


def _too_large(limit: int) -> str:
    return f"body larger than {limit} bytes; nothing was read or stored"


class BodyLimit:
    """ASGI middleware enforcing `limit_for` on every HTTP request."""

    def __init__(self, app: ASGIApp, max_body_bytes: int,
                 phone_payload_bytes: int = SMALL_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.phone_payload_bytes = phone_payload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope.get("path", ""), self.max_body_bytes,
                          phone_payload_bytes=self.phone_payload_bytes)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _reply_413(send, limit)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, detail=_too_large(limit))
            return message

        await self.app(scope, counted, send)


async def _reply_413(send: Send, limit: int) -> None:
    body = json.dumps({"detail": _too_large(limit), "errors": []}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
