"""A pool of iperf3 servers: spread tests over it, move on when one is busy.

An iperf3 server runs one test at a time and refuses the next with ``the server is busy running
a test``. A city of about 1,260 probes with 4 paths each keeps more than a dozen servers busy
(``benchmarks/server_pool.py``), so a path may name several servers (``host:port``, each with a
``capacity``: the tests it can run at once, i.e. its share of the choice).

`PoolWalk` is the choice, pure and shared with the benchmark's simulation: each try picks a server
at random, weighted by capacity, among those not found busy yet in this round; a busy answer
moves the test to another server at once (after a short random pause, `BusyPolicy.move_jitter_s`,
so probes that met the same busy server do not all land on the same next one). A round ends
after `round_size` busy answers, or when every server was busy: the walk then waits `backoff_s`
(doubling each round, up to `backoff_cap_s`, each wait drawn in 0.5-1.5x), long enough for some
tests to end, and starts a new round. After `tries` tries it gives up and the test is recorded as
``server_busy``: the servers were busy, the network was not measured. With the defaults (12 tries
in rounds of 4, about 1 s then 2 s between rounds), the simulated mobile tests of 1,260 probes
(3 paths, 48 runs a day, quiet hours 23:00-05:30) met ``server_busy`` in 0.68% of cases with 26
servers, busy 61% of the time (``benchmarks/server_pool.py``).

`PooledRunner` runs one of the path's runners (its interface binding, byte cap, stopping rule
and congestion control unchanged) against the server each try picks. Its record names the
server that served it (`Measurement.server`) and ends `raw` with one line stating how many tries
met a busy server first, e.g. ``lomsong-pool: served by b:5201 after 1 busy (a:5201)``, and
carries that count as `Measurement.busy_tries` (which the collector stores and counts).

Example
-------
>>> import random
>>> servers = (Server("a", 5201), Server("b", 5201, capacity=3.0))
>>> walk = PoolWalk(servers, BusyPolicy(tries=3, move_jitter_s=0.0), random.Random(7))
>>> first, wait_s = walk.next()
>>> walk.busy(first)
>>> second, _ = walk.next()
>>> first != second, wait_s
(True, 0.0)
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from lomsong.probe.record import ErrorKind, Kind, Measurement, bounded_raw
from lomsong.probe.runners.base import Runner, Stamp, TestContext

__all__ = ["BusyPolicy", "PoolWalk", "PooledRunner", "Server", "pool_note"]

_NOTE_SERVERS_MAX: Final = 8


@dataclass(frozen=True, slots=True)
class Server:
    """One iperf3 server (``iperf3 -s -p PORT``); `capacity`: its weight in the random choice."""

    host: str
    port: int = 5201
    capacity: float = 1.0

    @property
    def address(self) -> str:
        """``host:port`` (``[v6]:port`` for an IPv6 address), as `Measurement.server` names it."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class BusyPolicy:
    """How long a test looks for a free server (see the module docstring)."""

    tries: int = 12
    round_size: int = 4
    move_jitter_s: float = 0.25
    backoff_s: float = 1.0
    backoff_cap_s: float = 8.0

    def __post_init__(self) -> None:
        if self.tries < 1 or self.round_size < 1:
            raise ValueError(f"tries and round_size must be at least 1, got {self.tries}, {self.round_size}")
        if min(self.move_jitter_s, self.backoff_s, self.backoff_cap_s) < 0:
            raise ValueError("waits must not be negative")


