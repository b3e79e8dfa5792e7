"""`lomsong demo`: the main job end to end on the embedded default.

1. starts the database (embedded PostgreSQL unless LOMSONG_DATABASE_URL is set) and migrates it;
2. starts the collector on 127.0.0.1 and registers a probe and a reader;
3. starts a local ``iperf3 -s`` and runs ``lomsong probe run --once``: real iperf3 measurements
   through the probe's spool and uploader (a self-test with no place, so the survey leaves it out);
4. loads a SYNTHETIC walk survey (`lomsong.synthetic`) in each of two real 2025 wards of Hà Nội,
   Phường Định Công (00316) and Phường Đống Đa (00235) (`lomsong.demo_city`: official codes,
   names and outlines; synthetic service points, probes and measurements) through the API, each
   with its ward's probe tokens;
5. reads the probe's real measurement back through the query API;
6. runs the analysis the dashboard shows for each ward and writes its survey GeoPackage, offline
   map and PDF reports into ``outputs/<ward code>/``;
7. prints the dashboard URL (a city admin sees both wards side by side at /city) with a fresh demo
   admin password, and serves until Ctrl-C (or exits with ``--once``).
"""

from __future__ import annotations

import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn

from lomsong import synthetic
from lomsong.collector.app import create_app
from lomsong.collector.cli import DEMO_DATABASE, database, demo_url
from lomsong.collector.dashboard.security import hash_password
from lomsong.collector.settings import Settings
from lomsong.collector.storage.migrate import migrate
from lomsong.collector.storage.tokens import Role, create_token, revoke_token
from lomsong.collector.storage.users import create_user, get_user, set_password_hash
from lomsong.demo_city import DEMO_WARDS, DemoWard, store_demo_wards, synthetic_probes, ward_place
from lomsong.maps.i18n import format_number
from lomsong.outputs import write_outputs
from lomsong.probe.record import Measurement

__all__ = ["DemoOptions", "run_demo"]

Say = Callable[[str], None]
DEMO_PROBE = "demo-pi"
HOME_WARD = DEMO_WARDS[0]  # the ward of the demo's own probe and reader
UPLOAD_BATCH = 2_000


@dataclass(frozen=True)
class DemoOptions:
    data_dir: Path
    port: int = 8080
    days: int = 14
    once: bool = False
    iperf3_seconds: float = 3.0
    database_url: str | None = None  # else LOMSONG_DATABASE_URL, else the embedded database


def _free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {deadline_s} s")


