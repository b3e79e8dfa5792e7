"""How far the probe's clock can be trusted, plus the boot id and monotonic clock.

A Raspberry Pi has no real-time clock: until NTP answers it may believe it is 1970 (or the time
it was last shut down). Every measurement therefore carries a `ClockState`, the kernel's boot id
and the monotonic clock, so the collector can later correct the times of an unsynced boot.

Decision (`decide_clock_state`, pure):

- the wall clock says a year before 2024 -> `unsynced` (impossible for this project);
- the kernel flags the clock unsynchronised (adjtimex ``TIME_ERROR``, i.e. ``STA_UNSYNC``, which is
  what ``timedatectl`` reports as ``NTPSynchronized=no``) -> `unsynced`;
- the kernel says synchronised -> `synced`;
- otherwise -> `unknown`.

Example
-------
>>> from datetime import UTC, datetime
>>> decide_clock_state(now=datetime(2026, 11, 2, tzinfo=UTC), ntp_synchronized=True)
<ClockState.SYNCED: 'synced'>
"""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from lomsong.probe.record import ClockState

__all__ = [
    "BOOT_ID_PATH",
    "boot_id",
    "current_clock_state",
    "decide_clock_state",
    "kernel_ntp_synchronized",
    "monotonic_s",
    "timedatectl_ntp_synchronized",
]

BOOT_ID_PATH: Final = Path("/proc/sys/kernel/random/boot_id")
_EARLIEST_PLAUSIBLE_YEAR: Final = 2024
_TIME_ERROR: Final = 5  # adjtimex(2) return value when STA_UNSYNC is set
_TIMEX_BUFFER_BYTES: Final = 512  # larger than struct timex on every Linux ABI


def decide_clock_state(*, now: datetime, ntp_synchronized: bool | None) -> ClockState:
    """Classify the wall clock from the time it shows and the kernel's synchronisation flag.

    `ntp_synchronized` is None when the flag could not be read.

    >>> from datetime import UTC, datetime
    >>> decide_clock_state(now=datetime(1970, 1, 1, tzinfo=UTC), ntp_synchronized=True)
    <ClockState.UNSYNCED: 'unsynced'>
    """
    if now.year < _EARLIEST_PLAUSIBLE_YEAR:
        return ClockState.UNSYNCED
    if ntp_synchronized is None:
        return ClockState.UNKNOWN
    return ClockState.SYNCED if ntp_synchronized else ClockState.UNSYNCED


def timedatectl_ntp_synchronized(timeout_s: float = 5.0) -> bool | None:
    """Ask systemd (``timedatectl show -p NTPSynchronized --value``); None if it cannot say."""
    try:
        done = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    answer = done.stdout.strip()
    if done.returncode != 0 or answer not in ("yes", "no"):
        return None
    return answer == "yes"


def kernel_ntp_synchronized() -> bool | None:
    """Read the kernel's flag with a read-only ``adjtimex`` call (Linux); None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    libc = ctypes.CDLL(libc_name, use_errno=True)
    timex = ctypes.create_string_buffer(_TIMEX_BUFFER_BYTES)  # zeroed: modes = 0 reads only
    state = int(libc.adjtimex(timex))
    if state < 0:
        return None
    return state != _TIME_ERROR


def current_clock_state() -> ClockState:
    """The state of this machine's clock now (timedatectl first, then adjtimex)."""
    synced = timedatectl_ntp_synchronized()
    if synced is None:
        synced = kernel_ntp_synchronized()
    return decide_clock_state(now=datetime.now(UTC), ntp_synchronized=synced)


def boot_id(path: Path = BOOT_ID_PATH) -> str | None:
    """The kernel's random id of this boot, or None where there is none (not Linux)."""
    try:
        value = path.read_text(encoding="ascii").strip()
    except OSError:
        return None
    return value or None


def monotonic_s() -> float:
    """Seconds on CLOCK_MONOTONIC (time since boot on Linux, unaffected by clock steps)."""
    return time.monotonic()
