"""The link flaps (down/up) during an upload over a shaped 20 Mbit/s link between two network
namespaces: collector in the server namespace on 10.78.0.1, probe uploading from the client one.

The namespaces are this test's own (`lsf_cli`, `lsf_srv`, built like ../shared/tools/shaped-link
but under other names, so a shaped link someone else is using is left alone); always removed.
The collector reaches PostgreSQL through its Unix socket, which namespaces do not separate.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from faultkit import PROBE, CollectorProcess, Ledger, ScenarioRow, make_records

from lomsong.probe.spool import Spool

pytestmark = [pytest.mark.netns, pytest.mark.db, pytest.mark.timeout(180)]

CLI, SRV, DEV = "lsf_cli", "lsf_srv", "lsf_v1"
SERVER_IP, RATE_MBIT = "10.78.0.1", 20
SOCKET_DIR = Path("/var/run/postgresql")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=True)


def _teardown() -> None:
    for ns in (CLI, SRV):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, text=True, timeout=10)


@pytest.fixture
def shaped_link() -> Iterator[None]:
    _teardown()
    try:
        _ip("netns", "add", CLI)
        _ip("netns", "add", SRV)
        _ip("-n", CLI, "link", "set", "lo", "up")
        _ip("-n", SRV, "link", "set", "lo", "up")
        _ip("link", "add", DEV, "netns", CLI, "type", "veth", "peer", "name", "lsf_v0",
            "netns", SRV)
        _ip("-n", CLI, "addr", "add", "10.78.0.2/24", "dev", DEV)
        _ip("-n", SRV, "addr", "add", f"{SERVER_IP}/24", "dev", "lsf_v0")
        _ip("-n", CLI, "link", "set", DEV, "up")
        _ip("-n", SRV, "link", "set", "lsf_v0", "up")
        for ns, dev in ((CLI, DEV), (SRV, "lsf_v0")):
            subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root",
                            "tbf", "rate", f"{RATE_MBIT}mbit", "burst", "25000", "latency",
                            "50ms"], capture_output=True, text=True, timeout=10, check=True)
        yield
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot build network namespaces here: {exc.stderr.strip()}")
    finally:
        _teardown()


def test_link_flaps_during_upload(shaped_link: None, migrated_url: str, probe_token: str,
                                  ledger: Ledger, tmp_path: Path,
                                  fault_table: list[ScenarioRow]) -> None:
    if not SOCKET_DIR.is_dir():
        pytest.skip(f"no PostgreSQL Unix socket directory at {SOCKET_DIR}")
    parts = urlsplit(migrated_url)
    socket_url = f"postgresql://{parts.username}@/{parts.path.lstrip('/')}?host={SOCKET_DIR}"
    collector = CollectorProcess(socket_url, tmp_path / "collector.log", host=SERVER_IP,
                                 port=8080, netns=SRV)
    records = make_records(PROBE, 3_000, raw_chars=1_500)  # ~6.5 MB: ~3 s at 20 Mbit/s
    spool_path = tmp_path / "spool.sqlite3"
    with Spool(spool_path, max_rows=None) as spool:
        spool.add_many(records)
    collector.start()
    rng = random.Random(7)
    flaps = 0
    try:
        uploader = subprocess.Popen(
            ["ip", "netns", "exec", CLI, sys.executable, str(Path(__file__).with_name(
                "flap_uploader.py")), str(spool_path), collector.url, probe_token],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while uploader.poll() is None and flaps < 8:
            time.sleep(rng.uniform(0.2, 0.6))  # link up for a while, then the flap
            _ip("-n", CLI, "link", "set", DEV, "down")
            flaps += 1
            time.sleep(rng.uniform(0.3, 1.5))
            _ip("-n", CLI, "link", "set", DEV, "up")
        out, err = uploader.communicate(timeout=150)
    finally:
        collector.stop()
    assert uploader.returncode == 0, err[-2000:]
    report = json.loads(out.strip().splitlines()[-1])
    assert report["pending"] == 0 and report["rejected"] == 0
    assert flaps >= 2, "the upload finished before the link flapped: the scenario did not happen"
    row = ledger.row(f"link flaps during upload ({RATE_MBIT} Mbit/s netns)",
                     [m.id for m in records],
                     note=f"{flaps} flaps, {report['retries']} retries, "
                          f"{report['duplicates']} resent ids answered as duplicates")
    fault_table.append(row)
    row.assert_exactly_once()
    assert probe_token not in collector.log_path.read_text(errors="replace")
