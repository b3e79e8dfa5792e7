"""Accuracy of the early-stopping throughput test against shaped links (run as root).

For each link (``../shared/tools/shaped-link``): start ``iperf3 -s`` in namespace ls_srv, then from
ls_cli run the probe's adaptive download and upload (`AdaptiveIperf3Runner`, threshold 40 Mbit/s)
``--repeat`` times and one fixed 10-second iperf3 test per direction (`Iperf3Runner`, JSON).
Uploads are estimated from the receiver-acknowledged bytes (``ss``, see
`probe.runners.tcp_acked`) unless ``--sender-counts`` asks for iperf3's sender-side intervals.

Reference ("true") goodput: for tbf links, the shaped rate x 1448/1514 (TCP payload per 1500-byte
packet plus its 14-byte Ethernet header, which tbf counts): 0.956 x rate. For the emulated link
with delay and loss, no closed form: the reference is the receiver's goodput in the fixed
10-second test after its first second (marked ``*``), because the probe's estimate, like any
steady-state figure, leaves out TCP's start-up, which the fixed test's overall rate includes
(the benchmark prints both). The verdict is right when the estimate and the reference fall on
the same side of 40 Mbit/s. The link is always taken down at the end.

The ``4g*`` links are 4G-like: round trips of 40-120 ms, random loss of 0.1-1%, 5-150 Mbit/s.
Their goals (issue 12): a median error of at most 3% against the fixed 10 s test's recorded rate
(the ``err%fix`` column; the probe's estimate stands for such a test, start-up included, see
`probe.runners.early_stop`), every verdict right, and at most 30% of the fixed test's bytes
(``bytes%``). The emulator is a userspace process: on a busy machine, run a few links at a time.

Usage: ``sudo .venv/bin/python benchmarks/accuracy.py [--repeat 3] [--links 10,40,4g60,...]``
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lomsong.probe.config import PathSettings
from lomsong.probe.record import Measurement
from lomsong.probe.runners.adaptive import AdaptiveIperf3Runner, LiveSubprocessRunner
from lomsong.probe.runners.base import CommandResult, SubprocessRunner, TestContext
from lomsong.probe.runners.early_stop import StopRule
from lomsong.probe.runners.iperf3 import Iperf3Runner

SHAPED_LINK = Path(__file__).resolve().parents[1] / ".." / "shared" / "tools" / "shaped-link"
SERVER, THRESHOLD_MBPS, TCP_GOODPUT = "10.77.0.1", 40.0, 1448 / 1514
STEADY_SKIP_S = 1.0
DEFAULT_CONGESTION = PathSettings.model_fields["congestion"].default  # what a probe uses
IN_CLI = ["ip", "netns", "exec", "ls_cli"]


@dataclass(frozen=True)
class Link:
    name: str
    rate_mbit: int
    delay_ms: int = 0
    loss_pct: float = 0.0

    @property
    def emulated(self) -> bool:
        return bool(self.delay_ms or self.loss_pct)


LINKS = {
    "10": Link("tbf 10", 10),
    "36": Link("tbf 36", 36),
    "40": Link("tbf 40", 40),
    "44": Link("tbf 44", 44),
    "100": Link("tbf 100", 100),
    "40e": Link("emu 40/20ms/0.5%", 40, 20, 0.5),
    # 4G-like: round trips of 40-120 ms (twice the one-way delay), random loss of 0.1-1%.
    "4g5": Link("4g 5/120ms/1%", 5, 60, 1.0),
    "4g20": Link("4g 20/80ms/0.5%", 20, 40, 0.5),
    "4g60": Link("4g 60/60ms/0.3%", 60, 30, 0.3),
    "4g150": Link("4g 150/40ms/0.1%", 150, 20, 0.1),
}


class InNamespace:
    """Both command seams, with every command run inside namespace ls_cli."""

    def __init__(self) -> None:
        self.live, self.plain = LiveSubprocessRunner(), SubprocessRunner()
        self.last_json = ""

    def live_call(
        self,
        argv: Sequence[str],
        *,
        on_line: Callable[[str], bool],
        timeout_s: float,
        on_tick: Callable[[int], bool] | None = None,
    ) -> CommandResult:
        # `ip netns exec` execs the command: the pid on_tick gets is iperf3's own.
        return self.live([*IN_CLI, *argv], on_line=on_line, timeout_s=timeout_s, on_tick=on_tick)

    def plain_call(self, argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        return self.plain([*IN_CLI, *argv], timeout_s=timeout_s)

    def fixed_call(self, argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        """`plain_call` for the fixed test, asking for the server's side (the receiver's
        intervals of an upload) and keeping the whole JSON in `last_json`."""
        if "-R" not in argv and "--get-server-output" not in argv:
            argv = [*argv, "--get-server-output"]
        done = self.plain_call(argv, timeout_s=timeout_s)
        self.last_json = done.stdout
        return done


def steady_goodput(json_text: str, reverse: bool, skip_s: float = STEADY_SKIP_S) -> float:
    """The receiver's goodput in Mbit/s over a fixed iperf3 test's intervals after `skip_s`.

    A download's receiver is the client (its own intervals); an upload's is the server
    (``server_output_json``, from ``--get-server-output``).
    """
    data = json.loads(json_text)
    side = data if reverse else data["server_output_json"]
    steady = [i["sum"] for i in side["intervals"] if i["sum"]["start"] >= skip_s - 1e-6]
    seconds = sum(i["end"] - i["start"] for i in steady)
    if not steady or seconds <= 0:
        raise RuntimeError(f"no interval after {skip_s} s in the fixed test")
    return float(sum(i["bytes"] for i in steady) * 8 / seconds / 1e6)


@dataclass(frozen=True)
class Row:
    link: str
    direction: str
    reference_mbps: float
    reference_kind: str
    estimates: list[Measurement]
    fixed: Measurement


def _rate(m: Measurement) -> float:
    value = m.download_mbps if m.download_mbps is not None else m.upload_mbps
    if value is None:
        raise RuntimeError(f"no rate: {m.error_kind} {m.error_message}")
    return value


def measure_link(
    link: Link,
    repeat: int,
    ns: InNamespace,
    ctx: TestContext,
    *,
    read_acked: bool = True,
    congestion: str | None = DEFAULT_CONGESTION,
) -> list[Row]:
    up = [str(link.rate_mbit)] + ([str(link.delay_ms), str(link.loss_pct)] if link.emulated else [])
    subprocess.run([str(SHAPED_LINK), "up", *up], check=True, capture_output=True, timeout=30)
    server = subprocess.Popen(
        ["ip", "netns", "exec", "ls_srv", "iperf3", "-s", "-J", "-B", SERVER],  # -J: server JSON
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        subprocess.run([*IN_CLI, "ping", "-c", "3", "-i", "0.2", SERVER], capture_output=True, timeout=10)
        rows = []
        for reverse, direction in ((True, "down"), (False, "up")):
            rule = StopRule(threshold_mbps=THRESHOLD_MBPS)
            adaptive = AdaptiveIperf3Runner(
                host=SERVER, reverse=reverse, rule=rule, command_runner=ns.live_call,
                read_acked=read_acked, ss_runner=ns.plain_call, congestion=congestion,
            )  # fmt: skip
            estimates = [adaptive.start_test(ctx)[0] for _ in range(repeat)]
            fixed_runner = Iperf3Runner(
                host=SERVER, duration_s=10, reverse=reverse, command_runner=ns.fixed_call,
                congestion=congestion,
            )  # fmt: skip
            (fixed,) = fixed_runner.start_test(ctx)
            if link.emulated:
                reference, kind = steady_goodput(ns.last_json, reverse), "fixed"
            else:
                reference, kind = link.rate_mbit * TCP_GOODPUT, "tbf"
            rows.append(Row(link.name, direction, reference, kind, estimates, fixed))
        return rows
    finally:
        server.terminate()
        server.wait(timeout=10)


def report(rows: list[Row], links: dict[str, Link]) -> list[str]:
    """The accuracy table: per link and direction, the estimates' median against the reference
    and against the fixed 10 s test's recorded rate (signed: + reads high), the bytes the
    early-stopping test used as a share of the fixed test's, and how many verdicts were right."""
    head = (
        f"{'link':18} {'Mbit/s':>6} {'rtt ms':>6} {'loss%':>5} {'dir':4} {'ref':>8} {'fixed':>7} "
        f"{'adaptive':>8} {'err%fix':>7} {'|err|%ref':>9} {'err%max':>7} {'bytes%':>6} {'s':>5} "
        f"{'verdict':>7}"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        link = links[row.link]
        failed = [m for m in row.estimates if m.error_kind is not None]
        for m in failed:
            print(f"{row.link} {row.direction}: FAILED {m.error_message}\n{m.raw}", file=sys.stderr)
        good = [m for m in row.estimates if m.error_kind is None]
        if not good or row.fixed.error_kind is not None:
            runs = f"{len(failed)} of {len(row.estimates)} runs"
            lines.append(f"{row.link:18} {row.direction:4} failed: {runs}")
            continue
        rates = [_rate(m) for m in good]
        fixed = _rate(row.fixed)
        errors = [100 * (r / row.reference_mbps - 1) for r in rates]
        truth_below = row.reference_mbps < THRESHOLD_MBPS
        right = sum((r < THRESHOLD_MBPS) == truth_below for r in rates)
        used = statistics.median(m.bytes_used or 0 for m in good)
        seconds = statistics.median(m.duration_s or 0 for m in good)
        fixed_bytes = row.fixed.bytes_used or 0
        share = 100 * used / fixed_bytes if fixed_bytes else float("nan")
        mark = "*" if row.reference_kind == "fixed" else " "
        lines.append(
            f"{row.link:18} {link.rate_mbit:6d} {2 * link.delay_ms:6d} {link.loss_pct:5.1f} "
            f"{row.direction:4} "
            f"{row.reference_mbps:7.2f}{mark}{fixed:7.2f} {statistics.median(rates):8.2f} "
            f"{statistics.median(100 * (r / fixed - 1) for r in rates):+7.2f} "
            f"{statistics.median(abs(e) for e in errors):9.2f} {max(abs(e) for e in errors):7.2f} "
            f"{share:6.1f} {seconds:5.2f} {f'{right}/{len(rates)}':>7}"
            + (f"  ({len(failed)} failed)" if failed else "")
        )
    lines.append(
        "ref: * the fixed 10 s test's receiver goodput after 1 s (emulated links), else 0.956 x shaped "
        "rate; fixed: the fixed 10 s test's recorded rate; err%fix: median signed error against it; "
        "|err|%ref, err%max: median and largest absolute error against ref; bytes%: median bytes "
        "used as a share of the fixed test's; verdict: estimates on the same side of 40 Mbit/s as ref"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--links", default=",".join(LINKS), help=f"subset of {','.join(LINKS)}")
    parser.add_argument(
        "--sender-counts", action="store_true",
        help="estimate uploads from iperf3's sender counts instead of the acknowledged bytes (ss)",
    )  # fmt: skip
    parser.add_argument(
        "--congestion", default=DEFAULT_CONGESTION,
        help=f"TCP congestion control of both tests (default: the probe's, {DEFAULT_CONGESTION}; "
        '"system": the host\'s default)',
    )  # fmt: skip
    args = parser.parse_args(argv)
    congestion = None if args.congestion == "system" else args.congestion
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still take the link down
    ns = InNamespace()
    ctx = TestContext(probe_id="accuracy-bench")
    rows: list[Row] = []
    try:
        for key in args.links.split(","):
            link = LINKS[key]
            print(f"measuring {link.name} ...", file=sys.stderr, flush=True)
            rows.extend(measure_link(link, args.repeat, ns, ctx, read_acked=not args.sender_counts,
                                     congestion=congestion))  # fmt: skip
    finally:
        subprocess.run([str(SHAPED_LINK), "down"], capture_output=True, timeout=30)
    print(f"congestion control: {args.congestion}")
    print("\n".join(report(rows, {link.name: link for link in LINKS.values()})))
    for row in rows:
        for m in row.estimates:
            print(f"{row.link} {row.direction}: {m.raw.splitlines()[-1] if m.raw else '-'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
