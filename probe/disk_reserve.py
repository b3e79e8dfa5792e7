"""A pre-allocated file that can be given back to a full file system when it matters.

The spool keeps one so it can always delete acknowledged records (see `lomsong.probe.spool`).
`keep` grows the file towards its size with ``posix_fallocate`` (real blocks, not a sparse file),
as far as the disk allows now; `release` deletes it.

Example
-------
>>> import tempfile, pathlib
>>> reserve = DiskReserve(pathlib.Path(tempfile.mkdtemp()) / "r", 1 << 20)
>>> reserve.keep(); reserve.path.stat().st_size
1048576
>>> reserve.release(), reserve.release()
(True, False)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

__all__ = ["DiskReserve"]

_STEP: Final = 64 * 1024  # the smallest part of a reserve worth keeping


class DiskReserve:
    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size

    def keep(self) -> None:
        """Grow the file towards `size`, halving the goal while the disk has no room for it."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError:
            return
        try:
            goal = self.size
            while goal >= _STEP and os.fstat(fd).st_size < goal:
                try:
                    os.posix_fallocate(fd, 0, goal)
                except OSError:
                    goal //= 2
            os.fsync(fd)
        except OSError:
            pass  # no room now: the next call tries again
        finally:
            os.close(fd)

    def release(self) -> bool:
        """Give the file's blocks back; False when there was no reserve to give."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True
