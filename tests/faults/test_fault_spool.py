"""A full spool (its cap, a full disk, a page limit): refused or dropped per policy, counted, intact."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultkit import PROBE, CollectorProcess, Ledger, ScenarioRow, make_records

from lomsong.probe.errors import SpoolError
from lomsong.probe.spool import DROP_FULL_OLDEST, DROP_FULL_REFUSED, Spool, SpoolPolicy
from lomsong.probe.uploader import CollectorClient, upload_pending

CAP = 50
MADE = 80


@pytest.mark.db
@pytest.mark.timeout(120)
@pytest.mark.parametrize(("policy", "reason"), [(SpoolPolicy.DROP_OLDEST, DROP_FULL_OLDEST),
                                                (SpoolPolicy.REFUSE_NEW, DROP_FULL_REFUSED)])
def test_spool_cap_drops_per_policy_and_counts(
        tmp_path: Path, collector: CollectorProcess, probe_token: str, ledger: Ledger,
        fault_table: list[ScenarioRow], policy: SpoolPolicy, reason: str) -> None:
    records = make_records(PROBE, MADE)
    with Spool(tmp_path / "spool.sqlite3", max_rows=CAP, policy=policy) as spool:
        taken = [spool.add(m) for m in records]  # one result at a time, as a probe measures
        stats = spool.stats()
        assert stats.pending == CAP and stats.dropped == {reason: MADE - CAP}
        assert spool.integrity_check() == "ok"
        collector.start()
        with CollectorClient(collector.url, probe_token) as client:
            assert upload_pending(spool, client).acked == CAP
    kept = records[MADE - CAP:] if policy is SpoolPolicy.DROP_OLDEST else records[:CAP]
    assert taken == ([True] * MADE if policy is SpoolPolicy.DROP_OLDEST
                     else [True] * CAP + [False] * (MADE - CAP))
    assert set(ledger.ids()) == {m.id for m in kept}
    row = ledger.row(f"spool cap {CAP} rows, policy {policy.value}", [m.id for m in records],
                     dropped_by_policy=MADE - CAP, note=f"counted as {reason}")
    fault_table.append(row)
    row.assert_exactly_once()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a real ENOSPC (needs mount rights; skipped without them)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, text=True, timeout=10)


def _fill_until_full(spool: Spool) -> tuple[list[str], SpoolError]:
    taken: list[str] = []
    for m in make_records(PROBE, 10_000, raw_chars=2_000):
        try:
            spool.add(m)
        except SpoolError as exc:
            return taken, exc
        taken.append(str(m.id))
    raise AssertionError("the spool never filled up")


def test_disk_full_refuses_with_a_clear_error_and_keeps_what_it_had(
        tiny_disk: Path, fault_table: list[ScenarioRow]) -> None:
    """On a full disk SQLite cannot even log a delete: the spool stays readable and intact, and
    works again once space is freed (here: another program's file removed)."""
    path, ballast = tiny_disk / "spool.sqlite3", tiny_disk / "other-program.log"
    ballast.write_bytes(b"\0" * 64 * 1024)
    with Spool(path, max_rows=None) as spool:
        taken, error = _fill_until_full(spool)
        assert str(path) in str(error) and "full" in str(error)
        assert spool.integrity_check() == "ok"
        assert [str(m.id) for m in spool.batch(len(taken) + 10)] == taken  # can still be sent
        ballast.unlink()
        assert spool.ack(taken[: len(taken) // 2]) == len(taken) // 2
        assert spool.add(make_records(PROBE, 1)[0])
    with Spool(path, max_rows=None) as spool:
        assert spool.integrity_check() == "ok"
        assert spool.stats().pending == len(taken) - len(taken) // 2 + 1
    fault_table.append(ScenarioRow("spool on a full disk (256 KiB tmpfs)", len(taken), len(taken),
                                   0, 0, 0, 0, "spool-level: next add raised SpoolError naming "
                                   "the file; nothing lost or corrupted"))


def test_page_limit_behaves_like_a_full_disk(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    with Spool(path, max_rows=None) as spool:
        spool._db.execute("PRAGMA max_page_count = 64")  # the ENOSPC path without a mount
        taken, error = _fill_until_full(spool)
        assert "full" in str(error) and taken
        assert spool.integrity_check() == "ok"
        assert len(spool.batch(10_000)) == len(taken)


def test_add_many_reads_the_size_totals_once_per_transaction(tmp_path: Path) -> None:
    """Summing sizes walks every payload; doing it per record made bulk adds quadratic."""
    statements: list[str] = []
    with Spool(tmp_path / "spool.sqlite3", max_rows=1_000, max_bytes=10**9) as spool:
        spool._db.set_trace_callback(statements.append)
        assert spool.add_many(make_records(PROBE, 300)) == 300
        spool._db.set_trace_callback(None)
        sums = [s for s in statements if "sum(size_bytes)" in s]
        assert len(sums) == 1
        assert spool.stats().pending == 300
        assert spool.add_many(make_records(PROBE, 800)) == 800
        assert spool.stats().pending == 1_000
        assert spool.stats().dropped == {DROP_FULL_OLDEST: 100}
    assert sqlite3.connect(tmp_path / "spool.sqlite3").execute(
        "PRAGMA integrity_check").fetchone() == ("ok",)
