"""Clock state decision (pure) and the boot id / monotonic readers."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lomsong.probe.clock import boot_id, decide_clock_state, kernel_ntp_synchronized, monotonic_s
from lomsong.probe.record import ClockState

NOW = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "synced", "state"),
    [
        (NOW, True, ClockState.SYNCED),
        (NOW, False, ClockState.UNSYNCED),
        (NOW, None, ClockState.UNKNOWN),
        (datetime(1970, 1, 1, tzinfo=UTC), True, ClockState.UNSYNCED),
        (datetime(2023, 12, 31, 23, 59, tzinfo=UTC), None, ClockState.UNSYNCED),
        (datetime(2024, 1, 1, tzinfo=UTC), None, ClockState.UNKNOWN),
    ],
)
def test_decide(now: datetime, synced: bool | None, state: ClockState) -> None:
    assert decide_clock_state(now=now, ntp_synchronized=synced) is state


def test_boot_id(tmp_path: Path) -> None:
    f = tmp_path / "boot_id"
    f.write_text("eef2de86-2056-408e-ba4b-676f7a238731\n")
    assert boot_id(f) == "eef2de86-2056-408e-ba4b-676f7a238731"
    assert boot_id(tmp_path / "missing") is None
    f.write_text("")
    assert boot_id(f) is None


def test_kernel_flag_and_monotonic_readable_here() -> None:
    if sys.platform.startswith("linux"):
        assert isinstance(kernel_ntp_synchronized(), bool)  # adjtimex answers without privileges
    first = monotonic_s()
    assert monotonic_s() >= first > 0
