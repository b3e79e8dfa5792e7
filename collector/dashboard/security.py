"""Passwords (argon2id), per-purpose keys, CSRF tokens and the dashboard's security headers.

Sessions are Starlette's signed cookies (itsdangerous) keyed with `derive_key(secret, "session")`:
HttpOnly, SameSite=Lax, Secure in prod. A session holds a random nonce ``n``; the CSRF token of
every form is an HMAC of that nonce, so it needs no storage and changes at each sign-in.

Example
-------
>>> stored = hash_password("đúng-mật-khẩu")
>>> verify_password(stored, "đúng-mật-khẩu"), verify_password(stored, "sai")
(True, False)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DUMMY_HASH", "HashGate", "HashingBusy", "SecurityHeaders", "csrf_token", "csrf_valid",
           "derive_key", "hash_password", "new_nonce", "verify_password"]

# argon2id with the library's defaults (RFC 9106 low-memory profile: t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()
# Verified against when the user does not exist, so timing does not reveal user names.
DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """argon2id PHC string of `password`."""
    if not password:
        raise ValueError("password: must not be empty")
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class HashingBusy(Exception):
    """Every password-check slot stayed taken for the whole wait: answer 503, try again."""


class HashGate:
    """At most `limit` argon2 computations at once (64 MiB of memory each).

    A request that finds every slot taken waits up to `wait_s` for one, then gets `HashingBusy`
    (the sign-in page answers 503 with Retry-After), so a burst of sign-ins cannot take the
    server's memory, and guessing from many addresses is slowed to `limit` guesses at a time.
    """

    def __init__(self, limit: int, wait_s: float) -> None:
        self.limit = limit
        self.wait_s = wait_s
        self._slots = asyncio.Semaphore(limit)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=self.wait_s)
        except TimeoutError as exc:
            raise HashingBusy(f"all {self.limit} password-check slots busy") from exc
        try:
            yield
        finally:
            self._slots.release()


def derive_key(secret_key: str, purpose: str) -> str:
    """A key for one purpose (``session``, ``csrf``), so one secret never signs two kinds of data."""
    return hmac.new(secret_key.encode(), f"lomsong:{purpose}".encode(), hashlib.sha256).hexdigest()


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def csrf_token(csrf_key: str, nonce: str) -> str:
    return hmac.new(csrf_key.encode(), nonce.encode(), hashlib.sha256).hexdigest()


def csrf_valid(csrf_key: str, nonce: str | None, token: str | None) -> bool:
    if not nonce or not token:
        return False
    return hmac.compare_digest(csrf_token(csrf_key, nonce), token)


_DEFAULT_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# The interactive API docs load their assets from a CDN; they keep FastAPI's own page.
_NO_CSP_PREFIXES = ("/docs", "/redoc")


class SecurityHeaders:
    """ASGI middleware: nosniff, a same-origin referrer, and a strict CSP unless a route set one.

    Routes that must be framed or need inline code (the folium map) set their own
    ``Content-Security-Policy`` and ``X-Frame-Options``; those are left as they are.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if not path.startswith(_NO_CSP_PREFIXES):
                    headers.setdefault("Content-Security-Policy", _DEFAULT_CSP)
                    headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_wrapper)
