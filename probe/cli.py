"""``lomsong probe ...``: measure once, run the configured paths, show the spool's state.

Module-level imports stay light (argparse and the standard library); the runners, pydantic and
httpx load inside the handlers.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lomsong.probe.carriers import carrier_arg

if TYPE_CHECKING:
    from lomsong.probe.config import ProbeConfig
    from lomsong.probe.record import Measurement
    from lomsong.probe.runners.base import Runner

__all__ = ["default_config_path", "measure_runner", "register"]

_ACCESS = ("5g_sa", "5g_nsa", "4g", "3g", "2g", "fixed", "wifi", "unknown")
_CONFIG_HELP = "probe.toml (mặc định / default: $LOMSONG_PROBE_CONFIG hoặc ./probe.toml)"


def default_config_path() -> Path:
    """``$LOMSONG_PROBE_CONFIG`` if set, else ``./probe.toml``."""
    return Path(os.environ.get("LOMSONG_PROBE_CONFIG") or "probe.toml")


def register(subparsers: Any) -> None:
    """Add ``probe measure``, ``probe run``, ``probe status`` and the top-level ``import``."""
    from lomsong.probe.importers.cli import register_import

    register_import(subparsers)
    probe = subparsers.add_parser("probe", help="đo và gửi kết quả (measure and upload)")
    sub = probe.add_subparsers(dest="probe_command", metavar="ACTION", required=True)

    measure = sub.add_parser("measure", help="đo một lần bằng iperf3 (one iperf3 test)")
    measure.add_argument("--iperf3", required=True, metavar="HOST[:PORT]")
    measure.add_argument("--reverse", action="store_true", help="tải xuống (download, -R)")
    measure.add_argument("--udp", action="store_true", help="UDP: jitter, loss")
    measure.add_argument(
        "--duration", type=int, default=None, metavar="S",
        help="thời lượng (duration; default 10 s; with --adaptive, at most the probe's cap of 2.5 s)",
    )  # fmt: skip
    measure.add_argument("--interface", metavar="IF", help="bind to this interface")
    measure.add_argument("--carrier", type=carrier_arg(), default="unknown", metavar="CARRIER",
                         help="nhà mạng, vd. Viettel, VinaPhone (carrier, any usual name)")
    measure.add_argument("--access", choices=_ACCESS, default="unknown")
    measure.add_argument("--probe-id", default=None, help="default: $LOMSONG_PROBE_ID or hostname")
    measure.add_argument("--json", action="store_true", help="print the Measurement as JSON")
    measure.add_argument(
        "--adaptive",
        action="store_true",
        help="dừng sớm khi kết luận rõ, như đầu đo theo lịch (stop early once the verdict is clear,"
        " with the scheduled probe's rule, cap, threshold and congestion control)",
    )
    measure.add_argument(
        "--threshold-mbps", type=float, default=None, metavar="MBPS", help="ngưỡng (threshold)"
    )
    measure.add_argument(
        "--bytes-cap", type=int, default=None, metavar="BYTES", help="giới hạn byte (byte cap)"
    )
    measure.add_argument(
        "--congestion", default=None, metavar="ALG",
        help="TCP congestion control, e.g. bbr, cubic (default: the host's; with --adaptive, the"
        " probe's, bbr)",
    )  # fmt: skip
    measure.set_defaults(handler=_handle_measure)

    run = sub.add_parser("run", help="đo mọi đường truyền rồi gửi (measure all paths, upload)")
    run.add_argument(
        "--once", action="store_true", help="một vòng rồi thoát (one cycle, then exit; default: forever)"
    )
    run.add_argument("--config", type=Path, default=None, help=_CONFIG_HELP)
    run.set_defaults(handler=_handle_run)

    status = sub.add_parser("status", help="hàng đợi và lần gửi cuối (queue, last upload)")
    status.add_argument("--config", type=Path, default=None, help=_CONFIG_HELP)
    status.set_defaults(handler=_handle_status)

    from lomsong.probe.cli_ops import register_ops

    register_ops(sub)


def _probe_id(given: str | None) -> str:
    raw = given or os.environ.get("LOMSONG_PROBE_ID") or socket.gethostname()
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in raw).lstrip("._-") or "probe"


def describe(m: Measurement) -> str:
    """One short line for an officer, Vietnamese first."""
    label = {"throughput_down": "Tải xuống (download)", "throughput_up": "Tải lên (upload)"}
    what = label.get(m.kind.value, "UDP (jitter/loss)")
    where = f"{m.carrier.value} {m.access.value}" + (f" qua (via) {m.interface}" if m.interface else "")
    if m.error_kind is not None:
        return f"{what}: LỖI (error) {m.error_kind.value}: {m.error_message} [{where}, {m.server}]"
    parts = []
    rate = m.download_mbps if m.download_mbps is not None else m.upload_mbps
    if rate is not None:
        parts.append(f"{rate:.1f} Mbps")
    if m.rtt_ms is not None:
        parts.append(f"RTT {m.rtt_ms:.1f} ms")
    if m.jitter_ms is not None and m.loss_pct is not None:
        parts.append(f"jitter {m.jitter_ms:.2f} ms, mất gói (loss) {m.loss_pct:.1f}%")
    if m.bytes_used is not None:
        parts.append(f"{m.bytes_used / 1e6:.1f} MB")
    return f"{what}: {', '.join(parts)} [{where}, {m.server}]"


def _handle_measure(args: argparse.Namespace) -> int:
    from lomsong.probe.config import split_host_port
    from lomsong.probe.record import Access, Carrier
    from lomsong.probe.runners.base import TestContext

    try:
        host, port = split_host_port(args.iperf3)
    except ValueError as exc:
        print(f"--iperf3: {exc}", file=sys.stderr)
        return 2
    ctx = TestContext(
        probe_id=_probe_id(args.probe_id),
        interface=args.interface,
        carrier=Carrier(args.carrier),
        access=Access(args.access),
    )
    runner = measure_runner(args, host, port)
    (measurement,) = runner.start_test(ctx)
    print(measurement.model_dump_json() if args.json else describe(measurement))
    return 0 if measurement.error_kind is None else 1


def measure_runner(args: argparse.Namespace, host: str, port: int) -> Runner:
    """The runner of ``probe measure``. With ``--adaptive`` (TCP) it is the scheduler's own
    (`path_runners` on a one-direction path), so both share one stopping rule, cap, threshold
    and congestion control; the options given override them as they would in probe.toml."""
    from lomsong.probe.runners.early_stop import FIXED_TEST_S
    from lomsong.probe.runners.iperf3 import Iperf3Runner

    if args.adaptive and not args.udp:
        from lomsong.probe.config import PathSettings
        from lomsong.probe.pathrun import path_runners

        direction = "down" if args.reverse else "up"
        given = {
            "duration_s": args.duration,
            "bytes_cap": args.bytes_cap,
            "congestion": args.congestion,
            f"threshold_{direction}_mbps": args.threshold_mbps,
        }
        path = PathSettings.model_validate(
            {"name": "measure", "iperf3": f"{host}:{port}", "interface": args.interface,
             "carrier": args.carrier, "access": args.access, "directions": [direction],
             "method": "adaptive"}
            | {key: value for key, value in given.items() if value is not None}
        )  # fmt: skip
        (runner,) = path_runners(path)
        return runner
    return Iperf3Runner(
        host=host,
        port=port,
        duration_s=FIXED_TEST_S if args.duration is None else args.duration,
        reverse=args.reverse,
        udp=args.udp,
        bytes_cap=args.bytes_cap,
        congestion=args.congestion,
    )


def _load(path: Path | None) -> ProbeConfig:
    from lomsong.probe.config import load_config

    return load_config(path or default_config_path())


def _spool_path(cfg: ProbeConfig) -> Path:
    if cfg.spool.path is not None:
        return cfg.spool.path
    import platformdirs

    return Path(platformdirs.user_data_dir("lomsong")) / "probe-spool.sqlite3"


def _handle_run(args: argparse.Namespace) -> int:
    from lomsong.probe.cycle import run_once
    from lomsong.probe.doctor import require_congestion
    from lomsong.probe.errors import ProbeError

    if not args.once:
        from lomsong.probe.cli_ops import handle_run_forever

        return handle_run_forever(args)

    try:
        cfg = _load(args.config)
        require_congestion(cfg)
        summary = run_once(cfg, spool_path=_spool_path(cfg))
    except ProbeError as exc:
        print(f"Lỗi (error): {exc}", file=sys.stderr)
        return 2
    for m in summary.measurements:
        print(describe(m))
    up = summary.upload
    refused = f", vượt ngân sách (over budget) {summary.refused}" if summary.refused else ""
    print(
        f"Đã đo (measured) {len(summary.measurements)}, lỗi (failed) {summary.failed}{refused}; "
        f"đã gửi (acked) {up.acked}, bị từ chối (rejected) {up.rejected}, "
        f"còn chờ (pending) {summary.pending}"
    )
    if not up.ok:
        print(f"Gửi dừng (upload stopped): {up.stopped}: {up.message}", file=sys.stderr)
        return 1
    return 0


def _handle_status(args: argparse.Namespace) -> int:
    from lomsong.probe.errors import ProbeError
    from lomsong.probe.spool import Spool

    try:
        cfg = _load(args.config)
        path = _spool_path(cfg)
        with Spool(path) as spool:
            stats = spool.stats()
            recent = spool.rejected(limit=5)
    except ProbeError as exc:
        print(f"Lỗi (error): {exc}", file=sys.stderr)
        return 2
    print(f"Hàng đợi (spool): {path}")
    print(f"Chờ gửi (pending): {stats.pending} ({stats.pending_bytes / 1e6:.2f} MB)")
    if stats.oldest_pending_at is not None:
        print(f"Cũ nhất (oldest pending): {stats.oldest_pending_at.isoformat()}")
    print(f"Bị từ chối (rejected): {stats.rejected}")
    for record_id, at, reason in recent:
        print(f"  {at} {record_id}: {reason}")
    dropped = ", ".join(f"{k}={v}" for k, v in stats.dropped.items()) or "0"
    print(f"Đã bỏ (dropped): {dropped}")
    attempt, success = stats.last_upload_attempt_at, stats.last_upload_success_at
    print(f"Lần gửi cuối (last upload attempt): {attempt.isoformat() if attempt else '-'}")
    print(f"Lần gửi thành công (last success): {success.isoformat() if success else '-'}")
    if stats.last_upload_error:
        print(f"Lỗi gửi cuối (last upload error): {stats.last_upload_error}")
    from lomsong.probe.cli_ops import budget_lines

    for line in budget_lines(cfg, path):
        print(line)
    return 0