@contextmanager
def _collector(settings: Settings, port: int) -> Iterator[str]:
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                            log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="collector", daemon=True)
    thread.start()
    try:
        _wait_port(port, 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def _iperf3_server() -> Iterator[int]:
    binary = shutil.which("iperf3")
    if binary is None:
        raise RuntimeError("iperf3 is not installed (apt-get install iperf3, or ./dev demo)")
    port = _free_port(5201)
    proc = subprocess.Popen([binary, "-s", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, 10)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _officer(url: str) -> tuple[str, str]:
    """A fresh demo account for the dashboard (a new random password every run): a city admin,
    who sees every ward and the city's page."""
    username = "demo-admin"
    password = secrets.token_urlsafe(12)
    with psycopg.connect(url, autocommit=True) as conn:
        if get_user(conn, username) is None:
            create_user(conn, username, hash_password(password), "city_admin")
        else:
            set_password_hash(conn, username, hash_password(password))
    return username, password


def _tokens(url: str) -> dict[str, str]:
    """Fresh tokens for the demo's probes and reader, each in its ward (old demo tokens are
    revoked)."""
    out: dict[str, str] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        store_demo_wards(conn)  # the tokens' wards
        wanted: list[tuple[str, Role, DemoWard]] = [(DEMO_PROBE, "probe", HOME_WARD),
                                                   ("demo-officer", "reader", HOME_WARD)]
        wanted += [(p, "probe", w) for w in DEMO_WARDS for p in synthetic_probes(w)]
        for name, role, ward in wanted:
            revoke_token(conn, name, role)  # one a demo made before wards were records
            revoke_token(conn, name, role, ward.scope)
            out[name] = create_token(conn, name, role, ward.scope)
    return out


def _probe_config(path: Path, collector_url: str, token: str, iperf3_port: int,
                  seconds: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""# lomsong demo probe: a self-test of this machine, not survey data
[probe]
id = "{DEMO_PROBE}"

[collector]
url = "{collector_url}"
token = "{token}"

[spool]
path = "{path.parent / 'spool.sqlite3'}"

# No [site] and no [gps]: the loopback test has no place, so no cell, map, scorecard, report or
# planner counts it; the fleet page shows it as the probe's own check.
# The demo measures the loopback "line": real iperf3 runs, capped at 100 MB each way.
[[path]]
name = "loopback"
interface = "lo"
carrier = "unknown"
access = "fixed"
iperf3 = "127.0.0.1:{iperf3_port}"
directions = ["down", "up"]
duration_s = {max(1, round(seconds))}
bytes_cap = 100000000
congestion = "system"   # loopback: whatever this machine has (a Pi's paths use bbr)
""",
        encoding="utf-8",
    )
    return path


def _run_probe(config: Path, say: Say) -> None:
    cmd = [sys.executable, "-m", "lomsong.cli", "probe", "run", "--once", "--config", str(config)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    for line in (done.stdout + done.stderr).strip().splitlines():
        say(f"    probe| {line}")
    if done.returncode != 0:
        raise RuntimeError(f"lomsong probe run --once failed with exit code {done.returncode}")


def _load_synthetic(base_url: str, tokens: dict[str, str], days: int, say: Say) -> int:
    # Walk times are set to local hours on their day: end a day early so none lies in the future.
    start = (datetime.now(UTC) - timedelta(days=days + 1)).replace(minute=0, second=0, microsecond=0)
    by_probe: dict[str, list[Measurement]] = {p: [] for w in DEMO_WARDS for p in synthetic_probes(w)}
    for ward in DEMO_WARDS:
        for m in synthetic.survey(start, days=days, place=ward_place(ward)):
            by_probe[m.probe_id].append(m)
    stored = 0
    with httpx.Client(base_url=base_url, timeout=httpx.Timeout(60.0, connect=5.0)) as client:
        for probe_id, records in by_probe.items():
            headers = {"Authorization": f"Bearer {tokens[probe_id]}"}
            for i in range(0, len(records), UPLOAD_BATCH):
                body = {"measurements": [m.model_dump(mode="json")
                                         for m in records[i:i + UPLOAD_BATCH]]}
                resp = client.post("/api/v1/measurements", json=body, headers=headers)
                resp.raise_for_status()
                stored += int(resp.json()["stored"])
    names = ", ".join(f"{w.name} ({w.code})" for w in DEMO_WARDS)
    say(f"  {stored} bản ghi tổng hợp đã lưu ở {names} (synthetic records stored; "
        f"{sum(len(r) for r in by_probe.values())} sent, resends are harmless)")
    return stored


def _read_back(base_url: str, reader_token: str, say: Say) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {reader_token}"}
    resp = httpx.get(f"{base_url}/api/v1/measurements", headers=headers, timeout=30,
                     params={"probe_id": DEMO_PROBE, "limit": 50})
    resp.raise_for_status()
    items: list[dict[str, Any]] = resp.json()["items"]
    for item in items[-2:]:
        rate = item.get("download_mbps") or item.get("upload_mbps")
        shown = format_number(rate, "vi", decimals=0) if rate is not None else "–"
        size = format_number(item["bytes_used"] or 0, "vi", decimals=0)
        say(f"  API: {item['kind']} {shown} Mbit/s, {size} bytes,"
            f" {item['tool']} {item.get('tool_version') or ''} at {item['measured_at']}")
    if not items:
        raise RuntimeError("the probe's measurement is not readable through the API")
    return items


@contextmanager
def _demo_database(settings: Settings) -> Iterator[str]:
    """The configured database, or a fresh `lomsong_demo` database in the embedded cluster."""
    with database(settings) as url:
        if settings.database_url is not None:
            yield url
            return
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DEMO_DATABASE} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {DEMO_DATABASE}")
        yield demo_url(url)


def _reuse_hint(options: DemoOptions, settings: Settings) -> str:
    """How the other commands reach the database this demo filled."""
    if settings.database_url is not None:
        where = ""  # LOMSONG_DATABASE_URL: the other commands use it too
    elif options.data_dir == settings.data_dir / "demo":
        where = " --demo"
    else:
        where = f" --demo {shlex.quote(str(options.data_dir))}"
    ward = f" --ward-code {HOME_WARD.code}"
    return (f"CSDL của bản demo (the demo's database): lomsong analyze{where}{ward} --out "
            f"survey.gpkg; lomsong report{where}{ward} --carrier viettel --out viettel.pdf")


def run_demo(options: DemoOptions, say: Say = print) -> int:
    settings = Settings()
    if options.database_url is not None:
        settings = settings.model_copy(update={"database_url": options.database_url})
    with _demo_database(settings.model_copy(update={"data_dir": options.data_dir})) as url:
        status = migrate(url)
        say(f"1. Cơ sở dữ liệu sẵn sàng (database ready): tier {status.tier.value}")
        tokens = _tokens(url)
        username, password = _officer(url)
        port = _free_port(options.port)
        with _collector(settings.model_copy(update={"database_url": url}), port) as base_url:
            say(f"2. Máy chủ thu thập chạy (collector running) at {base_url}")
            with _iperf3_server() as iperf3_port:
                say(f"3. iperf3 server on 127.0.0.1:{iperf3_port}; running the probe path")
                config = _probe_config(options.data_dir / "probe" / "probe.toml", base_url,
                                       tokens[DEMO_PROBE], iperf3_port, options.iperf3_seconds)
                _run_probe(config, say)
            say("4. Nạp khảo sát TỔNG HỢP ở hai phường thật (loading the SYNTHETIC survey of two"
                " real wards)")
            _load_synthetic(base_url, tokens, options.days, say)
            say("5. Đọc lại phép đo thật của đầu đo qua API (reading the real measurement back)")
            _read_back(base_url, tokens["demo-officer"], say)
            say("6. Phân tích, bản đồ, báo cáo (analysis, map, report)")
            for ward in DEMO_WARDS:
                say(f"  {ward.name} ({ward.code}):")
                for path in write_outputs(url, options.data_dir / "outputs" / ward.code, say=say,
                                          scope=ward.scope):
                    say(f"  {path}")
            say(f"\nBảng điều khiển (dashboard): {base_url}/   so sánh các phường (the wards"
                f" compared): {base_url}/city")
            say(f"  đăng nhập (sign in): {username} / {password}")
            say(f"API docs: {base_url}/docs   reader token: {tokens['demo-officer']}")
            say(_reuse_hint(options, settings))
            if options.once:
                return 0
            say("Nhấn Ctrl-C (hoặc gửi SIGTERM) để dừng (press Ctrl-C or send SIGTERM to stop)")
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                say("\nđã dừng (stopped)")
    return 0

