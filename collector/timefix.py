"""Decide the time a record is stored under, correcting probes whose clock was not synced.

A Raspberry Pi has no real-time clock: after a power cut it may stamp results in 1970 until NTP
answers. Each record carries the probe's clock state, boot id and monotonic clock reading; each
batch carries the probe's monotonic clock at sending. When boot ids match, the collector knows how
long before its own receipt the test ran, and so its true time (to within the upload latency).

Rules, in order:
0. a batch whose `sent_at` differs from the collector's receipt by more than the tolerance comes
   from a probe whose clock is wrong now, whatever it claims: none of its times is plausible;
1. a plausible time (after 2010-01-01, not after receipt + tolerance) from a clock not known to be
   unsynced is kept as it is;
2. otherwise, when the record and batch share a boot id and both have monotonic readings, the
   time is corrected and the clock state becomes `corrected`;
   A correction that would land before 2010 (a monotonic gap of decades, or a reading like 1e308)
   is not a correction: the rule does not apply;
3. otherwise a record that says its clock was `unsynced`, or came in a skewed batch, is kept,
   flagged `unsynced`, so analysis can leave it out of time-of-day statistics, provided its time
   lies between 1970-01-01 (a Pi that lost its clock) and a year after receipt (a clock set
   hours or months ahead); a time like 9999-12-31 is not a wrong clock but a wrong record. An
   impossible time within those bounds (before 2010 or after receipt) is stored under the
   receipt, the latest it can have been, since under its own time the production tier's
   retention policy would delete it (a 1970 chunk is older than the 5 years kept); `probe_time`
   keeps what the probe said;
4. otherwise (a time more than a year ahead or before 1970, or a clock claiming to be right but
   implausible) the record is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lomsong.probe.record import ClockState, Measurement

__all__ = ["BatchClock", "TimeRejected", "effective_time"]

EARLIEST = datetime(2010, 1, 1, tzinfo=UTC)
# An unsynced Raspberry Pi counts from the Unix epoch; nothing is stored from before it.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
UNSYNCED_AHEAD = timedelta(days=366)


@dataclass(frozen=True)
class BatchClock:
    boot_id: str | None
    monotonic_s: float | None
    sent_at: datetime | None = None


class TimeRejected(ValueError):
    """The record's time cannot be trusted or corrected."""


def effective_time(
    m: Measurement, batch: BatchClock, received_at: datetime, *, future_tolerance_s: float
) -> tuple[datetime, ClockState]:
    latest = received_at + timedelta(seconds=future_tolerance_s)
    tolerance = timedelta(seconds=future_tolerance_s)
    skewed = batch.sent_at is not None and abs(batch.sent_at - received_at) > tolerance
    in_range = EARLIEST <= m.measured_at <= latest
    plausible = in_range and not skewed
    if plausible and m.clock is not ClockState.UNSYNCED:
        return m.measured_at, m.clock
    if (
        m.boot_id is not None
        and m.boot_id == batch.boot_id
        and m.monotonic_s is not None
        and batch.monotonic_s is not None
        and 0 <= batch.monotonic_s - m.monotonic_s <= (received_at - EARLIEST).total_seconds()
    ):
        age = timedelta(seconds=batch.monotonic_s - m.monotonic_s)
        return received_at - age, ClockState.CORRECTED
    if (m.clock is ClockState.UNSYNCED or skewed) and (
            EPOCH <= m.measured_at <= received_at + UNSYNCED_AHEAD):
        return (m.measured_at if in_range else received_at), ClockState.UNSYNCED
    if m.measured_at > latest:
        raise TimeRejected(
            f"measured_at {m.measured_at.isoformat()} is in the future (collector time "
            f"{received_at.isoformat()}); send clock='unsynced' with boot_id and monotonic_s"
        )
    if m.measured_at < EPOCH:
        raise TimeRejected(f"measured_at {m.measured_at.isoformat()} is before {EPOCH.date()}")
    raise TimeRejected(
        f"measured_at {m.measured_at.isoformat()} is before {EARLIEST.date()}; "
        "send clock='unsynced' with boot_id and monotonic_s"
    )
