"""A pool of iperf3 servers: the choice (pure), probe.toml's ``[pool]`` and real servers on loopback."""

from __future__ import annotations

import random
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from lomsong.probe.config import parse_config
from lomsong.probe.errors import ConfigError
from lomsong.probe.pathrun import path_runners, path_test_runners
from lomsong.probe.record import Carrier, ErrorKind
from lomsong.probe.runners.adaptive import AdaptiveIperf3Runner
from lomsong.probe.runners.base import CommandResult, SubprocessRunner, TestContext
from lomsong.probe.runners.iperf3 import Iperf3Runner
from lomsong.probe.runners.pool import BusyPolicy, PooledRunner, PoolWalk, Server
from tests.probe.conftest import _iperf3_server

HEAD = '[probe]\nid = "pi-1"\n[collector]\nurl = "http://collector.invalid"\ntoken = "s3cret-token"\n'


class FirstFree(random.Random):
    """Picks the first server still free in the round, and waits the least it may."""

    def choices(self, population: Sequence[Any], weights: Any = None, **_: Any) -> list[Any]:  # type: ignore[override]
        return [population[0]]

    def uniform(self, a: float, b: float) -> float:
        return a


# --- the choice -----------------------------------------------------------------------------------


def test_walk_weights_by_capacity() -> None:
    servers = (Server("a"), Server("b", capacity=3.0))
    rng = random.Random(5)
    firsts = Counter()
    for _ in range(4000):
        step = PoolWalk(servers, BusyPolicy(), rng).next()
        assert step is not None and step[1] == 0.0
        firsts[step[0].host] += 1
    assert firsts["b"] / 4000 == pytest.approx(0.75, abs=0.03)


def test_walk_moves_on_at_once_then_backs_off_when_all_were_busy() -> None:
    servers = (Server("a"), Server("b"), Server("c"))
    policy = BusyPolicy(tries=5, move_jitter_s=0.25, backoff_s=1.0)
    walk = PoolWalk(servers, policy, random.Random(3))
    seen, waits = [], []
    while (step := walk.next()) is not None:
        seen.append(step[0])
        waits.append(step[1])
        walk.busy(step[0])
    assert len(seen) == 5 and set(seen[:3]) == set(servers)  # each server once per round
    assert waits[0] == 0.0 and all(w <= 0.25 for w in waits[1:3])
    assert 0.5 <= waits[3] <= 1.5  # every server was busy: the first round's back-off
    assert walk.busy_seen == seen


def test_walk_backs_off_after_a_round_of_busy_answers() -> None:
    servers = tuple(Server(name) for name in "abcdef")
    walk = PoolWalk(servers, BusyPolicy(tries=5, round_size=2, move_jitter_s=0.1), random.Random(2))
    waits = []
    while (step := walk.next()) is not None:
        waits.append(step[1])
        walk.busy(step[0])
    assert waits[0] == 0.0 and waits[1] <= 0.1 and waits[3] <= 0.1
    assert 0.5 <= waits[2] <= 1.5 and 1.0 <= waits[4] <= 3.0  # after each 2 busy answers, doubling
    assert len(set(walk.busy_seen[:2])) == 2 and len(set(walk.busy_seen[2:4])) == 2


def test_walk_is_bounded() -> None:
    walk = PoolWalk((Server("a"),), BusyPolicy(tries=2, backoff_s=1.0, backoff_cap_s=1.5), random.Random(1))
    first = walk.next()
    walk.busy(Server("a"))
    second = walk.next()
    walk.busy(Server("a"))
    assert walk.next() is None
    assert first == (Server("a"), 0.0)
    assert second is not None and second[0] == Server("a") and 0.5 <= second[1] <= 1.5


# --- probe.toml -----------------------------------------------------------------------------------


def test_one_server_key_is_still_a_one_server_path() -> None:
    cfg = parse_config(HEAD + '[[path]]\nname = "fixed"\niperf3 = "iperf.invalid:5202"\n', source="p.toml")
    (path,) = cfg.paths
    assert path.iperf3_servers == (Server("iperf.invalid", 5202),)
    assert (path.iperf3_host, path.iperf3_port) == ("iperf.invalid", 5202)
    assert all(isinstance(r, Iperf3Runner) for r in path_runners(path))  # retries as before


