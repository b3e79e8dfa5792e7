"""One probe cycle (``lomsong probe run --once``): every path's tests, spooled, then uploaded.

A cycle is what one round of the scheduler does for every path at once: `probe.pathrun.measure_path`
reads the modem and the position, runs the throughput tests and the ``[checks]`` within the
SIM's data budget (a test over budget is recorded as ``budget_exhausted``), and merges the radio
into every result. Each path's results are committed to the spool before the next path starts,
and before any upload is attempted; one path's failure never stops the others (a failed test is
spooled like any other: it is evidence). Then the spool is drained to the collector and the
probe's status (queue, budget, clock) is reported, as the looping scheduler does after each test.

`run_once` takes `measure` from the caller (tests pass a scripted one); by default it is
`measure_path` with the budget ledger next to the spool and gpsd when ``[gps]`` is configured.

Example
-------
>>> import json, tempfile
>>> from pathlib import Path
>>> from lomsong.probe.config import parse_config
>>> from lomsong.probe.runners.base import TestContext
>>> cfg = parse_config('''
... [probe]
... id = "pi-1"
... [collector]
... url = "http://collector.invalid"
... token = "s3cret-token"
... [[path]]
... name = "viettel-4g"
... access = "4g"
... iperf3 = "iperf.invalid"
... ''', source="probe.toml")
>>> def dead_spot(path):  # what a modem without service gives
...     ctx = TestContext(probe_id="pi-1")
...     return [ctx.measurement(ctx.stamp(), kind=Kind.THROUGHPUT_DOWN, tool="iperf3",
...                             error_kind=ErrorKind.NO_SERVICE, error_message="no service")]
>>> def collector(request):
...     if request.url.path.endswith("/status"):
...         return httpx.Response(200, json={})
...     n = len(json.loads(request.content)["measurements"])
...     return httpx.Response(200, json={"received": n, "stored": n, "duplicates": 0})
>>> with tempfile.TemporaryDirectory() as tmp:
...     summary = run_once(cfg, spool_path=Path(tmp) / "spool.db", measure=dead_spot,
...                        transport=httpx.MockTransport(collector))
>>> summary.failed, summary.upload.acked, summary.pending, summary.status_code
(1, 1, 0, 200)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from lomsong.probe import clock
from lomsong.probe.budget import Ledger, budget_path
from lomsong.probe.config import PathSettings, ProbeConfig
from lomsong.probe.doctor import status_body
from lomsong.probe.pathrun import gps_locator, measure_path
from lomsong.probe.pool_source import PoolSource, pool_cache_path
from lomsong.probe.record import ErrorKind, Kind, Measurement
from lomsong.probe.spool import Spool
from lomsong.probe.uploader import CollectorClient, UploadReport, upload_pending

__all__ = ["CycleSummary", "PathMeasure", "report_status", "run_once"]

logger = logging.getLogger(__name__)

PathMeasure = Callable[[PathSettings], list[Measurement]]
STATUS_VERSION = "lomsong-probe/1"


@dataclass(frozen=True, slots=True)
class CycleSummary:
    measurements: list[Measurement]
    failed: int
    upload: UploadReport
    pending: int
    refused: int = 0
    status_code: int | None = None


def report_status(cfg: ProbeConfig, spool: Spool, ledger: Ledger, client: CollectorClient) -> int | None:
    """Send the probe's status (queue, today's data use against the daily limits, clock) to the
    collector; the HTTP status, or None when it could not be reached (best effort)."""
    now = datetime.now(UTC)
    used = sum(ledger.usage(p.name, now).day_bytes for p in cfg.paths)
    limits = [p.budget.daily_bytes if p.budget else None for p in cfg.paths]
    limit = None if None in limits else sum(x for x in limits if x is not None)
    body = status_body(spool, clock=clock.current_clock_state(), budget_used=used,
                       budget_limit=limit, version=STATUS_VERSION)  # fmt: skip
    return client.send_status(body)


def run_once(
    cfg: ProbeConfig,
    *,
    spool_path: Path,
    measure: PathMeasure | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CycleSummary:
    """Measure every path into the spool, then drain the spool and report the status."""
    measured: list[Measurement] = []
    with (
        Spool(spool_path, max_rows=cfg.spool.max_rows, max_bytes=cfg.spool.max_bytes,
              policy=cfg.spool.policy) as spool,
        Ledger(budget_path(spool_path), cfg.schedule.zone) as ledger,
    ):  # fmt: skip
        locate = gps_locator(cfg)
        if measure is None and cfg.pool.from_collector:  # the collector's server list, or the cached one
            with CollectorClient(cfg.collector.url, cfg.token(), transport=transport) as client:
                cfg = PoolSource(cfg, client, pool_cache_path(spool_path)).config()
        run_path = measure or (lambda path: measure_path(cfg, path, ledger=ledger, locate=locate))
        for path in cfg.paths:
            try:
                results = run_path(path)
            except Exception:  # measure_path records test failures; this guards the cycle itself
                logger.exception("path %s failed", path.name)
                continue
            spool.add_many(results)
            measured.extend(results)
        with CollectorClient(cfg.collector.url, cfg.token(), transport=transport) as client:
            report = upload_pending(spool, client, batch_size=cfg.collector.batch_size, sleep=sleep)
            status = report_status(cfg, spool, ledger, client) if report.ok else None
        pending = spool.stats().pending
    tests = [m for m in measured if m.kind is not Kind.RADIO_SNAPSHOT]
    refused = sum(m.error_kind is ErrorKind.BUDGET_EXHAUSTED for m in tests)
    failed = sum(m.error_kind is not None for m in tests) - refused
    return CycleSummary(measured, failed, report, pending, refused, status)
