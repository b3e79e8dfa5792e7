"""Ingest benchmark: records/s and batch latency through HTTP, against a naive baseline.

Starts a collector (uvicorn, its own process) on a fresh database of a real PostgreSQL, then
posts pre-serialised batches of realistic records (the synthetic survey) from this process over
loopback HTTP with a few concurrent connections, and reports records/s and p50/p99 batch latency.
In the same run, the naive baseline stores the same number of records with one ``INSERT`` per
record (``ON CONFLICT (id) DO NOTHING``, one transaction per batch) straight into PostgreSQL.

    python benchmarks/ingest.py [--records 200000] [--batch 5000] [--concurrency 3]
                                [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

Goal on a 2-core machine: >= 20,000 records/s through HTTP and >= 10x the naive baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lomsong.collector.storage.migrate import migrate  # noqa: E402
from lomsong.collector.storage.tokens import create_token  # noqa: E402
from lomsong.probe.record import Measurement  # noqa: E402
from lomsong.synthetic import survey  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def records(n: int) -> list[Measurement]:
    out: list[Measurement] = []
    day = 0
    while len(out) < n:
        start = datetime(2026, 10, 1, tzinfo=UTC).replace(day=1 + day % 28)
        for m in survey(start, days=3, seed=day):
            out.append(m.model_copy(update={"id": uuid.uuid4(), "probe_id": "bench"}))
            if len(out) == n:
                break
        day += 1
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wait_ready(url: str, deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("collector did not become ready")


def run_http(db_url: str, bodies: list[bytes], per_batch: int, token: str,
             concurrency: int, workers: int) -> dict[str, float]:
    port = free_port()
    env = {**os.environ, "LOMSONG_DATABASE_URL": db_url, "LOMSONG_POOL_MAX_SIZE": "8"}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "lomsong.collector.asgi:app",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
         "--log-level", "warning"],
        cwd=REPO, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        latencies: list[float] = []

        def post(body: bytes) -> float:
            with httpx.Client(timeout=120) as client:
                t0 = time.perf_counter()
                resp = client.post(base + "/api/v1/measurements", content=body, headers=headers)
                resp.raise_for_status()
                return time.perf_counter() - t0

        t0 = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            latencies = list(pool.map(post, bodies))
        elapsed = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(30)
    total = len(bodies) * per_batch
    return {"records": total, "seconds": elapsed, "rate": total / elapsed,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * percentile(latencies, 0.99)}


def run_naive(db_url: str, batches: list[list[dict[str, Any]]]) -> dict[str, float]:
    latencies = []
    t0 = time.perf_counter()
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE TABLE naive (LIKE measurements)")
        conn.execute("ALTER TABLE naive ADD PRIMARY KEY (id)")
        conn.commit()
        for batch in batches:
            t1 = time.perf_counter()
            with conn.transaction():
                for rec in batch:
                    cols = list(rec)
                    conn.execute(
                        f"INSERT INTO naive ({', '.join(cols)}) VALUES "
                        f"({', '.join(['%s'] * len(cols))}) ON CONFLICT (id) DO NOTHING",
                        list(rec.values()),
                    )
            latencies.append(time.perf_counter() - t1)
    elapsed = time.perf_counter() - t0
    total = sum(len(b) for b in batches)
    return {"records": total, "seconds": elapsed, "rate": total / elapsed,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * percentile(latencies, 0.99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--naive-records", type=int, default=20_000)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    dbname = f"lomsong_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    db_url = args.admin_url.rsplit("/", 1)[0] + f"/{dbname}"
    try:
        status = migrate(db_url)
        with psycopg.connect(db_url, autocommit=True) as conn:
            token = create_token(conn, "bench", "probe")
        data = records(args.records)
        bodies = [
            json.dumps({"measurements": [m.model_dump(mode="json")
                                         for m in data[i:i + args.batch]]}).encode()
            for i in range(0, len(data), args.batch)
        ]
        http = run_http(db_url, bodies, args.batch, token, args.concurrency, args.workers)
        naive_data = [m.model_dump(mode="json", exclude={"measured_at"}) | {
            "time": m.measured_at, "probe_time": m.measured_at, "received_at": m.measured_at}
            for m in data[: args.naive_records]]
        naive = run_naive(db_url, [naive_data[i:i + args.batch]
                                   for i in range(0, len(naive_data), args.batch)])
        with psycopg.connect(db_url) as conn:
            stored = conn.execute("SELECT count(*) FROM measurements").fetchone()
    finally:
        with psycopg.connect(args.admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')

    print(f"tier: {status.tier.value}; batch {args.batch}; HTTP concurrency {args.concurrency};"
          f" uvicorn workers {args.workers}; cpus {os.cpu_count()}")
    print(f"{'path':<24}{'records':>10}{'seconds':>10}{'records/s':>12}{'p50 ms':>10}{'p99 ms':>10}")
    for name, r in (("HTTP ingest (COPY)", http), ("naive INSERT per record", naive)):
        print(f"{name:<24}{r['records']:>10.0f}{r['seconds']:>10.2f}{r['rate']:>12.0f}"
              f"{r['p50_ms']:>10.0f}{r['p99_ms']:>10.0f}")
    print(f"speed-up: {http['rate'] / naive['rate']:.1f}x; stored rows: {stored[0] if stored else 0}"
          f" (expected {http['records']:.0f})")


if __name__ == "__main__":
    main()
