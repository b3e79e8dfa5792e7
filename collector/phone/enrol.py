"""Enrolment tokens: signed, expiring, revocable links scoped to the ward (and a service point).

A token is ``e1.<id>.<expiry>.<signature>``: the enrolment's row id, its expiry as Unix seconds
and an HMAC-SHA256 (first 16 bytes, base64url) of both under a key derived from the collector's
secret for this purpose only. The signature and expiry are checked before the database is asked,
so guessed or altered tokens cost no query; the database then says whether it was revoked.

Example
-------
>>> token = sign_token("k" * 32, 7, 1_900_000_000)
>>> verify_signature("k" * 32, token)
(7, 1900000000)
>>> verify_signature("k" * 32, token[:-2] + "AA")
Traceback (most recent call last):
...
lomsong.collector.phone.enrol.EnrolmentRejected: the link's signature is wrong (altered or foreign)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Final

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from lomsong.collector.dashboard.security import derive_key
from lomsong.collector.deps import PoolDep
from lomsong.collector.ratelimit import RateLimiter
from lomsong.collector.settings import Settings
from lomsong.collector.storage.enrolments import Enrolment, get_enrolment
from lomsong.collector.storage.scope import Scope

__all__ = ["CurrentEnrolment", "EnrolmentRejected", "PhoneLimits", "SignedLink", "check_token",
           "sign_token", "verify_signature"]

_TOKEN: Final = re.compile(r"^e1\.([1-9][0-9]{0,17})\.([0-9]{1,12})\.([A-Za-z0-9_-]{22})$")
TOKEN_MAX_CHARS: Final = 64


class EnrolmentRejected(Exception):
    """The link is malformed, altered, expired or revoked (the message says which)."""


def _mac(secret_key: str, enrolment_id: int, expires_s: int) -> str:
    key = derive_key(secret_key, "enrolment").encode()
    digest = hmac.new(key, f"{enrolment_id}.{expires_s}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def sign_token(secret_key: str, enrolment_id: int, expires_s: int) -> str:
    return f"e1.{enrolment_id}.{expires_s}.{_mac(secret_key, enrolment_id, expires_s)}"


def verify_signature(secret_key: str, token: str) -> tuple[int, int]:
    """(enrolment id, expiry in Unix seconds) of a well-signed token; the expiry is not checked."""
    match = _TOKEN.match(token)
    if match is None:
        raise EnrolmentRejected("the link is malformed")
    enrolment_id, expires_s, mac = int(match[1]), int(match[2]), match[3]
    if not hmac.compare_digest(mac, _mac(secret_key, enrolment_id, expires_s)):
        raise EnrolmentRejected("the link's signature is wrong (altered or foreign)")
    return enrolment_id, expires_s


def check_token(secret_key: str, token: str, enrolment: Enrolment | None,
                now: datetime) -> Enrolment:
    """The enrolment a token grants, or `EnrolmentRejected` saying why not."""
    enrolment_id, expires_s = verify_signature(secret_key, token)
    if expires_s <= now.timestamp():
        raise EnrolmentRejected("the link has expired")
    if enrolment is None or enrolment.id != enrolment_id:
        raise EnrolmentRejected("the link is unknown to this collector")
    if enrolment.revoked_at is not None:
        raise EnrolmentRejected("the link has been revoked")
    if enrolment.expires_at <= now:
        raise EnrolmentRejected("the link has expired")
    return enrolment


@dataclass(frozen=True)
class PhoneLimits:
    """Request buckets of the phone page: per client address (taken before the token is even
    read, so guessing is throttled) and per enrolment link (a campaign link shared by many)."""

    per_address: RateLimiter
    per_link: RateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> PhoneLimits:
        return cls(RateLimiter(settings.phone_rate_per_address_per_s,
                               settings.phone_rate_per_address_burst),
                   RateLimiter(settings.phone_rate_per_link_per_s,
                               settings.phone_rate_per_link_burst))


def _take(limiter: RateLimiter, key: str, what: str) -> None:
    wait_s = limiter.take(key, now_s=time.monotonic())
    if wait_s > 0:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            detail=f"too many requests from this {what}; retry later",
                            headers={"Retry-After": str(math.ceil(wait_s))})


async def _enrolment(
    request: Request, pool: PoolDep,
    t: Annotated[str, Query(min_length=1, max_length=TOKEN_MAX_CHARS,
                            description="the enrolment token of the link")],
) -> Enrolment:
    limits: PhoneLimits = request.app.state.phone_limits
    _take(limits.per_address, request.client.host if request.client else "unknown", "address")
    settings: Settings = request.app.state.settings
    try:
        enrolment_id, _ = verify_signature(settings.secret_key, t)
    except EnrolmentRejected as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from exc
    _take(limits.per_link, str(enrolment_id), "link")

    def lookup() -> Enrolment | None:
        with pool.connection() as conn:
            return get_enrolment(conn, enrolment_id, Scope.all_wards())  # the signed link

    found = await run_in_threadpool(lookup)
    try:
        return check_token(settings.secret_key, t, found, datetime.now(UTC))
    except EnrolmentRejected as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from exc


CurrentEnrolment = Annotated[Enrolment, Depends(_enrolment)]


async def _signed_link(
    request: Request,
    t: Annotated[str, Query(min_length=1, max_length=TOKEN_MAX_CHARS,
                            description="the enrolment token of the link")],
) -> int:
    limits: PhoneLimits = request.app.state.phone_limits
    _take(limits.per_address, request.client.host if request.client else "unknown", "address")
    settings: Settings = request.app.state.settings
    try:
        enrolment_id, expires_s = verify_signature(settings.secret_key, t)
    except EnrolmentRejected as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from exc
    if expires_s <= time.time():
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="the link has expired")
    _take(limits.per_link, str(enrolment_id), "link")
    return enrolment_id


# The test's own requests (payloads, pings) check the signature, expiry and limits without a
# database query, so a ping times the network, not the database; revocation is checked when
# the page opens and when results are sent.
SignedLink = Annotated[int, Depends(_signed_link)]
