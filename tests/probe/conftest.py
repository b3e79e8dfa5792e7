"""Fixtures for the probe tests: a real iperf3 server on loopback and small Measurement makers."""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lomsong.probe.record import Carrier, ClockState, Kind, Measurement
from lomsong.probe.runners.base import TestContext


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


STANDIN = Path(__file__).resolve().parents[2] / ".." / "shared" / "tools" / "speedtest-standin"


class Standin:
    """speedtest-cli's offline stand-in (``../shared/tools/speedtest-standin``): its server, and
    the command that runs speedtest-cli unchanged against it, optionally in a network namespace."""

    def __init__(self) -> None:
        if not (STANDIN / "server.py").is_file():
            pytest.skip("speedtest stand-in not available")
        if importlib.util.find_spec("speedtest") is None:
            pytest.skip("speedtest-cli (python module speedtest) is not installed")
        if shutil.which("ss") is None:
            pytest.skip("ss (iproute2) is not installed")

    @staticmethod
    def _listening(port: int, netns: str | None) -> bool:
        prefix = [] if netns is None else ["ip", "netns", "exec", netns]
        out = subprocess.run([*prefix, "ss", "-Hltn", f"sport = :{port}"], capture_output=True,
                             text=True, timeout=5, check=False)  # fmt: skip
        return bool(out.stdout.strip())

    def start(self, port: int, host: str, netns: str | None = None) -> subprocess.Popen[bytes]:
        """The stand-in server on host:port, listening when this returns."""
        prefix = [] if netns is None else ["ip", "netns", "exec", netns]
        server = subprocess.Popen([*prefix, sys.executable, str(STANDIN / "server.py"), str(port), host],
                                  stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 10
        while not self._listening(port, netns):
            if server.poll() is not None or time.monotonic() > deadline:
                server.terminate()
                pytest.fail(f"speedtest stand-in on {host}:{port} did not start")
            time.sleep(0.05)
        return server

    @staticmethod
    def command(base: str, netns: str | None = None) -> tuple[str, ...]:
        """speedtest-cli pointed at the stand-in at `base` (``http://host:port``)."""
        prefix = () if netns is None else ("ip", "netns", "exec", netns)
        script = str(STANDIN / "run_speedtest_cli.py")
        return (*prefix, "env", f"SPEEDTEST_BASE={base}", sys.executable, script)


@pytest.fixture
def standin() -> Standin:
    """The stand-in's helpers (skips when it or speedtest-cli is missing)."""
    return Standin()


@pytest.fixture
def loopback_standin(standin: Standin) -> Iterator[str]:
    """A stand-in server on a free loopback port; yields its base URL."""
    port = _free_port()
    server = standin.start(port, "127.0.0.1")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def write_probe_toml(
    folder: Path, body: str, *, probe_id: str = "pi-test", collector_url: str = "http://127.0.0.1:9",
    token: str = "probe-test-token",
) -> Path:
    """``folder/probe.toml`` with the probe, the collector (port 9, discard: nobody answers by
    default) and a spool in `folder`, followed by `body` (sites, checks, paths)."""
    config = folder / "probe.toml"
    config.write_text(
        f'[probe]\nid = "{probe_id}"\n[collector]\nurl = "{collector_url}"\ntoken = "{token}"\n'
        f'[spool]\npath = "{folder / "spool.db"}"\n{body}'
    )
    return config


@dataclass
class FakeClock:
    """A monotonic clock the test moves by hand."""

    t: float = 0.0

    def __call__(self) -> float:
        return self.t
