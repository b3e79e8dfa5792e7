"""The highest rate at which this machine's collector serves the phone page's test payloads.

Starts a collector (one uvicorn worker, as `lomsong serve` runs by default) on a fresh database,
issues an enrolment link, then for a bounded time runs `--streams` parallel curl clients that
download `GET /do/api/down` payloads (and, separately, upload to `POST /do/api/up`) over loopback,
and reports the aggregate rate. curl is C, so the client side costs little; on a machine whose
cores are shared the figure is a floor, not a ceiling. Set `phone_max_serve_mbps` from it.

    python benchmarks/phone_payload.py [--streams 4] [--seconds 10]
                                       [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lomsong.collector.phone.enrol import sign_token  # noqa: E402
from lomsong.collector.storage.enrolments import create_enrolment  # noqa: E402
from lomsong.collector.storage.migrate import migrate  # noqa: E402
from lomsong.collector.storage.sites import set_ward  # noqa: E402

REQUEST_BYTES = 64 * 1024 * 1024
CURL_TIMEOUT_S = 120
WARD = "Benchmark ward"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, deadline_s: float = 60) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("collector did not become ready")


@contextmanager
def collector(admin_url: str, listen: list[str], env_extra: dict[str, str] | None = None,
              prefix: list[str] | None = None) -> Iterator[tuple[str, str, str]]:
    """A collector on a scratch database: yields (database URL, secret key, enrolment token).

    `listen` are uvicorn's address options (``--port N`` or ``--uds PATH``); `prefix` runs the
    server under another command (e.g. ``ip netns exec``).
    """
    dbname = f"lomsong_phonebench_{uuid.uuid4().hex[:10]}"
    db_url = urlsplit(admin_url)._replace(path=f"/{dbname}").geturl()
    secret = secrets.token_hex(32)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    server: subprocess.Popen[bytes] | None = None
    try:
        migrate(db_url)
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
        with psycopg.connect(db_url, autocommit=True) as conn:
            set_ward(conn, WARD, None)
            made = create_enrolment(conn, ward=WARD, site_id=None, label="benchmark",
                                    expires_at=expires)
        token = sign_token(secret, made.id, int(expires.timestamp()))
        env = {**os.environ, "LOMSONG_DATABASE_URL": db_url, "LOMSONG_MIGRATE_ON_START": "0",
               "LOMSONG_SECRET_KEY": secret, "LOMSONG_PHONE_RATE_PER_ADDRESS_PER_S": "1000",
               "LOMSONG_PHONE_RATE_PER_ADDRESS_BURST": "100000", **(env_extra or {})}
        server = subprocess.Popen(
            [*(prefix or []), sys.executable, "-m", "uvicorn", "--factory",
             "lomsong.collector.asgi:app", *listen, "--log-level", "warning", "--no-access-log"],
            cwd=REPO, env=env)
        yield db_url, secret, token
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                          .format(sql.Identifier(dbname)))


def _curl_loop(args: list[str], seconds: float) -> subprocess.Popen[str]:
    """A shell loop running curl until `seconds` have passed; prints its bytes per request."""
    ns = int(seconds * 1e9)
    script = (f"end=$(( $(date +%s%N) + {ns} )); while [ $(date +%s%N) -lt $end ]; do "
              'curl -s -o /dev/null -w "%{size_download} %{size_upload}\\n" "$@" || exit 1; '
              "done")
    return subprocess.Popen(["bash", "-c", script, "curl", *args], stdout=subprocess.PIPE,
                            text=True)


def measure(base: str, token: str, streams: int, seconds: float, direction: str,
            body: Path) -> float:
    """Aggregate payload rate in Mbit/s of `streams` curl loops for about `seconds`."""
    if direction == "down":
        args = [f"{base}/do/api/down?t={token}&bytes={REQUEST_BYTES}"]
    else:
        args = ["--data-binary", f"@{body}", "-H", "Content-Type: application/octet-stream",
                f"{base}/do/api/up?t={token}"]
    start = time.monotonic()
    procs = [_curl_loop(args, seconds) for _ in range(streams)]
    total = 0
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + CURL_TIMEOUT_S)
        if proc.returncode != 0:
            raise RuntimeError(f"curl failed ({direction}): exit {proc.returncode}")
        total += sum(int(line.split()[0 if direction == "down" else 1])
                     for line in out.splitlines())
    return total * 8 / (time.monotonic() - start) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--admin-url", default=os.environ.get(
        "LOMSONG_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with collector(args.admin_url, ["--port", str(port)]) as (_, _, token), \
            tempfile.TemporaryDirectory() as tmp:
        wait_ready(base)
        body = Path(tmp) / "up.bin"
        body.write_bytes(os.urandom(REQUEST_BYTES // 4))
        down = measure(base, token, args.streams, args.seconds, "down", body)
        up = measure(base, token, args.streams, args.seconds, "up", body)
    print(f"phone payloads, {args.streams} curl streams over loopback, {args.seconds:.0f} s each,"
          f" one uvicorn worker, {os.cpu_count()} CPU cores shared with the clients:")
    print(f"  download served: {down:,.0f} Mbit/s")
    print(f"  upload received: {up:,.0f} Mbit/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
