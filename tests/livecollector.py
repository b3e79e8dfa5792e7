"""The collector app served by uvicorn on a free loopback port, in a thread, for the tests that
need a real server (Chromium, phones, live HTTP); one module so every such test starts it alike."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from lomsong.collector.app import create_app
from lomsong.collector.settings import Settings

START_DEADLINE_S = 30.0


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_collector(settings: Settings, port: int | None = None,
                   start_deadline_s: float = START_DEADLINE_S,
                   app: FastAPI | None = None) -> Iterator[str]:
    """The collector of `settings` (or `app`, made by the test) while it runs; yields its
    base URL."""
    port = port or free_port()
    config = uvicorn.Config(app or create_app(settings), host="127.0.0.1", port=port,
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
