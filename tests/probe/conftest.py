"""Fixtures for the probe tests: a real iperf3 server on loopback and small Measurement makers."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from probe.record import Carrier, ClockState, Kind, Measurement
from probe.runners.base import TestContext


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    """True once a socket listens on `port` (read from /proc, so the one-shot server is not used)."""
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        for line in table.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                return True
    return False


@pytest.fixture
def free_port() -> int:
    """A loopback TCP port nobody listens on (just now)."""
    return _free_port()


def _iperf3_server(*options: str) -> Iterator[int]:
    port = _free_port()
    server = subprocess.Popen(
        ["iperf3", "-s", *options, "-B", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"iperf3 server on port {port} did not start")
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def iperf3_port() -> Iterator[int]:
    """A one-shot `iperf3 -s -1 -J` on a free loopback port, ready when the test starts."""
    yield from _iperf3_server("-1", "-J")


@pytest.fixture
def iperf3_server_port() -> Iterator[int]:
    """A persistent `iperf3 -s` on a free loopback port (for several tests in a row)."""
    yield from _iperf3_server()


@pytest.fixture
def ctx() -> TestContext:
    """A context with fixed clock readings, so tests can compare the stamp exactly."""
    return TestContext(
        probe_id="pi-test-01",
        interface=None,
        carrier=Carrier.VIETTEL,
        clock_state=lambda: ClockState.SYNCED,
        boot_id=lambda: "boot-1",
        monotonic_s=lambda: 42.0,
        now=lambda: datetime(2026, 11, 2, 3, 0, tzinfo=UTC),
    )


@pytest.fixture
def make_measurement() -> Callable[..., Measurement]:
    def make(**fields: object) -> Measurement:
        base: dict[str, object] = {
            "probe_id": "pi-test-01",
            "measured_at": datetime(2026, 11, 2, 3, 0, tzinfo=UTC),
            "kind": Kind.THROUGHPUT_DOWN,
            "tool": "iperf3",
            "download_mbps": 38.5,
        }
        base.update(fields)
        return Measurement(**base)  # type: ignore[arg-type]

    return make
