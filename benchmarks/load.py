"""Load test: many probes posting at once while officers read, on loopback against a real collector.

Starts a collector (uvicorn subprocess) on a fresh database of a real PostgreSQL, registers N
probes (each its own token), then for a bounded time every probe posts small batches as a probe
does (resending the same batch after 429/503, as `probe.uploader` does), while a reader pages
through ``GET /api/v1/measurements`` and a signed-in officer loads the dashboard's fleet page.
Reports requests/s, records/s, p50/p99 latency, errors by status, and checks that the database
holds exactly the records the collector acknowledged (none lost, none duplicated, none extra).

    python benchmarks/load.py [--probes 300] [--seconds 30] [--batch 20]
                              [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lomsong.collector.dashboard.security import hash_password  # noqa: E402
from lomsong.collector.storage.migrate import migrate  # noqa: E402
from lomsong.collector.storage.tokens import create_token  # noqa: E402
from lomsong.collector.storage.users import create_user  # noqa: E402
from lomsong.probe.record import Access, Carrier, Kind, Measurement, PositionSource  # noqa: E402

URL = "/api/v1/measurements"
OFFICER, PASSWORD = "canbo.load", "mat-khau-tai-thu-nghiem-1"


@dataclass
class Stats:
    latencies_s: dict[str, list[float]] = field(default_factory=lambda: {
        "post": [], "read": [], "dashboard": []})
    statuses: Counter[tuple[str, int | str]] = field(default_factory=Counter)
    acked: set[str] = field(default_factory=set)
    records_acked: int = 0


def _template(probe_id: str) -> str:
    """One realistic record as JSON, with placeholders for its id and time."""
    m = Measurement(probe_id=probe_id, measured_at=datetime(2026, 11, 1, tzinfo=UTC),
                    kind=Kind.THROUGHPUT_DOWN, tool="iperf3", carrier=Carrier.VIETTEL,
                    access=Access.LTE, download_mbps=23.5, bytes_used=60_000_000, duration_s=10.0,
                    rsrp_dbm=-98.0, sinr_db=6.0, lat=21.0285, lon=105.8542,
                    position_source=PositionSource.SITE, server="10.0.0.1:5201")
    text = m.model_dump_json()
    return (text.replace(str(m.id), "{id}").replace("2026-11-01T00:00:00Z", "{t}")
            .replace("{", "{{").replace("}", "}}").replace("{{id}}", "{id}")
            .replace("{{t}}", "{t}"))


async def probe_loop(client: httpx.AsyncClient, name: str, token: str, batch: int,
                     deadline: float, stats: Stats, rng: random.Random) -> None:
    template = _template(name)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    await asyncio.sleep(rng.uniform(0, 1.0))  # a fleet never fires at once
    while time.monotonic() < deadline:
        now = datetime.now(UTC) - timedelta(minutes=1)
        ids = [str(uuid.uuid4()) for _ in range(batch)]
        records = ",".join(template.format(id=i, t=(now - timedelta(seconds=k)).isoformat())
                           for k, i in enumerate(ids))
        body = f'{{"measurements":[{records}]}}'.encode()
        while True:  # resend the same batch until the collector takes it (as the probe does)
            started = time.perf_counter()
            try:
                resp = await client.post(URL, content=body, headers=headers)
            except httpx.TransportError as exc:
                stats.statuses[("post", type(exc).__name__)] += 1
                await asyncio.sleep(1.0)
                continue
            stats.latencies_s["post"].append(time.perf_counter() - started)
            stats.statuses[("post", resp.status_code)] += 1
            if resp.status_code == 200:
                stats.acked.update(ids)
                stats.records_acked += resp.json()["received"]
                break
            if resp.status_code in (429, 503):
                await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))
                continue
            raise RuntimeError(f"{name}: unexpected {resp.status_code}: {resp.text[:300]}")
        await asyncio.sleep(rng.uniform(0.5, 1.5))


async def reader_loop(client: httpx.AsyncClient, token: str, deadline: float,
                      stats: Stats) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    params: dict[str, str | int] = {"limit": 500}
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            resp = await client.get(URL, params=params, headers=headers)
        except httpx.TransportError as exc:
            stats.statuses[("read", type(exc).__name__)] += 1
            continue
        stats.latencies_s["read"].append(time.perf_counter() - started)
        stats.statuses[("read", resp.status_code)] += 1
        if resp.status_code == 200:
            cursor = resp.json()["next_cursor"]
            params = {"limit": 500} if cursor is None else {"limit": 500, "cursor": cursor}
        else:
            await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))


async def dashboard_loop(base: str, deadline: float, stats: Stats) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as browser:
        form = (await browser.get("/login")).text
        match = re.search(r'name="csrf_token" value="([^"]+)"', form)
        if match is None:
            raise RuntimeError("no CSRF token in the sign-in form")
        signed_in = await browser.post("/login", data={
            "username": OFFICER, "password": PASSWORD, "csrf_token": match.group(1)})
        if signed_in.status_code != 303:
            raise RuntimeError(f"officer sign-in failed: {signed_in.status_code}")
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                resp = await browser.get("/fleet")
            except httpx.TransportError as exc:
                stats.statuses[("dashboard", type(exc).__name__)] += 1
                continue
            stats.latencies_s["dashboard"].append(time.perf_counter() - started)
            stats.statuses[("dashboard", resp.status_code)] += 1
            await asyncio.sleep(0.5)


async def run(base: str, tokens: dict[str, str], reader: str, batch: int, seconds: float,
              stats: Stats) -> float:
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=len(tokens) + 10, max_keepalive_connections=len(tokens))
    rng = random.Random(1)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        started = time.monotonic()
        await asyncio.gather(
            *(probe_loop(client, name, token, batch, deadline, stats, random.Random(rng.random()))
              for name, token in tokens.items()),
            reader_loop(client, reader, deadline, stats),
            dashboard_loop(base, deadline, stats))
        return time.monotonic() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probes", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--batch", type=int, default=20, help="records per post")
    parser.add_argument("--admin-url", default=os.environ.get(
        "LOMSONG_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()

    dbname = f"lomsong_load_{uuid.uuid4().hex[:10]}"
    db_url = urlsplit(args.admin_url)._replace(path=f"/{dbname}").geturl()
    with psycopg.connect(args.admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    server: subprocess.Popen[bytes] | None = None
    try:
        migrate(db_url)
        with psycopg.connect(db_url, autocommit=True) as conn:
            tokens = {f"load-{i:03d}": create_token(conn, f"load-{i:03d}", "probe")
                      for i in range(args.probes)}
            reader = create_token(conn, "load-reader", "reader")
            create_user(conn, OFFICER, hash_password(PASSWORD), "officer")
        port = _free_port()
        env = {**os.environ, "LOMSONG_DATABASE_URL": db_url, "LOMSONG_MIGRATE_ON_START": "0",
               "LOMSONG_POOL_MAX_SIZE": "10",
               # every probe shares 127.0.0.1 here, as probes behind one NAT would
               "LOMSONG_RATE_PER_IP_PER_S": "0"}
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "lomsong.collector.asgi:app",
             "--port", str(port), "--log-level", "warning", "--no-access-log"],
            cwd=REPO, env=env)
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base)
        stats = Stats()
        elapsed = asyncio.run(run(base, tokens, reader, args.batch, args.seconds, stats))
        with psycopg.connect(db_url, autocommit=True) as conn:
            stored = {str(r[0]) for r in conn.execute("SELECT id FROM measurements")}
            (rows,) = conn.execute("SELECT count(*) FROM measurements").fetchone() or (0,)
        _report(args, stats, elapsed, stored, rows)
        ok = stored == stats.acked and rows == len(stored)
        return 0 if ok else 1
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        with psycopg.connect(args.admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                          .format(sql.Identifier(dbname)))


def _report(args: argparse.Namespace, stats: Stats, elapsed: float, stored: set[str],
            rows: int) -> None:
    posts = sum(n for (kind, _), n in stats.statuses.items() if kind == "post")
    print(f"{args.probes} probes x {args.seconds:.0f} s, batches of {args.batch}, "
          f"elapsed {elapsed:.1f} s")
    print(f"posts: {posts} ({posts / elapsed:.0f}/s), records acknowledged "
          f"{len(stats.acked)} ({len(stats.acked) / elapsed:.0f}/s)")
    for kind, values in stats.latencies_s.items():
        if values:
            print(f"{kind:9s}: n={len(values)}  p50 {percentile(values, 0.5) * 1000:.0f} ms  "
                  f"p99 {percentile(values, 0.99) * 1000:.0f} ms  "
                  f"mean {statistics.fmean(values) * 1000:.0f} ms")
    print("statuses:", dict(sorted(stats.statuses.items(), key=str)))
    print(f"database: {rows} rows, {len(stored)} distinct ids; acknowledged {len(stats.acked)}; "
          f"lost {len(stats.acked - stored)}, unacknowledged but stored {len(stored - stats.acked)}, "
          f"duplicated {rows - len(stored)}")


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(base: str, deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("collector did not become ready")


if __name__ == "__main__":
    sys.exit(main())
