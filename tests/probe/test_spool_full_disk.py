"""The spool drains on a full disk: a real tmpfs of fixed size, filled to the last byte.

Needs root (to mount); skipped otherwise. The spool fills the file system until SQLite itself
reports it full, a filler file takes every byte left, and then acknowledging records (deleting
them) must still work, and keep working after the spool is reopened.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lomsong.probe.errors import SpoolError
from lomsong.probe.record import Measurement
from lomsong.probe.spool import RESERVE_BYTES, Spool

SIZE = "12m"


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def _fill(path: Path) -> int:
    """Write `path` until the file system has no byte left; returns the bytes written."""
    written = 0
    with path.open("wb", buffering=0) as out:
        for block in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    written += out.write(b"\0" * block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return written


def test_acknowledged_records_are_deleted_with_zero_free_bytes(
        tiny_fs: Path, make_measurement: Callable[..., Measurement]) -> None:
    path = tiny_fs / "spool.sqlite3"
    spool = Spool(path, max_rows=None)
    assert spool.reserve.path.stat().st_size == RESERVE_BYTES
    with pytest.raises(SpoolError, match="full"):
        while True:
            spool.add_many([make_measurement(raw="r" * 3000) for _ in range(50)])
    _fill(tiny_fs / "filler")
    assert os.statvfs(tiny_fs).f_bavail == 0
    pending = spool.stats().pending
    batch = [str(m.id) for m in spool.batch(500)]
    assert spool.ack(batch) == len(batch)
    spool.close()
    with Spool(path, max_rows=None) as again:  # after a restart it keeps draining
        assert again.stats().pending == pending - len(batch)
        rest = [str(m.id) for m in again.batch(500)]
        assert again.ack(rest) == len(rest)
        assert again.stats().pending == pending - len(batch) - len(rest)
