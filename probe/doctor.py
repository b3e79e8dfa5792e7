"""``lomsong probe doctor``: is this probe ready? Tools, modems, GPS, clock, spool, collector, token.

Each check returns a `Check` (OK / WARN / FAIL, a Vietnamese line with its English gloss); any
FAIL makes the command exit 1. Every probe of the outside world has a short timeout and goes
through an injectable seam (command runner, HTTP transport), so tests need no real modem.

The token check sends an *empty* batch to ``POST /api/v1/measurements``: the collector checks the
bearer token before it reads the body, so a valid probe token gets 422 (an empty batch is invalid,
nothing is stored), an unknown token 401 and a read-only token 403.

Example
-------
>>> Check("OK", "Công cụ iperf3", "iperf3 tool", "/usr/bin/iperf3").line()
'[OK  ] Công cụ iperf3 (iperf3 tool): /usr/bin/iperf3'
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import httpx

from lomsong.probe.config import ProbeConfig, split_host_port
from lomsong.probe.errors import ConfigError
from lomsong.probe.record import ClockState
from lomsong.probe.runners.base import CommandRunner, SubprocessRunner, tool_path
from lomsong.probe.spool import Spool

__all__ = ["Check", "check_clock", "check_collector", "check_congestion", "check_gps", "check_modems",
           "check_spool", "check_tools", "require_congestion", "run_doctor", "status_body"]  # fmt: skip

Status = Literal["OK", "WARN", "FAIL"]
_TOOLS: Final = (
    ("iperf3", True), ("ping", False), ("ss", False), ("mmcli", False), ("speedtest-cli", False)
)  # ss: uploads are judged on acknowledged bytes (else on the sender's counts)


@dataclass(frozen=True, slots=True)
class Check:
    status: Status
    what_vi: str
    what_en: str
    detail: str

    def line(self) -> str:
        return f"[{self.status:<4}] {self.what_vi} ({self.what_en}): {self.detail}"


def check_tools(which: Callable[[str], str | None] = shutil.which) -> list[Check]:
    """iperf3 is required; ping, ss, mmcli and speedtest-cli are warnings when missing."""
    out = []
    for tool, required in _TOOLS:
        path = tool_path(tool, which)
        if path is not None:
            out.append(Check("OK", f"Công cụ {tool}", f"{tool} tool", path))
        else:
            status: Status = "FAIL" if required else "WARN"
            out.append(Check(status, f"Công cụ {tool}", f"{tool} tool", "không có (not installed)"))
    return out


def check_modems(cfg: ProbeConfig, runner: CommandRunner) -> list[Check]:
    """``mmcli -L`` when a path reads its radio through ModemManager."""
    wanted = [p.modem.mmcli_index for p in cfg.paths if p.modem and p.modem.mmcli_index is not None]
    if not wanted:
        return []
    try:
        done = runner(["mmcli", "-L"], timeout_s=10)
    except Exception as exc:
        return [Check("FAIL", "Modem", "modems", f"mmcli -L: {exc}")]
    listed = done.stdout
    missing = [i for i in wanted if not re.search(rf"/Modem/{i}\b", listed)]
    if done.returncode != 0 or missing:
        detail = f"thiếu modem (missing) {missing}; mmcli -L: {(done.stdout or done.stderr).strip()[:200]}"
        return [Check("FAIL", "Modem", "modems", detail)]
    return [Check("OK", "Modem", "modems", f"{len(wanted)} modem: {listed.strip()[:200]}")]


def check_gps(cfg: ProbeConfig, connect: Callable[..., Any] = socket.create_connection) -> list[Check]:
    """gpsd reachable (a TCP connect) when ``[gps]`` is configured."""
    if cfg.gps is None:
        return []
    host, port = split_host_port(cfg.gps.gpsd, 2947)
    try:
        connect((host, port), timeout=cfg.gps.timeout_s).close()
    except OSError as exc:
        return [Check("FAIL", "GPS (gpsd)", "GPS via gpsd", f"{host}:{port}: {exc}")]
    return [Check("OK", "GPS (gpsd)", "GPS via gpsd", f"{host}:{port}")]


def check_clock(state: ClockState) -> Check:
    if state is ClockState.SYNCED:
        return Check("OK", "Đồng hồ", "clock", "đã đồng bộ NTP (NTP synchronised)")
    return Check("WARN", "Đồng hồ", "clock",
                 f"{state.value}: kết quả sẽ được đánh dấu (results will be flagged)")  # fmt: skip


_CONGESTION_PROC: Final = Path("/proc/sys/net/ipv4")


def check_congestion(
    cfg: ProbeConfig, proc: Path = _CONGESTION_PROC, privileged: bool | None = None
) -> list[Check]:
    """Each configured TCP congestion control is available, and allowed unless running as root
    (an unprivileged process may only pick those in ``tcp_allowed_congestion_control``)."""
    wanted = sorted({a for p in cfg.paths if (a := p.congestion_algorithm) is not None})
    if not wanted:
        return []
    try:
        available = (proc / "tcp_available_congestion_control").read_text().split()
        allowed = (proc / "tcp_allowed_congestion_control").read_text().split()
    except OSError as exc:
        return [Check("WARN", "Điều khiển tắc nghẽn TCP", "TCP congestion control", f"{exc}")]
    root = os.geteuid() == 0 if privileged is None else privileged
    out = []
    for name in wanted:
        if name not in available:
            status: Status = "FAIL"
            detail = f"{name}: không có trong nhân (not available; available: {' '.join(available)})"
        elif name not in allowed and not root:
            status = "FAIL"
            detail = (f"{name}: không được phép (not allowed for this user; allowed: {' '.join(allowed)}; "
                      "add it to net.ipv4.tcp_allowed_congestion_control)")  # fmt: skip
        else:
            status, detail = "OK", name
        out.append(Check(status, "Điều khiển tắc nghẽn TCP", "TCP congestion control", detail))
    return out


def require_congestion(cfg: ProbeConfig, proc: Path = _CONGESTION_PROC) -> None:
    """Refuse to start measuring when a path's congestion control cannot be set: every TCP
    test would fail with the same tool error, which is not a finding about the network."""
    bad = [c for c in check_congestion(cfg, proc) if c.status == "FAIL"]
    if bad:
        details = "; ".join(c.detail for c in bad)
        raise ConfigError(
            f"TCP congestion control: {details}. Allow it as in the README's install steps "
            '(net.ipv4.tcp_allowed_congestion_control), or set congestion = "cubic" or "system" '
            "on the path"
        )


def check_spool(path: Path) -> Check:
    try:
        with Spool(path) as spool:
            integrity = spool.integrity_check()
            stats = spool.stats()
    except Exception as exc:
        return Check("FAIL", "Hàng đợi", "spool", f"{path}: {exc}")
    if integrity != "ok":
        return Check("FAIL", "Hàng đợi", "spool", f"{path}: integrity_check: {integrity}")
    detail = f"{path}: chờ gửi (pending) {stats.pending}, từ chối (rejected) {stats.rejected}"
    return Check("WARN" if sum(stats.dropped.values()) else "OK", "Hàng đợi", "spool", detail)


def check_collector(url: str, token: str, transport: httpx.BaseTransport | None = None) -> list[Check]:
    """``GET /healthz``, then the token with an empty batch (see the module docstring)."""
    base = url.rstrip("/")
    with httpx.Client(transport=transport, timeout=httpx.Timeout(10.0)) as http:
        try:
            health = http.get(f"{base}/healthz")
        except httpx.HTTPError as exc:
            return [Check("FAIL", "Máy chủ thu", "collector", f"{base}: {exc}")]
        out = [Check("OK" if health.status_code == 200 else "FAIL", "Máy chủ thu", "collector",
                     f"{base}/healthz -> HTTP {health.status_code}")]  # fmt: skip
        try:
            answer = http.post(f"{base}/api/v1/measurements", json={"measurements": []},
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        except httpx.HTTPError as exc:
            return [*out, Check("FAIL", "Mã truy cập", "token", str(exc))]
    verdict: dict[int, tuple[Status, str]] = {
        422: ("OK", "hợp lệ (valid)"),
        401: ("FAIL", "không hợp lệ (invalid or unknown token)"),
        403: ("FAIL", "không có quyền gửi (token may not write)"),
    }
    status, text = verdict.get(answer.status_code, ("WARN", "trả lời lạ (unexpected answer)"))
    return [*out, Check(status, "Mã truy cập", "token", f"{text}, HTTP {answer.status_code}")]


def status_body(spool: Spool, *, clock: ClockState, budget_used: int | None,
                budget_limit: int | None, version: str | None) -> dict[str, Any]:  # fmt: skip
    """The ``POST /api/v1/probes/status`` body from the spool's state."""
    stats = spool.stats()
    last = stats.last_upload_success_at
    return {
        "queue_pending": stats.pending,
        "rejected": stats.rejected,
        "dropped": sum(stats.dropped.values()),
        "last_upload_at": None if last is None else last.isoformat(),
        "budget_used_bytes": budget_used,
        "budget_limit_bytes": budget_limit,
        "clock": clock.value,
        "last_error": stats.last_upload_error,
        "version": version,
    }


def run_doctor(
    cfg: ProbeConfig,
    spool_path: Path,
    *,
    clock_state: Callable[[], ClockState],
    which: Callable[[str], str | None] = shutil.which,
    command_runner: CommandRunner | None = None,
    transport: httpx.BaseTransport | None = None,
) -> list[Check]:
    """Every check, in the order an installer would fix them."""
    checks = check_tools(which)
    checks += check_congestion(cfg)
    checks += check_modems(cfg, command_runner or SubprocessRunner())
    checks += check_gps(cfg)
    checks.append(check_clock(clock_state()))
    checks.append(check_spool(spool_path))
    try:
        token = cfg.token()
    except Exception as exc:
        return [*checks, Check("FAIL", "Mã truy cập", "token", str(exc))]
    return checks + check_collector(cfg.collector.url, token, transport)