def test_pool_is_used_by_paths_without_a_server_of_their_own() -> None:
    cfg = parse_config(
        HEAD
        + '[pool]\nservers = ["a.invalid:5201", { address = "b.invalid:5202", capacity = 2 }]\ntries = 4\n'
        + '[[path]]\nname = "viettel"\naccess = "4g"\nbytes_cap = 5000000\n'
        + '[[path]]\nname = "fixed"\niperf3 = ["c.invalid", "d.invalid"]\n',
        source="p.toml",
    )
    mobile, fixed = cfg.paths
    assert mobile.iperf3_servers == (Server("a.invalid", 5201), Server("b.invalid", 5202, 2.0))
    assert [s.host for s in fixed.iperf3_servers] == ["c.invalid", "d.invalid"]
    down, _up = path_test_runners(cfg, mobile)
    assert isinstance(down, PooledRunner) and isinstance(down.template, AdaptiveIperf3Runner)
    assert down.policy == BusyPolicy(tries=4) and down.bytes_cap == 5_000_000
    assert down.template.busy_delays_s == () and down.template.rule.bytes_cap == 5_000_000


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[pool]\nservers = ["a:5201", "b:99999"]\n[[path]]\nname = "x"\n',
         r"pool\.servers\[1\]\.address: Value error, bad port in 'b:99999'"),
        ('[[path]]\nname = "x"\niperf3 = [{ address = "a", capacity = 0 }]\n',
         r"path\[0\]\.iperf3\[0\]\.capacity: Input should be greater than 0"),
        ('[[path]]\nname = "x"\n', r"path\[0\]: Value error, iperf3: no server"),
        ('[pool]\ntries = 0\n[[path]]\nname = "x"\niperf3 = "a"\n', r"pool\.tries: Input should be greater"),
        ('[pool]\nserver = ["a"]\n[[path]]\nname = "x"\niperf3 = "a"\n', r"pool\.server: Extra inputs"),
    ],
)  # fmt: skip
def test_config_errors_name_the_field(body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^p\.toml: .*{message}"):
        parse_config(HEAD + body, source="p.toml")


# --- real iperf3 servers on loopback --------------------------------------------------------------


@pytest.fixture
def three_servers() -> Iterator[list[int]]:
    """Three persistent ``iperf3 -s`` on loopback ports."""
    with ExitStack() as stack:
        yield [stack.enter_context(contextmanager(_iperf3_server)()) for _ in range(3)]


def _established(port: int) -> int:
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( dport = :{port} )"],
                         capture_output=True, text=True, timeout=5, check=True).stdout  # fmt: skip
    return len(out.splitlines())


def _hold(port: int, seconds: float) -> subprocess.Popen[bytes]:
    """Another probe's test on `port`, its data stream established when this returns."""
    argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", f"{seconds:g}", "-b", "10M"]
    other = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while _established(port) < 2:
        if other.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the other iperf3 client did not start its test")
        time.sleep(0.02)
    return other


