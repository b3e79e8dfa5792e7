"""One probe cycle: measure every configured path, spool each result, then upload the spool.

A failed test is spooled like any other (it is evidence); one path's failure never stops the
others. Results are committed to the spool path by path, before any upload is attempted.

Example
-------
>>> from probe.config import parse_config
>>> cfg = parse_config('''
... [probe]
... id = "pi-1"
... [collector]
... url = "http://collector.invalid"
... token = "s3cret-token"
... [[path]]
... name = "viettel-4g"
... iperf3 = "iperf.invalid"
... ''', source="probe.toml")
>>> [r.kind.value for r in path_runners(cfg.paths[0])]
['throughput_down', 'throughput_up']
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from probe.config import PathSettings, ProbeConfig
from probe.record import Measurement, PositionSource, Setting
from probe.runners.adaptive import AdaptiveIperf3Runner
from probe.runners.base import CommandRunner, Runner, SubprocessRunner, TestContext
from probe.runners.early_stop import StopRule
from probe.runners.iperf3 import Iperf3Runner
from probe.spool import Spool
from probe.uploader import CollectorClient, UploadReport, upload_pending

__all__ = ["CycleSummary", "path_context", "path_runners", "run_once"]


@dataclass(frozen=True, slots=True)
class CycleSummary:
    measurements: list[Measurement]
    failed: int
    upload: UploadReport
    pending: int


def path_runners(path: PathSettings, command_runner: CommandRunner | None = None) -> list[Runner]:
    """One throughput runner per configured direction of `path` (download first).

    Early stopping (`AdaptiveIperf3Runner`) when the path's method is "adaptive" (the default on
    mobile paths), else a fixed-duration `Iperf3Runner` driven by `command_runner`.
    """
    if path.test_method == "adaptive":
        return [
            AdaptiveIperf3Runner(
                host=path.iperf3_host,
                port=path.iperf3_port,
                reverse=direction == "down",
                rule=StopRule(
                    threshold_mbps=(
                        path.down_threshold_mbps if direction == "down" else path.threshold_up_mbps
                    ),
                    max_duration_s=min(path.adaptive_max_s, path.duration_s),
                    bytes_cap=path.bytes_cap,
                ),
                congestion=path.congestion,
            )
            for direction in sorted(path.directions)
        ]
    return [
        Iperf3Runner(
            host=path.iperf3_host,
            port=path.iperf3_port,
            duration_s=path.duration_s,
            reverse=direction == "down",
            congestion=path.congestion,
            bytes_cap=path.bytes_cap,
            command_runner=command_runner or SubprocessRunner(),
        )
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


def run_once(
    cfg: ProbeConfig,
    *,
    spool_path: Path,
    command_runner: CommandRunner | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CycleSummary:
    """Measure all paths into the spool, then drain the spool to the collector."""
    measured: list[Measurement] = []
    with Spool(
        spool_path,
        max_rows=cfg.spool.max_rows,
        max_bytes=cfg.spool.max_bytes,
        policy=cfg.spool.policy,
    ) as spool:
        for path in cfg.paths:
            ctx = path_context(cfg, path)
            for runner in path_runners(path, command_runner):
                results = runner.start_test(ctx)
                spool.add_many(results)
                measured.extend(results)
        with CollectorClient(cfg.collector.url, cfg.token(), transport=transport) as client:
            report = upload_pending(spool, client, batch_size=cfg.collector.batch_size, sleep=sleep)
        pending = spool.stats().pending
    failed = sum(m.error_kind is not None for m in measured)
    return CycleSummary(measured, failed, report, pending)
