"""The probe process is SIGKILLed 100 times at random moments while measuring, spooling, uploading.

Each life of the probe is a forked child running the real loop (iperf3 runner fed recorded real
output, `Spool.add_many`, `upload_pending` to a real collector subprocess). After every kill the
spool must open and pass ``PRAGMA integrity_check``, and every result the child had committed to
the spool must be either still pending or stored at the collector; at the end, after a final
drain, the collector holds each result exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
from faultkit import PROBE, CollectorProcess, Ledger, ScenarioRow

from lomsong.probe.record import ClockState
from lomsong.probe.runners.base import CommandResult, TestContext
from lomsong.probe.runners.iperf3 import Iperf3Runner
from lomsong.probe.spool import Spool
from lomsong.probe.uploader import Backoff, CollectorClient, upload_pending

pytestmark = [pytest.mark.db, pytest.mark.timeout(180)]

KILLS = 100
RECORDED = "iperf3/masquerade_iperf3.17.1_tcp_reverse_download_with_server_output.json"


class Recorded:
    """A `CommandRunner` answering with one recorded real iperf3 run."""

    def __init__(self, stdout: str) -> None:
        self.stdout = stdout

    def __call__(self, argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        return CommandResult(0, self.stdout, "", 10.0)


def _probe_life(spool_path: Path, journal: Path, url: str, token: str, stdout: str,
                seed: int) -> None:
    """One life of the probe, until it is killed: measure, spool, note, upload, repeat."""
    rng = random.Random(seed)
    runner = Iperf3Runner(host="10.77.0.1", reverse=True, command_runner=Recorded(stdout))
    ctx = TestContext(probe_id=PROBE, clock_state=lambda: ClockState.SYNCED,
                      boot_id=lambda: "fault-boot", monotonic_s=time.monotonic)
    fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    with Spool(spool_path, max_rows=None) as spool, CollectorClient(url, token) as client:
        while True:
            results = [m for _ in range(rng.randint(1, 8)) for m in runner.start_test(ctx)]
            spool.add_many(results)
            # Committed to the spool: from now on this result must never be lost.
            os.write(fd, "".join(f"{m.id}\n" for m in results).encode())
            if rng.random() < 0.7:
                upload_pending(spool, client, batch_size=rng.randint(1, 50), max_retries=1,
                               backoff=Backoff(base_s=0.01, cap_s=0.02))


def _journal(path: Path) -> set[uuid.UUID]:
    if not path.exists():
        return set()
    return {uuid.UUID(line) for line in path.read_text().splitlines() if len(line) == 36}


def test_probe_sigkilled_100_times(tmp_path: Path, realdata: Path, collector: CollectorProcess,
                                   probe_token: str, ledger: Ledger,
                                   fault_table: list[ScenarioRow]) -> None:
    stdout = (realdata / RECORDED).read_text()
    spool_path, journal = tmp_path / "spool.sqlite3", tmp_path / "committed.txt"
    collector.start()
    rng = random.Random(20261123)
    seen_pending: set[uuid.UUID] = set()
    started = time.monotonic()
    for life in range(KILLS):
        pid = os.fork()
        if pid == 0:  # the child never returns into pytest
            try:
                _probe_life(spool_path, journal, collector.url, probe_token, stdout, life)
            finally:
                os._exit(1)
        time.sleep(rng.uniform(0.0, 0.25))  # the random moment of the power cut
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, \
            f"life {life}: the probe died on its own (status {status})"
        with Spool(spool_path, max_rows=None) as spool:
            assert spool.integrity_check() == "ok", f"life {life}"
            pending = {m.id for m in spool.batch(1_000_000)}
        seen_pending |= pending
        missing = _journal(journal) - pending - set(ledger.ids())
        assert not missing, f"life {life}: committed results lost: {sorted(missing)[:5]}"
    lives_s = time.monotonic() - started
    with Spool(spool_path, max_rows=None) as spool, \
            CollectorClient(collector.url, probe_token) as client:
        final = upload_pending(spool, client, batch_size=500)
        assert final.ok and final.rejected == 0 and spool.stats().pending == 0
    committed = _journal(journal)
    made = committed | seen_pending | set(ledger.ids())
    row = ledger.row(f"probe SIGKILLed {KILLS}x (measure/spool/upload)", list(made),
                     note=f"{len(committed)} noted as committed; {len(made) - len(committed)} "
                          f"spooled but killed before the note; {lives_s:.0f} s of lives")
    fault_table.append(row)
    row.assert_exactly_once()
