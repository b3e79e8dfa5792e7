"""Analysis benchmark: time and peak memory of the survey pipeline on N synthetic measurements.

A SYNTHETIC district (about 4 x 4 km around Hoan Kiem, Hanoi; numbers drawn with numpy, source
``synthetic``): three carriers on 4G plus one on 5G NSA, walkers and fixed probes at 30 service
points, 60 days, with weak zones of every cause (coverage holes, an interference zone, a congested
cell at peak, no-service patches). Steps timed, each on the previous step's output:

    load (read_measurements of an exported CSV: the columnar path)
    -> cell statistics (H3 r10, 3 windows) -> classify -> weak areas -> scorecards -> proposals

``--source records`` loads from record dicts instead (a generator, as the database query returns
them); that time includes making the dicts in Python.
Wall and CPU seconds are both reported: the machine is shared, and CPU time (which includes
BLAS/GEOS threads) is steadier under other people's load. Peak memory is the process's maximum
resident set size (``resource.getrusage``), so each size runs in its own process.

    python benchmarks/analysis.py [N]              # one size, default 1,000,000
    python benchmarks/analysis.py N --source records   # load from record dicts instead of CSV
    python benchmarks/analysis.py --growth         # 100k, 300k, 1M x both sources, fresh processes

Goal on a 2-core machine: 1,000,000 measurements in <= 20 s and <= 2 GB peak.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LAT0, LON0 = 21.0285, 105.8542
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0 * np.cos(np.radians(LAT0))
START_S = 1_793_577_600  # 2026-11-02T00:00:00Z
CARRIERS = np.array(["viettel", "vnpt", "mobifone"])


def _columns(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    half = 2000.0
    probe_share = 0.3
    at_site = rng.random(n) < probe_share
    sites = rng.uniform(-half, half, size=(30, 2))
    which = rng.integers(0, 30, n)
    x = np.where(at_site, sites[which, 0], rng.uniform(-half, half, n))
    y = np.where(at_site, sites[which, 1], rng.uniform(-half, half, n))
    carrier_idx = rng.integers(0, 3, n)
    access = np.where((carrier_idx == 0) & (rng.random(n) < 0.3), "5g_nsa", "4g")
    seconds = START_S + rng.integers(0, 60 * 86_400, n)
    towers = rng.uniform(-half, half, size=(3, 12, 2))
    d = np.full(n, np.inf)
    for k in range(12):
        t = towers[carrier_idx, k]
        d = np.minimum(d, np.hypot(x - t[:, 0], y - t[:, 1]))
    rsrp = -60.0 - 30.0 * np.log10(np.maximum(d, 20.0) / 20.0) + rng.normal(0, 6, n)
    sinr = 18.0 + rng.normal(0, 4, n) - np.clip(-90 - rsrp, 0, 30) * 0.3
    interf = np.hypot(x - 800, y + 600) < 250
    sinr = np.where(interf, sinr - 18.0, sinr)
    hour_local = ((seconds // 3600) + 7) % 24
    peak = (hour_local >= 19) & (hour_local < 22)
    congested = (np.hypot(x + 900, y - 700) < 300) & peak
    base = np.where(access == "5g_nsa", 250.0, 70.0)
    speed = base * np.clip(np.log2(1 + 10 ** (np.clip(sinr, -10, 30) / 10)) / 6.0, 0.02, 1.5)
    speed = speed * rng.lognormal(0, 0.35, n) / np.where(congested, 5.0, 1.0)
    dead = (rsrp < -122) | (np.hypot(x - 1500, y - 1500) < 120)
    kind_r = rng.random(n)
    kind = np.where(kind_r < 0.6, "throughput_down", np.where(kind_r < 0.8, "throughput_up",
                                                              "latency"))
    return {
        "probe_id": np.where(at_site, np.char.add("pi-", which.astype(str)), "walk-1"),
        "seconds": seconds,
        "kind": kind,
        "carrier": CARRIERS[carrier_idx],
        "access": access,
        "download_mbps": np.where((kind == "throughput_down") & ~dead, speed.round(2), np.nan),
        "upload_mbps": np.where((kind == "throughput_up") & ~dead, (speed / 4).round(2), np.nan),
        "rtt_ms": np.where((kind == "latency") & ~dead, rng.gamma(4, 8, n).round(1), np.nan),
        "error_kind": np.where(dead, "no_service", None),
        "rsrp_dbm": np.clip(rsrp, -140, -44).round(0),
        "sinr_db": np.clip(sinr, -20, 40).round(1),
        "pci": (carrier_idx * 100 + (np.abs(x) // 500)).astype(int),
        "lat": LAT0 + y / M_PER_DEG_LAT,
        "lon": LON0 + x / M_PER_DEG_LON,
        "sites": sites,
    }


def _records(cols: dict[str, np.ndarray], chunk: int = 50_000) -> Iterator[dict[str, Any]]:
    """Record dicts like the database returns, made a chunk at a time (bounded memory)."""
    from datetime import UTC, datetime

    keys = ["probe_id", "kind", "carrier", "access", "download_mbps", "upload_mbps", "rtt_ms",
            "error_kind", "rsrp_dbm", "sinr_db", "pci", "lat", "lon"]
    for lo in range(0, len(cols["seconds"]), chunk):
        lists = [cols[k][lo : lo + chunk].tolist() for k in keys]
        times = cols["seconds"][lo : lo + chunk].tolist()
        for i, when in enumerate(times):
            row = {k: values[i] for k, values in zip(keys, lists, strict=True)}
            row["measured_at"] = datetime.fromtimestamp(when, UTC)
            row["tool"] = "iperf3"
            row["source"] = "synthetic"
            yield row


def run_once(n: int, source: str) -> dict[str, Any]:
    import geopandas as gpd

    from lomsong.analysis.areas import weak_areas
    from lomsong.analysis.cells import cell_stats
    from lomsong.analysis.classify import classify_cells
    from lomsong.analysis.load import measurements_frame, read_measurements
    from lomsong.analysis.proposals import upgrade_proposals
    from lomsong.analysis.sites import scorecards
    from lomsong.analysis.thresholds import load_thresholds

    cols = _columns(n)
    sites = cols.pop("sites")
    points = gpd.GeoDataFrame(
        {"site_id": [f"sp-{i:02d}" for i in range(len(sites))], "name": "synthetic",
         "site_type": "public_service_point", "address": ""},
        geometry=gpd.points_from_xy(LON0 + sites[:, 0] / M_PER_DEG_LON,
                                    LAT0 + sites[:, 1] / M_PER_DEG_LAT), crs=4326)
    t = load_thresholds()
    timings: dict[str, float] = {}
    rss: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "measurements.csv"
        if source == "csv":  # an exported file, written here and not timed
            table = pd.DataFrame({k: v for k, v in cols.items() if k != "seconds"})
            table["measured_at"] = pd.to_datetime(cols["seconds"], unit="s", utc=True)
            table.assign(tool="iperf3", source="synthetic").to_csv(export, index=False)
            del table
        cpu: dict[str, float] = {}
        mark, cpu_mark = time.perf_counter(), time.process_time()
        total, cpu_total = mark, cpu_mark

        def step(name: str) -> None:
            nonlocal mark, cpu_mark
            now, cpu_now = time.perf_counter(), time.process_time()
            timings[name] = round(now - mark, 2)
            cpu[name] = round(cpu_now - cpu_mark, 2)
            rss[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            mark, cpu_mark = now, cpu_now

        if source == "csv":
            del cols
            measurements = read_measurements(export)
        else:
            measurements = measurements_frame(_records(cols))
            del cols
        step(f"load_{source}")
    stats = cell_stats(measurements, thresholds=t)
    step("cell_stats")
    classified = classify_cells(stats, t)
    step("classify")
    areas = weak_areas(classified, measurements, thresholds=t)
    step("weak_areas")
    cards = scorecards(points, measurements, classified, thresholds=t)
    step("scorecards")
    proposals = upgrade_proposals(areas, cards, cause_rules=t.cause)
    step("proposals")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "n": n,
        "seconds": round(time.perf_counter() - total, 2),
        "cpu_seconds": round(time.process_time() - cpu_total, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "peak_rss_mb": round(peak_kb / 1024),
        "steps_s": timings,
        "steps_cpu_s": cpu,
        "peak_rss_mb_after": rss,
        "source": source,
        "cells": int(classified["cell"].nunique()),
        "rows": len(classified),
        "status": classified[classified["window"] == "all"]["status"].value_counts().to_dict(),
        "weak_areas": len(areas),
        "causes": areas["cause"].value_counts().to_dict(),
        "proposals": len(proposals),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1_000_000, help="measurements")
    parser.add_argument("--growth", action="store_true", help="run 100k, 300k and 1M")
    parser.add_argument("--source", choices=["csv", "records"], default="csv",
                        help="load from an exported CSV (default) or from record dicts")
    parser.add_argument("--json", action="store_true", help="print one JSON line only")
    args = parser.parse_args(argv)
    if args.growth:
        for n in (100_000, 300_000, 1_000_000):
            for source in ("csv", "records"):
                out = subprocess.run(
                    [sys.executable, __file__, str(n), "--json", "--source", source],
                    capture_output=True, text=True, timeout=900, check=True,
                )
                result = json.loads(out.stdout)
                print(f"{n:>9,} measurements from {source:7}: {result['seconds']:6.2f} s wall, "
                      f"{result['cpu_seconds']:6.2f} s CPU, peak {result['peak_rss_mb']:5d} MB, "
                      f"load avg {result['load_average_1min']}, steps {result['steps_s']}")
        return 0
    result = run_once(args.n, args.source)
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        ok = result["seconds"] <= 20 and result["peak_rss_mb"] <= 2048
        print("goal (<= 20 s, <= 2 GB for 1M):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
