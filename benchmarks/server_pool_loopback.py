"""The pool simulation checked against real iperf3 servers on loopback.

`servers` real ``iperf3 -s`` processes; `clients` threads, each a probe with one path: it waits a
random gap (0.5-1.5x `gap_s` after its last test ended, as the scheduler spaces tests), then runs
one real test through the probe's `PooledRunner` (iperf3 UDP at 1 Mbit/s for `test_s`: it holds a
server for its length as any test does, at almost no CPU, where TCP on loopback would take a core
per test). Every try is timed: a served try is how long a test holds a server, a refused one how
long a "busy" answer takes. The simulation (`benchmarks.server_pool.simulate`, with the same
`PoolWalk`) then runs the same clients with those measured times over a long span, and its share
of tests that met a busy server must match the real share within the stated margin: 0.05, or
three binomial standard errors of the real share when that is larger.

    python benchmarks/server_pool_loopback.py [--seconds 120] [--servers 3] [--clients 6]
"""

from __future__ import annotations

import argparse
import math
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.server_pool import pool_walks, simulate  # noqa: E402
from lomsong.probe.record import ErrorKind  # noqa: E402
from lomsong.probe.runners.base import CommandResult, SubprocessRunner, TestContext  # noqa: E402
from lomsong.probe.runners.iperf3 import Iperf3Runner  # noqa: E402
from lomsong.probe.runners.pool import BusyPolicy, PooledRunner, Server  # noqa: E402

__all__ = ["LoopbackCheck", "check"]

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def iperf3_server(port: int) -> Iterator[None]:
    """A persistent ``iperf3 -s`` on 127.0.0.1:`port`, listening when the block starts."""
    proc = subprocess.Popen(["iperf3", "-s", "-B", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True,
                                 timeout=5, check=False).stdout.strip():  # fmt: skip
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"iperf3 server on port {port} did not start")
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class TimedRunner(SubprocessRunner):
    """The real subprocess runner, timing every try and noting whether it met a busy server."""

    served_s: list[float] = field(default_factory=list)
    refused_s: list[float] = field(default_factory=list)

    def __call__(self, argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        done = super().__call__(argv, timeout_s=timeout_s)
        busy = "server is busy" in done.stdout.lower() or "server is busy" in done.stderr.lower()
        (self.refused_s if busy else self.served_s).append(done.duration_s)
        return done


@dataclass(frozen=True)
class LoopPath:
    """A simulated client: one test holding a server `hold_s`, then a gap of 0.5-1.5x `gap_s`."""

    hold_s: float
    gap_s: float

    @property
    def durations_s(self) -> tuple[float, ...]:
        return (self.hold_s,)

    def first(self, rng: random.Random) -> float:
        return rng.uniform(0.0, self.gap_s)

    def next_start(self, ended_s: float, rng: random.Random) -> float:
        return ended_s + self.gap_s * rng.uniform(0.5, 1.5)


@dataclass(frozen=True)
class LoopbackCheck:
    tests: int
    real_met_busy: float
    real_server_busy: float
    sim_met_busy: float
    sim_server_busy: float
    hold_s: float
    refuse_s: float

    @property
    def margin(self) -> float:
        p = self.real_met_busy
        return max(0.05, 3 * math.sqrt(p * (1 - p) / max(1, self.tests)))

    @property
    def ok(self) -> bool:
        return abs(self.sim_met_busy - self.real_met_busy) <= self.margin


def _client(runner: PooledRunner, gap_s: float, deadline: float, rng: random.Random,
            out: list[tuple[bool, bool]]) -> None:  # fmt: skip
    ctx = TestContext(probe_id="pool-bench")
    due = time.monotonic() + rng.uniform(0.0, gap_s)
    while due < deadline:
        time.sleep(max(0.0, due - time.monotonic()))
        for m in runner.start_test(ctx):
            if m.busy_tries is None:
                raise RuntimeError(f"no busy count on a pooled record: {m.error_kind} {m.error_message}")
            server_busy = m.error_kind is ErrorKind.SERVER_BUSY
            out.append((server_busy or m.busy_tries > 0, server_busy))
        due = time.monotonic() + gap_s * rng.uniform(0.5, 1.5)


def check(*, seconds: float = 120.0, servers: int = 3, clients: int = 6, test_s: int = 1,
          gap_s: float = 3.0, seed: int = 1, policy: BusyPolicy | None = None) -> LoopbackCheck:  # fmt: skip
    """Run the real clients for `seconds`, then the simulation; print and return both."""
    policy = policy or BusyPolicy()
    ports = [_free_port() for _ in range(servers)]
    pool = tuple(Server("127.0.0.1", port) for port in ports)
    timed = TimedRunner()
    outcomes: list[tuple[bool, bool]] = []
    with ExitStack() as stack:
        for port in ports:
            stack.enter_context(iperf3_server(port))
        deadline = time.monotonic() + seconds
        threads = []
        for i in range(clients):
            template = Iperf3Runner(host="127.0.0.1", port=ports[0], duration_s=test_s, udp=True,
                                    udp_rate="1M", busy_delays_s=(), command_runner=timed)  # fmt: skip
            runner = PooledRunner(template=template, servers=pool, policy=policy, rng=random.Random(seed + i))
            thread = threading.Thread(target=_client, args=(runner, gap_s, deadline, random.Random(-seed - i),
                                                             outcomes))  # fmt: skip
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
    n = len(outcomes)
    hold_s = sum(timed.served_s) / max(1, len(timed.served_s))
    refuse_s = sum(timed.refused_s) / len(timed.refused_s) if timed.refused_s else 0.05
    span = 2000.0 * (hold_s + gap_s)
    sim = simulate([[LoopPath(hold_s, gap_s)] for _ in range(clients)], pool_walks(pool, policy),
                   window=(10 * gap_s, span), refuse_s=refuse_s, rng=random.Random(seed))  # fmt: skip
    result = LoopbackCheck(
        tests=n, real_met_busy=sum(a for a, _ in outcomes) / max(1, n),
        real_server_busy=sum(b for _, b in outcomes) / max(1, n),
        sim_met_busy=sim.share(sim.met_busy), sim_server_busy=sim.share(sim.server_busy),
        hold_s=hold_s, refuse_s=refuse_s,
    )  # fmt: skip
    print(f"loopback: {servers} real iperf3 servers, {clients} clients, {test_s} s tests, gaps "
          f"{gap_s:g} s x 0.5-1.5, {seconds:g} s: {n} tests; a served try held its server "
          f"{hold_s:.3f} s, a busy answer took {refuse_s:.3f} s")  # fmt: skip
    print(f"  met a busy server: real {100 * result.real_met_busy:.1f}%, simulated "
          f"{100 * result.sim_met_busy:.1f}% (margin {100 * result.margin:.1f} points): "
          f"{'agree' if result.ok else 'DISAGREE'}")  # fmt: skip
    real, simulated = 100 * result.real_server_busy, 100 * result.sim_server_busy
    print(f"  server_busy: real {real:.1f}%, simulated {simulated:.1f}%")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--test-s", type=int, default=1)
    parser.add_argument("--gap-s", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    result = check(seconds=args.seconds, servers=args.servers, clients=args.clients, test_s=args.test_s,
                   gap_s=args.gap_s, seed=args.seed)  # fmt: skip
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
