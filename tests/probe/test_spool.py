"""The SQLite spool: order, ack/reject, bounds and counters, meta, and surviving SIGKILL."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lomsong.probe.record import Measurement
from lomsong.probe.spool import DROP_FULL_OLDEST, DROP_FULL_REFUSED, Spool, SpoolPolicy

Make = Callable[..., Measurement]


def test_pragmas_and_fifo_order(tmp_path: Path, make_measurement: Make) -> None:
    ms = [make_measurement(download_mbps=float(i)) for i in range(5)]
    with Spool(tmp_path / "s.db") as spool:
        assert spool.add_many(ms) == 5
        assert spool._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert spool._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert [m.id for m in spool.batch(3)] == [m.id for m in ms[:3]]
        assert spool.batch(10) == ms  # round trip through JSON is lossless


def test_ack_deletes_only_given_ids_and_re_adding_is_harmless(tmp_path: Path, make_measurement: Make) -> None:
    a, b, c = (make_measurement() for _ in range(3))
    with Spool(tmp_path / "s.db") as spool:
        spool.add_many([a, b, c])
        assert spool.ack([str(a.id), str(c.id), "not-there"]) == 2
        assert spool.batch(10) == [b]
        assert spool.add(b) is True
        assert spool.stats().pending == 1


def test_reject_moves_to_quarantine(tmp_path: Path, make_measurement: Make) -> None:
    a, b = make_measurement(), make_measurement()
    with Spool(tmp_path / "s.db") as spool:
        spool.add_many([a, b])
        assert spool.reject([str(a.id)], "rsrp_dbm: too low") == 1
        assert spool.batch(10) == [b]
        stats = spool.stats()
        assert (stats.pending, stats.rejected) == (1, 1)
        ((rid, _at, reason),) = spool.rejected()
        assert (rid, reason) == (str(a.id), "rsrp_dbm: too low")


def test_drop_oldest_when_full_counts(tmp_path: Path, make_measurement: Make) -> None:
    ms = [make_measurement() for _ in range(5)]
    with Spool(tmp_path / "s.db", max_rows=3) as spool:
        assert spool.add_many(ms) == 5
        assert [m.id for m in spool.batch(10)] == [m.id for m in ms[2:]]
        assert spool.stats().dropped == {DROP_FULL_OLDEST: 2}
    with Spool(tmp_path / "s.db", max_rows=3) as spool:  # counters persist
        assert spool.stats().dropped == {DROP_FULL_OLDEST: 2}


def test_refuse_new_when_full_counts(tmp_path: Path, make_measurement: Make) -> None:
    ms = [make_measurement() for _ in range(4)]
    with Spool(tmp_path / "s.db", max_rows=2, policy=SpoolPolicy.REFUSE_NEW) as spool:
        assert spool.add_many(ms) == 2
        assert spool.add(make_measurement()) is False
        assert spool.batch(10) == ms[:2]
        assert spool.stats().dropped == {DROP_FULL_REFUSED: 3}


def test_byte_bound(tmp_path: Path, make_measurement: Make) -> None:
    ms = [make_measurement(raw="x" * 1000) for _ in range(4)]
    size = len(ms[0].model_dump_json().encode())
    with Spool(tmp_path / "s.db", max_rows=None, max_bytes=2 * size + 10) as spool:
        spool.add_many(ms)
        stats = spool.stats()
        assert stats.pending == 2 and stats.pending_bytes <= 2 * size + 10
        assert spool.batch(10) == ms[2:]


def test_upload_meta_and_stats(tmp_path: Path, make_measurement: Make) -> None:
    with Spool(tmp_path / "s.db") as spool:
        spool.add(make_measurement())
        spool.record_upload(success=False, error="HTTP 503")
        stats = spool.stats()
        assert stats.last_upload_error == "HTTP 503" and stats.last_upload_success_at is None
        assert stats.oldest_pending_at is not None and stats.file_bytes > 0
        spool.record_upload(success=True)
        stats = spool.stats()
        assert stats.last_upload_error is None
        assert stats.last_upload_success_at == stats.last_upload_attempt_at


_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    from lomsong.probe.record import Kind, Measurement
    from lomsong.probe.spool import Spool
    spool = Spool(Path(sys.argv[1]))
    n = 0
    while True:
        batch = [Measurement(probe_id="pi", measured_at=datetime.now(UTC), kind=Kind.THROUGHPUT_UP,
                             tool="iperf3", upload_mbps=1.0, raw="y" * 4000) for _ in range(20)]
        spool.add_many(batch)
        n += len(batch)
        print(n, flush=True)
    """
)


def test_survives_sigkill_mid_write(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    committed = 0
    deadline = time.monotonic() + 60
    while committed < 200 and time.monotonic() < deadline:
        line = writer.stdout.readline()
        if not line:
            break
        committed = int(line)
    writer.send_signal(signal.SIGKILL)  # while it is in the middle of further writes
    writer.wait(timeout=10)
    writer.stdout.close()
    assert committed >= 200, "the writer did not get going"
    with Spool(path) as spool:
        assert spool.integrity_check() == "ok"
        pending = spool.stats().pending
        assert pending >= committed  # every reported commit survived
        assert pending % 20 == 0  # transactions are whole: no half batch
        assert len(spool.batch(pending)) == pending


def test_unopenable_path_is_spool_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    from lomsong.probe.errors import SpoolError

    with pytest.raises(SpoolError, match="cannot open the spool"):
        Spool(blocker / "sub" / "s.db")
    assert sqlite3.sqlite_version
