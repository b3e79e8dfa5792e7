"""The test's payloads: downloads of pre-generated random bytes, uploads counted and discarded,
and an empty answer to time round trips.

Downloads send slices (memoryviews, no copies) of one random buffer made when the collector
starts, so the hot path does no per-byte Python work: one ``send`` per MiB. Random bytes do not
compress, so a proxy's compression cannot inflate the measured rate; the buffer repeats only
every `BUFFER_BYTES`, beyond any compressor's window.
"""

from __future__ import annotations

import os
from typing import Annotated, Final

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from lomsong.collector.phone.enrol import SignedLink
from lomsong.collector.settings import Settings

__all__ = ["BUFFER_BYTES", "SLICE_BYTES", "make_buffer", "router"]

BUFFER_BYTES: Final = 8 * 1024 * 1024
SLICE_BYTES: Final = 1024 * 1024
_NO_STORE: Final = {"Cache-Control": "no-store", "Content-Encoding": "identity"}

router = APIRouter(prefix="/do/api", tags=["phone page"], include_in_schema=False)


def make_buffer() -> memoryview:
    return memoryview(os.urandom(BUFFER_BYTES))


def _headers(request: Request) -> dict[str, str]:
    """No caching; and, on a separate test server, the page's origin may read the answer."""
    settings: Settings = request.app.state.settings
    origin = request.headers.get("origin")
    if origin is not None and origin in settings.phone_cors_origins:
        return {**_NO_STORE, "Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return dict(_NO_STORE)


class PayloadResponse(Response):
    """`size` bytes cut from the random buffer, sent a slice at a time."""

    def __init__(self, buffer: memoryview, size: int, headers: dict[str, str]) -> None:
        super().__init__(media_type="application/octet-stream", headers=headers)
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.raw_headers.append((b"content-length", str(size).encode()))
        self._buffer = buffer
        self._size = size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        sent, offset = 0, 0
        while sent < self._size:
            n = min(SLICE_BYTES, self._size - sent, len(self._buffer) - offset)
            sent += n
            await send({"type": "http.response.body", "body": self._buffer[offset:offset + n],
                        "more_body": sent < self._size})
            offset = (offset + n) % len(self._buffer)
        if self._size == 0:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


@router.get("/down")
async def download(request: Request, link: SignedLink,
                   size: Annotated[int, Query(alias="bytes", ge=0)]) -> Response:
    """`bytes` incompressible bytes (at most the collector's payload limit)."""
    settings: Settings = request.app.state.settings
    if size > settings.phone_payload_max_bytes:
        raise HTTPException(413, detail=f"bytes: at most {settings.phone_payload_max_bytes}")
    return PayloadResponse(request.app.state.phone_buffer, size, _headers(request))


@router.post("/up")
async def upload(request: Request, link: SignedLink) -> Response:
    """Read and discard the body; answer how many bytes arrived."""
    settings: Settings = request.app.state.settings
    limit = settings.phone_payload_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, detail=f"body larger than {limit} bytes")
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise HTTPException(413, detail=f"body larger than {limit} bytes")
    except ClientDisconnect:
        # The page stops an upload by aborting it: nobody is left to answer.
        return Response(status_code=400, headers=_NO_STORE)
    return JSONResponse({"received": received}, headers=_headers(request))


@router.options("/up")
async def upload_preflight(request: Request) -> Response:
    """CORS preflight (a page watching upload progress triggers one) of a listed origin."""
    headers = _headers(request)
    if "Access-Control-Allow-Origin" in headers:
        headers.update({"Access-Control-Allow-Methods": "POST", "Access-Control-Max-Age": "600"})
    return Response(status_code=204, headers=headers)


@router.get("/ping")
async def ping(request: Request, link: SignedLink) -> Response:
    """An empty answer: the page times these round trips."""
    return Response(status_code=204, headers=_headers(request))
