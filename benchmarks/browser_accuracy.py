"""Accuracy of the phone page in real Chromium on shaped links, beside a fixed 10-s iperf3 (root).

For each link, two network namespaces joined the way ``../shared/tools/shaped-link`` joins them
(tbf on a veth pair for a plain rate; its ``linkemu.py`` delay line between two TAP devices for
delay and loss) but under names of their own (phb_cli 10.78.0.2, phb_srv 10.78.0.1), since
other benchmarks use shaped-link's fixed names at the same time: a collector on a scratch database
listens on a unix socket and socat relays it from 10.78.0.1:8088 inside phb_srv (as a reverse
proxy would; PostgreSQL stays in the root namespace), Chromium runs inside phb_cli (a wrapper
around ``ip netns exec``) and runs the page's test as a volunteer would; then a fixed 10-second
iperf3 download (``-R``) and upload, and the probe's own adaptive estimate
(`AdaptiveIperf3Runner`), run on the same link. Printed per link and direction: the page's rate,
iperf3's, the difference, whether the verdict against 40 Mbit/s agrees, the page's bytes,
duration and stop reason, and the probe's estimate. The link is always taken down at the end.

Usage: ``sudo .venv/bin/python benchmarks/browser_accuracy.py [--links 10,36,44,100,4g]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.phone_payload import collector  # noqa: E402
from lomsong.probe.runners.adaptive import AdaptiveIperf3Runner, LiveSubprocessRunner  # noqa: E402
from lomsong.probe.runners.base import CommandResult, SubprocessRunner, TestContext  # noqa: E402
from lomsong.probe.runners.early_stop import StopRule  # noqa: E402

LINKEMU = REPO.parent / "shared" / "tools" / "linkemu.py"
CLI, SRV = "phb_cli", "phb_srv"
CHROMIUM = Path("/usr/bin/chromium")
SERVER, CLIENT, PORT, IPERF_PORT, TARGET_MBPS = "10.78.0.1", "10.78.0.2", 8088, 5317, 40.0
# name -> (rate Mbit/s, one-way delay ms, loss %): 4G-like ones have 60-120 ms round trips.
LINKS = {"10": (10, 0, 0.0), "36": (36, 0, 0.0), "40": (40, 0, 0.0), "44": (44, 0, 0.0),
         "100": (100, 0, 0.0), "4g": (40, 30, 0.1), "4g-lossy": (30, 60, 1.0)}
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_S = 120


def run(cmd: list[str], timeout_s: float = TIMEOUT_S) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True,
                          timeout=timeout_s).stdout


def link_down(emulator: subprocess.Popen[bytes] | None) -> None:
    if emulator is not None:
        emulator.terminate()
        emulator.wait(timeout=30)
    for ns in (CLI, SRV):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def link_up(rate: int, delay: int, loss: float) -> subprocess.Popen[bytes] | None:
    """Join CLI and SRV by a shaped link; returns the delay line's process when there is one."""
    link_down(None)
    for ns in (CLI, SRV):
        run(["ip", "netns", "add", ns])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
    emulator = None
    if delay == 0 and loss == 0:
        cli_dev, srv_dev = "phb_v1", "phb_v0"
        run(["ip", "link", "add", cli_dev, "netns", CLI, "type", "veth", "peer", "name", srv_dev,
             "netns", SRV])
        burst = str(max(rate * 1250, 15_000))
        for ns, dev in ((CLI, cli_dev), (SRV, srv_dev)):
            run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
                 "rate", f"{rate}mbit", "burst", burst, "latency", "50ms"])
    else:
        cli_dev, srv_dev = "phb_ta", "phb_tb"
        for dev in (cli_dev, srv_dev):
            run(["ip", "tuntap", "add", "dev", dev, "mode", "tap"])
        emulator = subprocess.Popen([sys.executable, str(LINKEMU), cli_dev, srv_dev, str(rate),
                                     str(delay), str(loss)], stdout=subprocess.PIPE)
        assert emulator.stdout is not None
        emulator.stdout.readline()  # "ready"
        run(["ip", "link", "set", cli_dev, "netns", CLI])
        run(["ip", "link", "set", srv_dev, "netns", SRV])
    run(["ip", "-n", CLI, "addr", "add", f"{CLIENT}/24", "dev", cli_dev])
    run(["ip", "-n", SRV, "addr", "add", f"{SERVER}/24", "dev", srv_dev])
    run(["ip", "-n", CLI, "link", "set", cli_dev, "up"])
    run(["ip", "-n", SRV, "link", "set", srv_dev, "up"])
    run(["ip", "netns", "exec", CLI, "ping", "-c", "1", "-W", "5", SERVER])
    return emulator


