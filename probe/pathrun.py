"""One path's tests: throughput and checks, each within the SIM's budget, with radio and position.

`path_test_runners` lists what a path runs: the throughput runners of `path_runners` (early
stopping on mobile paths, a fixed duration otherwise; spread over the path's servers by
`probe.runners.pool` when it has several), speedtest-cli when the path has a
``speedtest`` table, then the ``[checks]``: ping per target,
UDP quality (iperf3 -u), web pages, and DNS on the path that carries the default route
(``checks.dns_path``, else the paths without an interface; the system resolver cannot be bound
to an interface).

`measure_path` reads the modem and the position once, runs every runner (a runner's crash is
caught: the others still run), refuses tests over budget with a ``budget_exhausted`` record,
charges what each test moved, and merges the radio into every result.

Example
-------
>>> from lomsong.probe.config import parse_config
>>> cfg = parse_config('''
... [probe]
... id = "pi-1"
... [collector]
... url = "http://collector.invalid"
... token = "s3cret-token"
... [checks]
... ping_targets = ["iperf.invalid"]
... [[path]]
... name = "fixed"
... iperf3 = "iperf.invalid"
... directions = ["down"]
... ''', source="probe.toml")
>>> [(r.tool, r.kind.value) for r in path_test_runners(cfg, cfg.paths[0])]
[('iperf3', 'throughput_down'), ('ping', 'latency')]
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from lomsong.probe.budget import Ledger, refusal
from lomsong.probe.config import PathSettings, ProbeConfig, split_host_port
from lomsong.probe.location.fix import Fix
from lomsong.probe.location.gpsd import read_fix
from lomsong.probe.radio.reader import RadioReading, attach_radio, radio_records, read_radio
from lomsong.probe.record import ErrorKind, Measurement, PositionSource, Setting
from lomsong.probe.runners.adaptive import AdaptiveIperf3Runner
from lomsong.probe.runners.base import CommandRunner, Runner, SubprocessRunner, TestContext
from lomsong.probe.runners.dns import DnsRunner
from lomsong.probe.runners.early_stop import StopRule
from lomsong.probe.runners.iperf3 import Iperf3Runner
from lomsong.probe.runners.ping import PingRunner
from lomsong.probe.runners.pool import BusyPolicy, PooledRunner
from lomsong.probe.runners.speedtest import SpeedtestRunner
from lomsong.probe.runners.web import WebRunner

__all__ = [
    "Locator",
    "RadioReader",
    "gps_locator",
    "measure_path",
    "path_context",
    "path_runners",
    "path_test_runners",
    "pooled",
    "runner_key",
    "usage_lines",
    "with_fix",
]

logger = logging.getLogger(__name__)

RadioReader = Callable[[PathSettings], RadioReading | None]
Locator = Callable[[], Fix | None]


def _throughput_runner(
    path: PathSettings, direction: str, command_runner: CommandRunner | None
) -> Iperf3Runner | AdaptiveIperf3Runner:
    host, port = path.iperf3_host, path.iperf3_port
    if path.test_method == "adaptive":
        return AdaptiveIperf3Runner(
            host=host,
            port=port,
            reverse=direction == "down",
            rule=StopRule(
                threshold_mbps=path.down_threshold_mbps if direction == "down" else path.threshold_up_mbps,
                max_duration_s=min(path.adaptive_max_s, path.duration_s),
                bytes_cap=path.bytes_cap,
            ),
            congestion=path.congestion_algorithm,
        )
    return Iperf3Runner(
        host=host,
        port=port,
        duration_s=path.duration_s,
        reverse=direction == "down",
        congestion=path.congestion_algorithm,
        bytes_cap=path.bytes_cap,
        command_runner=command_runner or SubprocessRunner(),
    )


def pooled(runner: Iperf3Runner | AdaptiveIperf3Runner, path: PathSettings, policy: BusyPolicy) -> Runner:
    """`runner` itself on a path with one server (it retries that server when busy, after 1 s
    and 3 s); on a path with several, a `PooledRunner` spreading its tests over them."""
    servers = path.iperf3_servers
    if len(servers) == 1:
        return runner
    template = dataclasses.replace(runner, busy_delays_s=())
    return PooledRunner(template=template, servers=servers, policy=policy)


def path_runners(
    path: PathSettings, command_runner: CommandRunner | None = None, policy: BusyPolicy | None = None
) -> list[Runner]:
    """One throughput runner per configured direction of `path` (download first).

    Early stopping (`AdaptiveIperf3Runner`) when the path's method is "adaptive" (the default on
    mobile paths), else a fixed-duration `Iperf3Runner` driven by `command_runner`. On a path
    with several servers each is a `PooledRunner` looking for a free one by `policy`.
    """
    return [
        pooled(_throughput_runner(path, direction, command_runner), path, policy or BusyPolicy())
        for direction in sorted(path.directions)
    ]


def path_context(cfg: ProbeConfig, path: PathSettings) -> TestContext:
    """The test context of `path`: probe id, interface, carrier, access and the site's position."""
    site = cfg.site
    return TestContext(
        probe_id=cfg.probe.id,
        interface=path.interface,
        carrier=path.carrier,
        access=path.access,
        plan_down_mbps=path.plan_down_mbps,
        lat=None if site is None else site.lat,
        lon=None if site is None else site.lon,
        position_source=PositionSource.NONE if site is None else PositionSource.SITE,
        site_id=None if site is None else site.id,
        setting=Setting.UNKNOWN if site is None else site.setting,
    )


def _runs_dns(cfg: ProbeConfig, path: PathSettings) -> bool:
    wanted = cfg.checks.dns_path
    return path.name == wanted if wanted is not None else path.interface is None


