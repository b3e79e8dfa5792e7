"""``lomsong probe walk``: a volunteer with a laptop walks the ward; short tests back to back.

Each round: read the position (gpsd, an NMEA serial device, or none when the track will come
from a phone's GPX later), read the modem, run the path's short tests (early-stopping iperf3 on
mobile paths, see `probe.cycle.path_runners`), spool the results, try an upload. A live view
(rich) shows position, carrier, signal (RSRP/SINR), the last speed against the threshold (green
at or above, red below), the sample count, the spool and the upload state.

Ctrl-C ends the walk cleanly: the test under way is abandoned (its iperf3 child gets the same
SIGINT), everything already measured is in the spool, a final upload is tried (skipped with
``--gpx-later``: records wait for ``lomsong probe gpx-match``), and a summary is printed.

`render_walk` is pure (tested with ``Console(record=True)``); `walk` takes its rounds, upload and
stop condition from the caller.

Example
-------
>>> import io
>>> from rich.console import Console
>>> console = Console(record=True, width=80, file=io.StringIO())
>>> console.print(render_walk(WalkState(threshold_mbps=40.0)))
>>> "Chưa có mẫu" in console.export_text()
True
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from lomsong.probe.location.fix import Fix
from lomsong.probe.location.nmea import parse_nmea
from lomsong.probe.record import Kind, Measurement
from lomsong.probe.spool import SpoolStats
from lomsong.probe.uploader import UploadReport

__all__ = ["WalkState", "nmea_device_fix", "render_walk", "summary_lines", "walk"]


@dataclass
class WalkState:
    """What the live view shows; updated after every round."""

    threshold_mbps: float | None
    samples: int = 0
    below: int = 0
    failed: int = 0
    fix: Fix | None = None
    last: Measurement | None = None
    last_speed: Measurement | None = None
    pending: int = 0
    pending_bytes: int = 0
    upload: str = "chưa gửi (not yet)"
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def add(self, results: list[Measurement]) -> None:
        for m in results:
            if m.kind is Kind.RADIO_SNAPSHOT:
                continue
            self.samples += 1
            self.last = m
            self.failed += m.error_kind is not None
            if m.kind is Kind.THROUGHPUT_DOWN and m.download_mbps is not None:
                self.last_speed = m
                limit = self.threshold_mbps
                self.below += limit is not None and m.download_mbps < limit

    def spool(self, stats: SpoolStats) -> None:
        self.pending, self.pending_bytes = stats.pending, stats.pending_bytes


def _speed(state: WalkState) -> Text:
    m = state.last_speed
    if m is None or m.download_mbps is None:
        return Text("-")
    limit = state.threshold_mbps
    style = "bold" if limit is None else ("bold green" if m.download_mbps >= limit else "bold red")
    verdict = "" if limit is None else (" ≥ " if m.download_mbps >= limit else " < ") + f"{limit:g} Mbps"
    return Text(f"{m.download_mbps:.1f} Mbps{verdict}", style=style)


def render_walk(state: WalkState) -> Panel:
    """The live view of a walk (a rich Panel)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="cyan")
    table.add_column()
    fix = state.fix
    where = "không có (none)" if fix is None else f"{fix.lat:.6f}, {fix.lon:.6f}"
    if fix is not None and fix.accuracy_m is not None:
        where += f" ±{fix.accuracy_m:.0f} m"
    last = state.last
    table.add_row("Vị trí (position)", where)
    if last is None:
        table.add_row("Mẫu (samples)", "Chưa có mẫu (no sample yet)")
    else:
        table.add_row("Nhà mạng (carrier)", f"{last.carrier.value} {last.access.value}")
        rsrp = "-" if last.rsrp_dbm is None else f"{last.rsrp_dbm:.0f} dBm"
        sinr = "-" if last.sinr_db is None else f"{last.sinr_db:.1f} dB"
        table.add_row("Tín hiệu (signal)", f"RSRP {rsrp}, SINR {sinr}")
        table.add_row("Tốc độ (last speed)", _speed(state))
        if last.error_kind is not None:
            table.add_row(
                "Lỗi cuối (last error)", Text(f"{last.error_kind.value}: {last.error_message}", "red")
            )
        table.add_row(
            "Mẫu (samples)",
            f"{state.samples} (dưới ngưỡng / below {state.below}, lỗi / failed {state.failed})",
        )
    table.add_row("Hàng đợi (spool)", f"{state.pending} ({state.pending_bytes / 1e6:.2f} MB)")
    table.add_row("Gửi (upload)", state.upload)
    return Panel(Group(table), title="lomsong — đo khi đi bộ (walk test)", subtitle="Ctrl-C: dừng (stop)")


def nmea_device_fix(device: str, *, timeout_s: float = 2.0) -> Fix | None:
    """The last fix an NMEA serial device printed within `timeout_s` (None without a fix)."""
    fd = os.open(device, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    chunks: list[bytes] = []
    try:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                break
            chunks.append(os.read(fd, 4096))
    finally:
        os.close(fd)
    fixes = parse_nmea(b"".join(chunks).decode("ascii", errors="replace"), device).fixes
    return fixes[-1] if fixes else None


def walk(
    state: WalkState,
    *,
    round_: Callable[[], tuple[Fix | None, list[Measurement]]],
    store: Callable[[list[Measurement]], SpoolStats],
    upload: Callable[[], UploadReport] | None,
    console: Console,
    rounds: int | None = None,
) -> WalkState:
    """Run rounds until Ctrl-C (or `rounds`), with a live view; then a final upload attempt."""
    done = 0
    with Live(render_walk(state), console=console, refresh_per_second=4, transient=False) as live:
        try:
            while rounds is None or done < rounds:
                fix, results = round_()
                state.fix = fix if fix is not None else state.fix
                state.add(results)
                state.spool(store(results))
                live.update(render_walk(state))
                if upload is not None:
                    state.upload = _upload_text(upload())
                    live.update(render_walk(state))
                done += 1
        except KeyboardInterrupt:
            state.upload = "đang dừng (stopping)"
            live.update(render_walk(state))
    if upload is not None:
        state.upload = _upload_text(upload())
    return state


def _upload_text(report: UploadReport) -> str:
    if report.ok:
        return f"đã gửi (sent) {report.acked}"
    return f"lỗi (failed): {report.stopped}: {report.message}"


def summary_lines(state: WalkState) -> list[str]:
    """The closing summary, Vietnamese first."""
    minutes = (datetime.now(UTC) - state.started).total_seconds() / 60
    return [
        f"Đã đo (samples) {state.samples} trong (in) {minutes:.0f} phút (min); "
        f"dưới ngưỡng (below threshold) {state.below}; lỗi (failed) {state.failed}",
        f"Còn chờ gửi (pending) {state.pending}; gửi (upload): {state.upload}",
    ]
