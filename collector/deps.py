"""FastAPI dependencies as `Annotated` aliases."""

from __future__ import annotations

import math
import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import ConnectionPool

from lomsong.collector.ratelimit import ApiLimits, RateLimiter
from lomsong.collector.settings import Settings
from lomsong.collector.storage.tokens import TokenInfo, lookup_token

__all__ = ["CurrentProbe", "CurrentReader", "PoolDep", "SettingsDep"]

_bearer = HTTPBearer(auto_error=False, description="Per-probe or reader token")


def _pool(request: Request) -> ConnectionPool:
    pool: ConnectionPool = request.app.state.pool
    return pool


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


PoolDep = Annotated[ConnectionPool, Depends(_pool)]
SettingsDep = Annotated[Settings, Depends(_settings)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=message, headers={"WWW-Authenticate": "Bearer"}
    )


def _limit(limiter: RateLimiter | None, key: str, what: str) -> None:
    if limiter is None:
        return
    wait_s = limiter.take(key, now_s=time.monotonic())
    if wait_s > 0:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            detail=f"too many requests from this {what}; retry later",
                            headers={"Retry-After": str(math.ceil(wait_s))})


async def _token(request: Request, pool: PoolDep, credentials: Credentials) -> TokenInfo:
    limits: ApiLimits = request.app.state.api_limits
    _limit(limits.per_ip, request.client.host if request.client else "unknown", "address")
    if credentials is None or not credentials.credentials:
        raise _unauthorized("missing bearer token")

    def lookup() -> TokenInfo | None:
        with pool.connection() as conn:
            return lookup_token(conn, credentials.credentials)

    info = await run_in_threadpool(lookup)
    if info is None:
        raise _unauthorized("unknown or revoked token")
    _limit(limits.per_token, str(info.id), "token")
    return info


async def _probe(info: Annotated[TokenInfo, Depends(_token)]) -> TokenInfo:
    if info.role != "probe":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this token may not write")
    return info


async def _reader(info: Annotated[TokenInfo, Depends(_token)]) -> TokenInfo:
    if info.role != "reader":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this token may not read")
    return info


CurrentProbe = Annotated[TokenInfo, Depends(_probe)]
CurrentReader = Annotated[TokenInfo, Depends(_reader)]