def path_test_runners(
    cfg: ProbeConfig, path: PathSettings, command_runner: CommandRunner | None = None
) -> list[Runner]:
    """Every runner of `path`, throughput first (see the module docstring)."""
    checks = cfg.checks
    runners: list[Runner] = list(path_runners(path, command_runner, cfg.pool.policy))
    commands = command_runner or SubprocessRunner()
    if (st := path.speedtest) is not None:
        runners.append(SpeedtestRunner(
            command=st.command, timeout_s=st.timeout_s, server_id=st.server_id, secure=st.secure,
            bytes_cap=st.bytes_cap, prefer_vietnam=st.prefer_vietnam,
        ))  # fmt: skip
    for target in checks.ping_targets:
        runners.append(PingRunner(
            host=target, count=checks.ping_count, tcp_port=checks.tcp_port, command_runner=commands
        ))  # fmt: skip
    if checks.udp:
        udp = Iperf3Runner(
            host=path.iperf3_host, port=path.iperf3_port, duration_s=checks.udp_duration_s,
            reverse=True, udp=True, udp_rate=checks.udp_rate, command_runner=commands,
        )  # fmt: skip
        runners.append(pooled(udp, path, cfg.pool.policy))
    for url in checks.web_urls:
        runners.append(WebRunner(url=url, timeout_s=checks.timeout_s, max_bytes=checks.web_max_bytes))
    if checks.dns_names and _runs_dns(cfg, path):
        runners.append(DnsRunner(names=checks.dns_names, timeout_s=checks.timeout_s))
    return runners


def runner_key(runner: Runner) -> str:
    """The name a runner's cost is remembered under, e.g. ``iperf3:throughput_down:host:5201``."""
    return f"{runner.tool}:{runner.kind.value}:{runner.server or ''}"


def _cap(runner: Runner) -> int | None:
    cap = getattr(runner, "bytes_cap", None)
    if cap is None:  # early-stopping runners keep their cap in their stop rule
        cap = getattr(getattr(runner, "rule", None), "bytes_cap", None)
    if isinstance(runner, WebRunner):
        cap = runner.max_bytes
    return cap if isinstance(cap, int) else None


def gps_locator(cfg: ProbeConfig) -> Locator | None:
    """Reads gpsd's position when ``[gps]`` is configured (a fixed site needs none)."""
    gps = cfg.gps
    if gps is None:
        return None
    host, port = split_host_port(gps.gpsd, 2947)

    def locate() -> Fix | None:
        return read_fix(host, port, timeout_s=gps.timeout_s)

    return locate


def with_fix(ctx: TestContext, fix: Fix | None) -> TestContext:
    """`ctx` placed at `fix` (a site's own position is kept: a fixed probe does not move)."""
    if fix is None or ctx.site_id is not None:
        return ctx
    return dataclasses.replace(
        ctx, lat=fix.lat, lon=fix.lon, accuracy_m=fix.accuracy_m, position_source=fix.source
    )


def measure_path(
    cfg: ProbeConfig,
    path: PathSettings,
    *,
    ledger: Ledger,
    runners: Sequence[Runner] | None = None,
    radio: RadioReader | None = None,
    locate: Locator | None = None,
    ctx: TestContext | None = None,
) -> list[Measurement]:
    """Run `path`'s tests once; always returns records, never raises for a test's failure."""
    base = ctx or path_context(cfg, path)
    try:
        base = with_fix(base, None if locate is None else locate())
    except Exception as exc:  # a GPS problem must not cost the tests
        logger.warning("position for %s: %s", path.name, exc)
    reader = radio or (lambda p: None if p.modem is None else read_radio(p.modem))
    reading = reader(path)
    out: list[Measurement] = []
    if reading is not None:
        out += radio_records(reading, base, base.stamp())
    for runner in runners if runners is not None else path_test_runners(cfg, path):
        out += _one(runner, path, base, ledger)
    return out if reading is None else attach_radio(out, reading)


def _one(runner: Runner, path: PathSettings, ctx: TestContext, ledger: Ledger) -> list[Measurement]:
    key = runner_key(runner)
    stamp = ctx.stamp()
    estimate = ledger.estimate(path.name, key, _cap(runner))
    why = refusal(ledger.usage(path.name, stamp.measured_at), estimate, path.budget)
    if why is not None:
        return [runner.failure(ctx, stamp, ErrorKind.BUDGET_EXHAUSTED, f"{path.name}: {why}")]
    try:
        results = runner.start_test(ctx)
    except Exception as exc:  # start_test already records failures; this guards the loop itself
        logger.exception("%s on %s crashed", runner.tool, path.name)
        return [runner.failure(ctx, stamp, ErrorKind.TOOL_ERROR, f"{type(exc).__name__}: {exc}")]
    spent = sum(m.bytes_used or 0 for m in results)
    ledger.charge(path.name, key, spent, stamp.measured_at)
    return results


def usage_lines(cfg: ProbeConfig, ledger: Ledger, at: datetime) -> list[str]:
    """One line per path: bytes used today / this month against its limits (for status)."""
    lines = []
    for path in cfg.paths:
        used = ledger.usage(path.name, at)
        limits = path.budget
        day = "-" if limits is None or limits.daily_bytes is None else f"{limits.daily_bytes / 1e6:.0f}"
        month = "-" if limits is None or limits.monthly_bytes is None else f"{limits.monthly_bytes / 1e6:.0f}"
        lines.append(
            f"  {path.name}: hôm nay (today) {used.day_bytes / 1e6:.1f}/{day} MB, "
            f"tháng này (this month) {used.month_bytes / 1e6:.1f}/{month} MB"
        )
    return lines
