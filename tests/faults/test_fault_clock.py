"""A probe with a wrong clock (1970, two hours ahead or behind), end to end through HTTP:
every record is stored with a corrected time or flagged `unsynced`, never silently wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from faultkit import PROBE, CollectorProcess, Ledger, ScenarioRow, make_records

from lomsong.collector.timefix import BatchClock, effective_time
from lomsong.probe.clock import decide_clock_state
from lomsong.probe.record import ClockState
from lomsong.probe.spool import Spool
from lomsong.probe.uploader import CollectorClient, upload_pending

BOOT = "c0ffee00-boot"
SKEWS = {
    "clock at 1970": None,
    "clock 2 h ahead": timedelta(hours=2),
    "clock 2 h behind": timedelta(hours=-2),
}


@pytest.mark.db
@pytest.mark.timeout(120)
@pytest.mark.parametrize("same_boot", [True, False], ids=["same-boot", "rebooted-since"])
def test_wrong_probe_clock_is_corrected_or_flagged(
        tmp_path: Path, collector: CollectorProcess, probe_token: str, ledger: Ledger,
        fault_table: list[ScenarioRow], same_boot: bool) -> None:
    collector.start()
    truth: dict[str, datetime] = {}
    monotonic_at_send = 10_000.0
    for name, skew in SKEWS.items():
        real = datetime.now(UTC) - timedelta(minutes=30)
        shown = datetime(1970, 1, 1, 0, 7, tzinfo=UTC) if skew is None else real + skew
        # What the probe's own clock check would say for a 1970 clock; a skewed clock that NTP
        # never flagged claims to be synced, the worst case.
        state = decide_clock_state(now=shown, ntp_synchronized=True)
        records = make_records(PROBE, 5, start=shown, clock=state, boot_id=BOOT,
                               monotonic_s=monotonic_at_send - 1_800.0)
        truth |= {str(m.id): real for m in records}
        sent_clock = (datetime(1970, 1, 1, 0, 37, tzinfo=UTC) if skew is None
                      else datetime.now(UTC) + skew)
        with Spool(tmp_path / f"{name}.sqlite3") as spool, CollectorClient(
                collector.url, probe_token, now=lambda c=sent_clock: c,  # type: ignore[misc]
                boot_id=lambda: BOOT if same_boot else "another-boot",
                monotonic_s=lambda: monotonic_at_send) as client:
            spool.add_many(records)
            report = upload_pending(spool, client)
            assert report.ok and report.rejected == 0, report
    with psycopg.connect(ledger.database_url, autocommit=True) as conn:
        rows = conn.execute("SELECT id::text, time, clock FROM measurements").fetchall()
    assert len(rows) == len(truth)
    silently_wrong = 0
    for record_id, time, clock in rows:
        right = abs(time - truth[record_id]) < timedelta(seconds=60)
        assert right or clock == ClockState.UNSYNCED.value, (record_id, time, clock)
        silently_wrong += not right and clock != ClockState.UNSYNCED.value
        if same_boot:
            assert clock == ClockState.CORRECTED.value and right
    flagged = sum(c == ClockState.UNSYNCED.value for _, _, c in rows)
    fault_table.append(ScenarioRow(
        f"probe clock 1970 / +2 h / -2 h ({'same boot' if same_boot else 'rebooted since'})",
        len(truth), len(rows), len(truth) - len(rows), 0, 0, 0,
        f"{len(rows) - flagged} corrected, {flagged} flagged unsynced, "
        f"{silently_wrong} silently wrong"))


def test_a_batch_sent_by_a_skewed_clock_makes_its_times_implausible() -> None:
    """A clock that claims to be synced but is 2 h behind is caught by the batch's `sent_at`."""
    received = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    (m,) = make_records(PROBE, 1, start=received - timedelta(hours=2, minutes=5),
                        clock=ClockState.SYNCED, boot_id="b", monotonic_s=700.0)
    skewed = BatchClock(boot_id="b", monotonic_s=1_000.0, sent_at=received - timedelta(hours=2))
    assert effective_time(m, skewed, received, future_tolerance_s=300) == (
        received - timedelta(seconds=300), ClockState.CORRECTED)
    other_boot = BatchClock(boot_id="c", monotonic_s=1_000.0, sent_at=skewed.sent_at)
    assert effective_time(m, other_boot, received, future_tolerance_s=300) == (
        m.measured_at, ClockState.UNSYNCED)
    honest = BatchClock(boot_id="b", monotonic_s=1_000.0, sent_at=received - timedelta(seconds=20))
    assert effective_time(m, honest, received, future_tolerance_s=300) == (
        m.measured_at, ClockState.SYNCED)
