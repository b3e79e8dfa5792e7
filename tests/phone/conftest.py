"""Fixtures of the phone page's tests: a ward with two service points on a real database."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
import uvicorn

from lomsong.collector.app import create_app
from lomsong.collector.settings import Settings
from lomsong.collector.storage.sites import ServicePoint, replace_sites, set_ward

WARD = "Phường Đống Đa"
SECRET = "phone-test-" + "k" * 32
SITES = (
    ServicePoint("ubnd", "UBND phường Đống Đa", "admin_service", "", 21.0181, 105.8292),
    ServicePoint("bdvh", "Bưu điện văn hóa <b>&</b>", "digital_literacy", "", 21.0125, 105.8240),
)


@pytest.fixture
def ward(conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    set_ward(conn, WARD, None)
    replace_sites(conn, SITES)
    return conn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_collector(settings: Settings, port: int | None = None,
                   start_deadline_s: float = 30.0) -> Iterator[str]:
    """The collector app on a loopback port (uvicorn in a thread); yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_deadline_s
    while not instance.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=start_deadline_s)
