"""``lomsong probe run`` (forever), ``probe walk``, ``probe gpx-match``, ``probe doctor``.

Registered by `probe.cli`; module-level imports stay light (argparse and the standard library),
everything else loads inside the handlers.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lomsong.probe.config import PathSettings, ProbeConfig
    from lomsong.probe.location.fix import Fix
    from lomsong.probe.record import Measurement
    from lomsong.probe.spool import Spool

__all__ = ["budget_lines", "handle_run_forever", "register_ops"]

logger = logging.getLogger(__name__)
_CONFIG_HELP = "probe.toml (mặc định / default: $LOMSONG_PROBE_CONFIG hoặc ./probe.toml)"


def register_ops(sub: Any) -> None:
    """Add ``walk``, ``gpx-match`` and ``doctor`` to the ``probe`` subcommands."""
    walk = sub.add_parser("walk", help="đo liên tục khi đi bộ (walk test, live view)")
    walk.add_argument("--config", type=Path, default=None, help=_CONFIG_HELP)
    walk.add_argument("--path", default=None, help="[[path]] name (default: the first)")
    where = walk.add_mutually_exclusive_group()
    where.add_argument("--gpsd", metavar="HOST[:PORT]", help="vị trí từ gpsd (position from gpsd)")
    where.add_argument("--nmea", metavar="DEVICE", help="NMEA serial device, e.g. /dev/ttyACM0")
    where.add_argument("--gpx-later", action="store_true",
                       help="ghép GPX sau (a phone records GPX; run probe gpx-match later)")  # fmt: skip
    walk.add_argument("--rounds", type=int, default=None, help="stop after N rounds")
    walk.set_defaults(handler=_handle_walk)

    match = sub.add_parser("gpx-match", help="gán vị trí từ GPX (place walk records on a GPX track)")
    match.add_argument("track", type=Path, metavar="TRACK.gpx")
    match.add_argument("--config", type=Path, default=None, help=_CONFIG_HELP)
    match.add_argument("--max-gap", type=float, default=30.0, metavar="S")
    match.add_argument("--upload", action="store_true", help="then upload the spool")
    match.set_defaults(handler=_handle_gpx_match)

    doctor = sub.add_parser("doctor", help="kiểm tra máy đo (check tools, modems, GPS, clock, collector)")
    doctor.add_argument("--config", type=Path, default=None, help=_CONFIG_HELP)
    doctor.set_defaults(handler=_handle_doctor)


def _setup(config: Path | None) -> tuple[ProbeConfig, Path]:
    from lomsong.probe.cli import _load, _spool_path

    cfg = _load(config)
    return cfg, _spool_path(cfg)


def _open_spool(cfg: ProbeConfig, path: Path) -> Spool:
    from lomsong.probe.spool import Spool

    return Spool(path, max_rows=cfg.spool.max_rows, max_bytes=cfg.spool.max_bytes, policy=cfg.spool.policy)


def budget_lines(cfg: ProbeConfig, spool_path: Path) -> list[str]:
    """``Ngân sách dữ liệu (data budget)`` lines for ``probe status``."""
    from datetime import UTC, datetime

    from lomsong.probe.budget import Ledger, budget_path
    from lomsong.probe.pathrun import usage_lines

    with Ledger(budget_path(spool_path), cfg.schedule.zone) as ledger:
        return ["Ngân sách dữ liệu (data budget):", *usage_lines(cfg, ledger, datetime.now(UTC))]


def handle_run_forever(args: argparse.Namespace) -> int:
    """The scheduler until SIGTERM/SIGINT."""
    import signal
    import threading
    from datetime import UTC, datetime

    from lomsong.probe.budget import Ledger, budget_path
    from lomsong.probe.cycle import report_status
    from lomsong.probe.doctor import require_congestion
    from lomsong.probe.errors import ProbeError
    from lomsong.probe.pathrun import gps_locator, measure_path
    from lomsong.probe.pool_source import PoolSource, pool_cache_path
    from lomsong.probe.retest import RetestPlanner, retest_state_path
    from lomsong.probe.scheduler import Scheduler
    from lomsong.probe.uploader import CollectorClient, UploadReport, upload_pending

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        cfg, spool_path = _setup(args.config)
        require_congestion(cfg)
        locate = gps_locator(cfg)
        with (
            _open_spool(cfg, spool_path) as spool,
            Ledger(budget_path(spool_path), cfg.schedule.zone) as ledger,
            CollectorClient(cfg.collector.url, cfg.token()) as client,
        ):

            def pause(seconds: float) -> None:
                stop.wait(seconds)  # a stop request ends an upload backoff at once

            def upload() -> UploadReport:
                return upload_pending(spool, client, batch_size=cfg.collector.batch_size, sleep=pause)

            def report(_: UploadReport) -> None:
                code = report_status(cfg, spool, ledger, client)
                if code not in (200, None):
                    logger.info("status report: HTTP %s", code)

            servers = PoolSource(cfg, client, pool_cache_path(spool_path))

            def measure(path: PathSettings) -> list[Measurement]:
                current, current_path = servers.path(path)  # [pool] from_collector: its latest list
                return measure_path(current, current_path, ledger=ledger, locate=locate)

            retest = RetestPlanner(cfg.retest, cfg.schedule, retest_state_path(spool_path),
                                   client.get_schedule)  # the collector's re-test requests, kept
            scheduler = Scheduler(
                cfg, spool, measure, upload, lambda: datetime.now(UTC), stop.wait, after_upload=report,
                retest=retest,
            )  # fmt: skip
            runs = scheduler.run()
    except (ProbeError, ValueError) as exc:
        print(f"Lỗi (error): {exc}", file=sys.stderr)
        return 2
    print(f"Đã dừng (stopped) sau (after) {runs} lượt đo (path runs)")
    return 0


def _handle_walk(args: argparse.Namespace) -> int:
    import dataclasses

    from rich.console import Console

    from lomsong.probe.budget import Ledger, budget_path
    from lomsong.probe.config import split_host_port
    from lomsong.probe.doctor import require_congestion
    from lomsong.probe.errors import ProbeError
    from lomsong.probe.location.gpsd import read_fix
    from lomsong.probe.pathrun import measure_path, path_context, path_runners
    from lomsong.probe.record import PositionSource, Setting
    from lomsong.probe.uploader import CollectorClient, upload_pending
    from lomsong.probe.walk import WalkState, nmea_device_fix, summary_lines, walk

    try:
        cfg, spool_path = _setup(args.config)
        require_congestion(cfg)
        paths = [p for p in cfg.paths if args.path in (None, p.name)]
        if not paths:
            print(f"Không có đường truyền (no [[path]]) {args.path or ''}", file=sys.stderr)
            return 2
        path = paths[0]
        ctx = dataclasses.replace(
            path_context(cfg, path), lat=None, lon=None, accuracy_m=None, site_id=None,
            position_source=PositionSource.NONE, setting=Setting.OUTDOOR,
        )  # fmt: skip

        def locate() -> Fix | None:
            if args.gpsd:
                return read_fix(*split_host_port(args.gpsd, 2947), timeout_s=2.0)
            return nmea_device_fix(args.nmea) if args.nmea else None

        runners = path_runners(path, policy=cfg.pool.policy)
        console = Console()
        with (
            _open_spool(cfg, spool_path) as spool,
            Ledger(budget_path(spool_path), cfg.schedule.zone) as ledger,
            CollectorClient(cfg.collector.url, cfg.token()) as client,
        ):

            def round_() -> tuple[Fix | None, list[Measurement]]:
                try:
                    fix = locate()
                except (ProbeError, OSError) as exc:
                    logger.warning("position: %s", exc)
                    fix = None
                results = measure_path(cfg, path, ledger=ledger, runners=runners, locate=lambda: fix, ctx=ctx)
                return fix, results

            def store(results: list[Measurement]) -> Any:
                spool.add_many(results)
                return spool.stats()

            upload = None if args.gpx_later else (lambda: upload_pending(spool, client, max_retries=0))
            state = WalkState(threshold_mbps=path.down_threshold_mbps or 40.0)
            walk(state, round_=round_, store=store, upload=upload, console=console, rounds=args.rounds)
    except ProbeError as exc:
        print(f"Lỗi (error): {exc}", file=sys.stderr)
        return 2
    print()
    for line in summary_lines(state):
        print(line)
    if args.gpx_later:
        print("Tiếp theo (next): lomsong probe gpx-match TRACK.gpx --upload")
    return 0


def _handle_gpx_match(args: argparse.Namespace) -> int:
    from lomsong.probe.errors import ProbeError
    from lomsong.probe.location.gpx import parse_gpx
    from lomsong.probe.location.gpx_match import place_on_track
    from lomsong.probe.uploader import CollectorClient, upload_pending

    try:
        cfg, spool_path = _setup(args.config)
        track = parse_gpx(args.track.read_text(encoding="utf-8"), str(args.track))
        with _open_spool(cfg, spool_path) as spool:
            pending = spool.batch(max(1, spool.stats().pending))
            mine = [m for m in pending if m.probe_id == cfg.probe.id]
            placed = place_on_track(mine, track, max_gap_s=args.max_gap)
            updated = spool.update_pending(placed)
            unplaced = sum(m.lat is None for m in mine) - updated
            print(f"Đã gán vị trí (placed) {updated}; không gán được (outside track/gap) {unplaced}")
            if args.upload:
                with CollectorClient(cfg.collector.url, cfg.token()) as client:
                    up = upload_pending(spool, client, batch_size=cfg.collector.batch_size)
                print(f"Đã gửi (acked) {up.acked}" + ("" if up.ok else f"; dừng (stopped): {up.message}"))
                return 0 if up.ok else 1
    except (ProbeError, OSError) as exc:
        print(f"Lỗi (error): {exc}", file=sys.stderr)
        return 2
    return 0


def _handle_doctor(args: argparse.Namespace) -> int:
    from lomsong.probe import clock
    from lomsong.probe.doctor import run_doctor
    from lomsong.probe.errors import ProbeError

    try:
        cfg, spool_path = _setup(args.config)
    except ProbeError as exc:
        print(f"[FAIL] Cấu hình (config): {exc}")
        return 1
    checks = run_doctor(cfg, spool_path, clock_state=clock.current_clock_state)
    for check in checks:
        print(check.line())
    failed = sum(c.status == "FAIL" for c in checks)
    print(f"{failed} lỗi (failures)" if failed else "Sẵn sàng (ready)")
    return 1 if failed else 0