class PoolWalk:
    """The servers one test tries, in order (pure: the caller runs the tests and the waits)."""

    def __init__(self, servers: Sequence[Server], policy: BusyPolicy, rng: random.Random) -> None:
        if not servers:
            raise ValueError("a pool needs at least one server")
        self.servers = tuple(servers)
        self.policy = policy
        self.rng = rng
        self.tries = 0
        self.rounds = 0
        self.busy_seen: list[Server] = []
        self._free = list(self.servers)
        self._round_busy = 0

    def next(self) -> tuple[Server, float] | None:
        """The next server and the seconds to wait before trying it; None once out of tries."""
        if self.tries >= self.policy.tries:
            return None
        wait_s = 0.0
        if self.tries:
            if self._free and self._round_busy < self.policy.round_size:
                wait_s = self.rng.uniform(0.0, self.policy.move_jitter_s)
            else:
                base = min(self.policy.backoff_cap_s, self.policy.backoff_s * 2.0**self.rounds)
                wait_s = base * self.rng.uniform(0.5, 1.5)
                self.rounds += 1
                self._free, self._round_busy = list(self.servers), 0
        server = self.rng.choices(self._free, weights=[s.capacity for s in self._free])[0]
        self.tries += 1
        return server, wait_s

    def busy(self, server: Server) -> None:
        """`server` answered "busy": the rest of this round tries the others."""
        self.busy_seen.append(server)
        self._round_busy += 1
        if server in self._free:
            self._free.remove(server)


def pool_note(served: Server | None, busy: Sequence[Server]) -> str:
    """The ``lomsong-pool:`` line a pooled record's `raw` ends with.

    >>> pool_note(Server("b"), [Server("a")])
    'lomsong-pool: served by b:5201 after 1 busy (a:5201)'
    >>> pool_note(None, [Server("a"), Server("b")])
    'lomsong-pool: every try met a busy server: 2 busy (a:5201, b:5201)'
    """
    names = [s.address for s in busy[:_NOTE_SERVERS_MAX]]
    listed = ", ".join(names) + (", ..." if len(busy) > _NOTE_SERVERS_MAX else "")
    tail = f" ({listed})" if busy else ""
    if served is None:
        return f"lomsong-pool: every try met a busy server: {len(busy)} busy{tail}"
    return f"lomsong-pool: served by {served.address} after {len(busy)} busy{tail}"


@dataclass
class PooledRunner(Runner):
    """`template` (an iperf3 runner) run against the server each try of a `PoolWalk` picks.

    `template` must not retry a busy server itself (``busy_delays_s=()``): the walk does.
    """

    template: Runner
    servers: tuple[Server, ...]
    policy: BusyPolicy = field(default_factory=BusyPolicy)
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if not self.servers:
            raise ValueError("a pool needs at least one server")
        self.tool = self.template.tool

    @property
    def kind(self) -> Kind:  # type: ignore[override]
        return self.template.kind

    @property
    def server(self) -> str:  # type: ignore[override]
        """The pool, as the budget ledger remembers its tests' cost (not a record's server)."""
        return "pool:" + ",".join(s.address for s in self.servers)[:200]

    @property
    def bytes_cap(self) -> int | None:
        """The template's byte cap (a fixed test's, or an early-stopping test's rule)."""
        cap = getattr(self.template, "bytes_cap", None)
        if cap is None:
            cap = getattr(getattr(self.template, "rule", None), "bytes_cap", None)
        return cap if isinstance(cap, int) else None

    def on(self, server: Server) -> Runner:
        """The template aimed at `server`."""
        return dataclasses.replace(self.template, host=server.host, port=server.port)  # type: ignore[type-var]

    def _start_test(self, ctx: TestContext, stamp: Stamp) -> list[Measurement]:
        walk = PoolWalk(self.servers, self.policy, self.rng)
        results: list[Measurement] = []
        while (step := walk.next()) is not None:
            server, wait_s = step
            if wait_s > 0:
                self.sleep(wait_s)
            results = self.on(server).start_test(ctx)
            if not any(m.error_kind is ErrorKind.SERVER_BUSY for m in results):
                return _noted(results, pool_note(server, walk.busy_seen), len(walk.busy_seen))
            walk.busy(server)
        return _noted(results, pool_note(None, walk.busy_seen), len(walk.busy_seen))


def _noted(results: list[Measurement], note: str, busy_tries: int) -> list[Measurement]:
    return [m.model_copy(update={"raw": bounded_raw(f"{m.raw}\n{note}" if m.raw else note),
                                 "busy_tries": busy_tries})
            for m in results]  # fmt: skip
