"""The probe's footprint on a Pi-sized budget: start-up time, imports, memory during a cycle.

Goals (issue "probe"): ``lomsong probe`` starts in <= 0.5 s and imports nothing heavy; the
probe's resident memory stays <= 60 MB during a test.

1. **Start-up:** ``lomsong probe --help`` run `--runs` times in fresh interpreters; the median
   and the worst wall time are reported.
2. **Imports:** a fresh interpreter imports `probe.cli` and runs the ``probe`` parser; the
   heavy modules (pandas, numpy, geopandas, shapely, fastapi, psycopg, folium, reportlab,
   pydantic is allowed: the wire contract needs it) must not be in ``sys.modules``.
3. **Memory during a cycle:** ``lomsong probe run --once`` against a local ``iperf3 -s`` on
   loopback with a 4G path (early-stopping download and upload, the upload read through ``ss``)
   and ping/DNS checks, uploading to a local stub collector that acknowledges everything. Peak
   resident memory is the child's ``ru_maxrss`` (the largest of the probe process and its own
   children, iperf3 and ss, which are far smaller).

Usage: ``.venv/bin/python benchmarks/probe_footprint.py [--runs 10]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
LOMSONG = str(VENV_BIN / "lomsong")
HEAVY = ("pandas", "numpy", "geopandas", "shapely", "fastapi", "psycopg", "folium", "reportlab",
         "pyproj", "matplotlib", "starlette")  # fmt: skip
STARTUP_GOAL_S, RSS_GOAL_MB = 0.5, 60


def startup_times(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([LOMSONG, "probe", "--help"], check=True, capture_output=True, timeout=30)
        times.append(time.perf_counter() - started)
    return times


def heavy_imports() -> list[str]:
    code = (
        "import sys, contextlib, io\n"
        "from lomsong.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['probe', '--help'])\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return done.stdout.split()


class _Collector(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        n = len(body.get("measurements", []))
        payload = json.dumps({"received": n, "stored": n, "duplicates": 0}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        return


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cycle_peak_rss_mb() -> tuple[float, str]:
    """Peak RSS (MB) of one ``probe run --once`` and its summary line."""
    port = _free_port()
    server = subprocess.Popen(["iperf3", "-s", "-p", str(port), "-B", "127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    collector = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    try:
        time.sleep(0.3)  # iperf3 -s listening
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "probe.toml"
            config.write_text(f"""
[probe]
id = "footprint"
[collector]
url = "http://127.0.0.1:{collector.server_address[1]}"
token = "footprint-token"
[spool]
path = "{Path(tmp) / "spool.db"}"
[checks]
ping_targets = ["127.0.0.1"]
ping_count = 3
dns_names = ["localhost"]
[[path]]
name = "lte"
carrier = "viettel"
access = "4g"
iperf3 = "127.0.0.1:{port}"
bytes_cap = 2000000000
""")
            env = {**os.environ, "LOMSONG_PROBE_CONFIG": str(config)}
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            done = subprocess.run([LOMSONG, "probe", "run", "--once"], env=env, capture_output=True,
                                  text=True, timeout=120)  # fmt: skip
            peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            if done.returncode != 0:
                raise RuntimeError(f"probe run --once failed ({done.returncode}): {done.stderr}{done.stdout}")
            if peak_kb <= before:
                raise RuntimeError("the cycle did not raise the children's peak RSS: measured something else")
            return peak_kb / 1024, done.stdout.strip().splitlines()[-1]
    finally:
        server.terminate()
        server.wait(timeout=10)
        collector.shutdown()
        collector.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    times = startup_times(args.runs)
    heavy = heavy_imports()
    rss_mb, summary = cycle_peak_rss_mb()
    median, worst = statistics.median(times), max(times)
    goal_s = f"<= {STARTUP_GOAL_S} s"
    rows = [
        ("lomsong probe --help, median", f"{median:.3f} s", goal_s, median <= STARTUP_GOAL_S),
        ("lomsong probe --help, worst", f"{worst:.3f} s", goal_s, worst <= STARTUP_GOAL_S),
        ("heavy modules imported", ", ".join(heavy) or "none", "none", not heavy),
        ("probe run --once, peak RSS", f"{rss_mb:.1f} MB", f"<= {RSS_GOAL_MB} MB", rss_mb <= RSS_GOAL_MB),
    ]
    for name, value, goal, ok in rows:
        print(f"{name:32} {value:>12}  goal {goal:10} {'met' if ok else 'MISSED'}")
    print(f"cycle: {summary}")
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
