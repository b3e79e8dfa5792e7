"""Sign-in under attack: concurrent password checks are capped, the lockout is per (user,
address) with a clear message, and the address comes from trusted proxies only."""

from __future__ import annotations

import argparse
import asyncio
import re
from typing import Any

import psycopg
import pytest
import uvicorn
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from lomsong.collector.app import create_app
from lomsong.collector.cli import register, server_options, settings_from_args
from lomsong.collector.dashboard.security import HashGate, HashingBusy, hash_password
from lomsong.collector.settings import Settings
from lomsong.collector.storage.users import create_user

USER = ("an.admin", "mat-khau-quan-tri-1")


@pytest.fixture
def login_client(migrated_url: str, conn: psycopg.Connection[Any]) -> Any:
    create_user(conn, USER[0], hash_password(USER[1]), "admin")
    settings = Settings(database_url=migrated_url, pool_min_size=1, pool_max_size=2,
                        secret_key="login-limits-" + "k" * 32)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def _sign_in(client: TestClient, password: str) -> Any:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
    assert token is not None
    return client.post("/login", data={"username": USER[0], "password": password,
                                       "csrf_token": token[1]})


def test_hash_gate_lets_limit_through_then_refuses() -> None:
    async def scenario() -> list[str]:
        gate = HashGate(1, wait_s=0.05)
        outcome: list[str] = []
        async with gate.slot():
            with pytest.raises(HashingBusy, match="1 password-check slots busy"):
                async with gate.slot():
                    outcome.append("second ran")
        async with gate.slot():
            outcome.append("free again")
        return outcome

    assert asyncio.run(scenario()) == ["free again"]


def test_sign_in_answers_503_when_every_hashing_slot_is_busy(login_client: TestClient) -> None:
    busy = HashGate(1, wait_s=0.01)
    busy._slots = asyncio.Semaphore(0)  # every slot taken by other sign-ins
    login_client.app.state.hash_gate = busy  # type: ignore[attr-defined]
    resp = _sign_in(login_client, USER[1])
    assert resp.status_code == 503 and resp.headers["retry-after"] == "1"
    assert "Máy chủ đang bận" in resp.text


def test_lockout_names_the_address_and_spares_other_addresses(login_client: TestClient) -> None:
    for _ in range(5):
        assert _sign_in(login_client, "sai-mat-khau").status_code == 401
    locked = _sign_in(login_client, USER[1])
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "từ địa chỉ của bạn" in locked.text
    throttle = login_client.app.state.login_throttle  # type: ignore[attr-defined]
    assert throttle.locked_for_s(USER[0], "192.0.2.7") == 0  # the admin elsewhere is not locked


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["serve", *argv])


def test_serve_believes_forwarded_addresses_only_from_trusted_proxies() -> None:
    settings = settings_from_args(_parse("--trusted-proxies", "10.0.0.2,192.168.5.0/24"))
    options = server_options(settings)
    assert options["forwarded_allow_ips"] == "10.0.0.2,192.168.5.0/24"
    seen: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["client"])

    config = uvicorn.Config(app, **{k: v for k, v in options.items() if k != "log_level"})
    config.load()

    async def call(peer: str) -> None:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "GET", "scheme": "http", "path": "/", "raw_path": b"/",
                 "query_string": b"", "client": (peer, 5000), "server": ("127.0.0.1", 8080),
                 "headers": [(b"x-forwarded-for", b"203.0.113.9")]}
        await config.loaded_app(scope, None, None)  # type: ignore[arg-type]

    for peer in ("10.0.0.2", "192.168.5.77", "198.51.100.4"):
        asyncio.run(call(peer))
    assert [c[0] for c in seen] == ["203.0.113.9", "203.0.113.9", "198.51.100.4"]
    assert server_options(Settings())["forwarded_allow_ips"] == "127.0.0.1"


def test_adding_a_user_waits_for_a_hashing_slot_too(login_client: TestClient) -> None:
    assert _sign_in(login_client, USER[1]).status_code == 303
    busy = HashGate(1, wait_s=0.01)
    busy._slots = asyncio.Semaphore(0)
    login_client.app.state.hash_gate = busy  # type: ignore[attr-defined]
    token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', login_client.get("/admin").text)
    assert token is not None
    resp = login_client.post("/admin/users", data={
        "username": "binh", "role": "officer", "password": "mat-khau-du-dai-9",
        "csrf_token": token[1]})
    assert resp.status_code == 503 and "Máy chủ đang bận" in resp.text