class Recording(SubprocessRunner):
    """The real subprocess runner, remembering every command line."""

    def __init__(self) -> None:
        self.argvs: list[list[str]] = []

    def __call__(self, argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        self.argvs.append(list(argv))
        return super().__call__(argv, timeout_s=timeout_s)


@pytest.fixture
def lo_ctx() -> TestContext:
    """A test bound to the loopback interface (as a modem path is bound to its modem)."""
    return TestContext(probe_id="pi-test-01", interface="lo", carrier=Carrier.VIETTEL)


def _pool_cfg(ports: Sequence[int], extra: str = "") -> Any:
    servers = ", ".join(f'"127.0.0.1:{p}"' for p in ports)
    return parse_config(
        HEAD + f"[pool]\nservers = [{servers}]\n{extra}"
        + '[[path]]\nname = "fixed"\ninterface = "lo"\naccess = "fixed"\nduration_s = 1\n'
        + 'directions = ["down"]\nbytes_cap = 3000000\n',
        source="p.toml",
    )  # fmt: skip


@pytest.mark.iperf3
@pytest.mark.timeout(60)
def test_busy_server_moves_the_test_to_a_free_one(three_servers: list[int], lo_ctx: TestContext) -> None:
    busy, free, _spare = three_servers
    cfg = _pool_cfg(three_servers)
    commands = Recording()
    (runner,) = path_runners(cfg.paths[0], commands, cfg.pool.policy)
    assert isinstance(runner, PooledRunner)
    runner.rng = FirstFree()  # the busy server first, then the next one
    other = _hold(busy, seconds=4)
    try:
        (m,) = runner.start_test(lo_ctx)
    finally:
        other.wait(timeout=15)
    assert m.error_kind is None and m.download_mbps is not None and m.download_mbps > 0, m.raw
    assert m.server == f"127.0.0.1:{free}"
    assert m.raw is not None
    assert m.raw.endswith(f"lomsong-pool: served by 127.0.0.1:{free} after 1 busy (127.0.0.1:{busy})")
    assert m.busy_tries == 1
    # Every try stays bound to the path's interface and keeps its byte cap.
    assert [a[a.index("-p") + 1] for a in commands.argvs] == [str(busy), str(free)]
    for argv in commands.argvs:
        assert argv[argv.index("--bind-dev") + 1] == "lo" and argv[argv.index("-n") + 1] == "3000000"
    assert m.bytes_used is not None and m.bytes_used <= 3_000_000 + 2**17


@pytest.mark.iperf3
@pytest.mark.timeout(60)
def test_random_choice_always_finds_the_free_server(three_servers: list[int], lo_ctx: TestContext) -> None:
    first_busy, free, second_busy = three_servers
    cfg = _pool_cfg(three_servers, "tries = 3\n")
    (runner,) = path_runners(cfg.paths[0], None, cfg.pool.policy)
    held = [_hold(first_busy, seconds=8), _hold(second_busy, seconds=8)]
    try:
        (m,) = runner.start_test(lo_ctx)  # three tries are enough to meet each server once
    finally:
        for other in held:
            other.wait(timeout=15)
    assert m.error_kind is None and m.server == f"127.0.0.1:{free}", m.raw
    assert m.raw is not None and f"lomsong-pool: served by 127.0.0.1:{free} after " in m.raw


@pytest.mark.iperf3
@pytest.mark.timeout(60)
def test_server_busy_only_when_every_server_is_busy(three_servers: list[int], lo_ctx: TestContext) -> None:
    ports = three_servers[:2]
    cfg = _pool_cfg(ports, "tries = 4\nbackoff_s = 0.1\nmove_jitter_s = 0.05\n")
    (runner,) = path_runners(cfg.paths[0], None, cfg.pool.policy)
    held = [_hold(port, seconds=5) for port in ports]
    try:
        (m,) = runner.start_test(lo_ctx)
    finally:
        for other in held:
            other.wait(timeout=15)
    assert m.error_kind is ErrorKind.SERVER_BUSY and m.download_mbps is None
    assert m.raw is not None
    last = m.raw.splitlines()[-1]
    assert last.startswith("lomsong-pool: every try met a busy server: 4 busy (")
    assert m.busy_tries == 4
    assert {f"127.0.0.1:{p}" for p in ports} <= set(last.split("(")[1].rstrip(")").split(", "))


@pytest.mark.iperf3
@pytest.mark.timeout(60)
def test_adaptive_test_moves_to_a_free_server(three_servers: list[int], lo_ctx: TestContext) -> None:
    # Loopback moves tens of Gbit/s: a small cap ends inside iperf3's first 0.01 s, which it
    # prints as a 0.00-0.00 s interval, so (rightly) no rate is measured. 3 GB lasts a few
    # reporting intervals on any machine.
    CAP = 3_000_000_000
    busy, free, _ = three_servers
    cfg = parse_config(
        HEAD + f'[pool]\nservers = ["127.0.0.1:{busy}", "127.0.0.1:{free}"]\n'
        + '[[path]]\nname = "viettel"\ninterface = "lo"\naccess = "4g"\ndirections = ["down"]\n'
        + f"bytes_cap = {CAP}\n",
        source="p.toml",
    )  # fmt: skip
    (runner,) = path_runners(cfg.paths[0], None, cfg.pool.policy)
    assert isinstance(runner, PooledRunner)
    runner.rng = FirstFree()
    other = _hold(busy, seconds=4)
    try:
        (m,) = runner.start_test(lo_ctx)
    finally:
        other.wait(timeout=15)
    assert m.error_kind is None and m.server == f"127.0.0.1:{free}", m.raw
    assert m.raw is not None and m.raw.endswith(f"after 1 busy (127.0.0.1:{busy})")
    assert m.bytes_used is not None and m.bytes_used <= CAP + 2**20


def test_example_pool_block_parses() -> None:
    example = Path(__file__).resolve().parents[2] / "probe" / "probe.example.toml"
    lines = example.read_text("utf-8").splitlines()
    start = lines.index(next(line for line in lines if line.startswith("# [pool]")))
    block = []
    for line in lines[start:]:
        if not line.strip():
            break
        block.append(line.removeprefix("# "))
    cfg = parse_config(HEAD + "\n".join(block) + '\n[[path]]\nname = "x"\n', source="p.toml")
    assert [s.address for s in cfg.pool.servers] == [
        "iperf1.hanoi.invalid:5201", "iperf1.hanoi.invalid:5202", "iperf2.hanoi.invalid:5201"
    ]  # fmt: skip
    assert cfg.paths[0].iperf3_servers[2].capacity == 2.0 and cfg.pool.policy == BusyPolicy()