def in_cli(argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", CLI, *argv]


def iperf3_tests() -> dict[str, tuple[float, float | None]]:
    """Per direction: the fixed 10-s iperf3 result and the probe's adaptive estimate, in Mbit/s
    (the adaptive one None when it failed), against one iperf3 server in SRV."""
    live, plain = LiveSubprocessRunner(), SubprocessRunner()

    def live_call(argv: Sequence[str], *, on_line: Callable[[str], bool], timeout_s: float,
                  on_tick: Callable[[int], bool] | None = None) -> CommandResult:
        return live(in_cli(argv), on_line=on_line, timeout_s=timeout_s, on_tick=on_tick)

    def plain_call(argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        return plain(in_cli(argv), timeout_s=timeout_s)

    server = subprocess.Popen(["ip", "netns", "exec", SRV, "iperf3", "-s", "-B", SERVER, "-p",
                               str(IPERF_PORT)], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        results = {}
        for reverse, kind in ((True, "throughput_down"), (False, "throughput_up")):
            out = run(in_cli(["iperf3", "-c", SERVER, "-p", str(IPERF_PORT), "-t", "10", "-J",
                              *(["-R"] if reverse else [])]), timeout_s=40)
            fixed = float(json.loads(out)["end"]["sum_received"]["bits_per_second"]) / 1e6
            adaptive = AdaptiveIperf3Runner(
                host=SERVER, port=IPERF_PORT, reverse=reverse,
                rule=StopRule(threshold_mbps=TARGET_MBPS), command_runner=live_call,
                ss_runner=plain_call)
            (m,) = adaptive.start_test(TestContext(probe_id="browser-accuracy"))
            results[kind] = (fixed, m.download_mbps if reverse else m.upload_mbps)
        return results
    finally:
        server.terminate()
        server.wait(timeout=30)


def page_test(token: str, chromium: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=ARGS, headless=True)
        try:
            page = browser.new_page(locale="vi-VN")
            page.goto(f"http://{SERVER}:{PORT}/do?t={token}", timeout=60_000)
            page.select_option("#carrier", "viettel")
            page.fill("#cap", "500")
            page.click("#start")
            page.wait_for_selector("#status:has-text('Đã gửi kết quả')", timeout=TIMEOUT_S * 1000)
        finally:
            browser.close()


def one_link(name: str, admin_url: str, tmp: Path, chromium: Path) -> str:
    rate, delay, loss = LINKS[name]
    emulator = link_up(rate, delay, loss)
    try:
        return _measure(name, admin_url, tmp, chromium)
    finally:
        link_down(emulator)


def _measure(name: str, admin_url: str, tmp: Path, chromium: Path) -> str:
    rate, delay, loss = LINKS[name]
    sock = tmp / f"collector-{name}.sock"
    with collector(admin_url, ["--uds", str(sock)]) as (db_url, _, token):
        relay = subprocess.Popen(["ip", "netns", "exec", SRV, "socat",
                                  f"TCP-LISTEN:{PORT},bind={SERVER},fork,reuseaddr",
                                  f"UNIX-CONNECT:{sock}"])
        try:
            transport = httpx.HTTPTransport(uds=str(sock))
            deadline = time.monotonic() + 60
            while not sock.exists() or httpx.Client(transport=transport).get(
                    "http://collector/readyz", timeout=2).status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError("collector did not become ready")
                time.sleep(0.3)
            page_test(token, chromium)
        finally:
            relay.terminate()
            relay.wait(timeout=30)
        with psycopg.connect(db_url) as conn:
            rows = {r[0]: r[1:] for r in conn.execute(
                "SELECT kind, coalesce(download_mbps, upload_mbps), bytes_used,"
                " raw::jsonb ->> 'stop_reason', duration_s FROM measurements"
                " WHERE kind IN ('throughput_down', 'throughput_up')")}
    references = iperf3_tests()
    cells = [f"{name:>8} ({rate} Mbit/s, {2 * delay} ms RTT, {loss}% loss)"]
    for kind in ("throughput_down", "throughput_up"):
        ref, probe = references[kind]
        est, used, reason, duration = rows[kind]
        diff = (est - ref) / ref * 100
        right = (est >= TARGET_MBPS) == (ref >= TARGET_MBPS)
        cells.append(f"{est:7.1f} vs {ref:7.1f} ({diff:+5.1f}%) verdict {'ok' if right else 'WRONG'}"
                     f" {used / 1e6:6.1f} MB {duration:4.1f} s {reason}; probe "
                     + ("failed" if probe is None else f"{probe:5.1f}"))
    return " | ".join(cells)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--links", default="10,36,44,100,4g")
    parser.add_argument("--admin-url", default=os.environ.get(
        "LOMSONG_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    print("link | page download vs iperf3 10 s | page upload vs iperf3 10 s")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o755)
        chromium = tmp / "chromium-in-phb_cli"
        chromium.write_text(f'#!/bin/sh\nexec ip netns exec {CLI} {CHROMIUM} "$@"\n')
        chromium.chmod(0o755)
        for name in args.links.split(","):
            print(one_link(name, args.admin_url, tmp, chromium), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
