"""The one meaning of a survey period, shared by `lomsong analyze`, `report` and the dashboard.

A period is given by two values, ``from`` and ``to``:

- a date ``YYYY-MM-DD`` is a whole local day (Asia/Ho_Chi_Minh), the ``to`` day included;
- a date and time with its UTC offset (``2026-11-01T08:00+07:00``, ``2026-11-01T01:00Z``) is that
  exact instant; the period then ends just before the ``to`` instant.

A missing ``to`` is today; a missing ``from`` is 30 days before ``to``. A reversed period, a date
and time without an offset, or a value that is neither is refused with a `PeriodError` whose
bilingual message names the flag. Only the standard library is imported (the CLI stays light).

Example
-------
>>> p = Period.parse("2026-11-01", "2026-11-30")
>>> p.start_utc.isoformat(), p.end_utc.isoformat()
('2026-10-31T17:00:00+00:00', '2026-11-30T17:00:00+00:00')
>>> p.first, p.last
(datetime.date(2026, 11, 1), datetime.date(2026, 11, 30))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["DEFAULT_DAYS", "LOCAL", "Period", "PeriodError"]

DEFAULT_DAYS = 30
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Far enough from datetime's limits that a day or an offset more never overflows.
_FIRST_YEAR, _LAST_YEAR = 2000, 2999
_MAX_CHARS = 40


class PeriodError(ValueError):
    """A period value cannot be used; the message is Vietnamese first, English in brackets."""


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), LOCAL).astimezone(UTC)


def _bound(value: str, flag: str, *, end: bool) -> datetime:
    """The UTC instant `value` starts (or, for `end`, stops) the period at."""
    text = value.strip()
    if len(text) > _MAX_CHARS:
        text = text[:_MAX_CHARS] + "..."
    try:
        if _DATE.fullmatch(text):
            day = date.fromisoformat(text)
            exact = None
        else:
            exact = datetime.fromisoformat(text)
            day = exact.date()
    except ValueError:
        raise PeriodError(
            f"{flag}: '{text}' không phải ngày YYYY-MM-DD hay ngày giờ ISO có múi giờ "
            f"({flag}: '{text}' is neither a date YYYY-MM-DD nor an ISO date-time with offset)"
        ) from None
    if not _FIRST_YEAR <= day.year <= _LAST_YEAR:
        raise PeriodError(f"{flag}: năm {day.year} ngoài khoảng {_FIRST_YEAR}-{_LAST_YEAR} "
                          f"({flag}: year {day.year} outside {_FIRST_YEAR}-{_LAST_YEAR})")
    if exact is None:
        return _local_midnight(day + timedelta(days=1) if end else day)
    if exact.tzinfo is None:
        raise PeriodError(
            f"{flag}: '{text}' thiếu múi giờ, ví dụ +07:00 "
            f"({flag}: '{text}' has no UTC offset; add one, e.g. +07:00)")
    return exact.astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """From `start_utc` (included) to `end_utc` (excluded), both timezone-aware UTC."""

    start_utc: datetime
    end_utc: datetime

    @classmethod
    def days(cls, first: date, last: date) -> Period:
        """Whole local days, `first` to `last` inclusive."""
        return cls(_local_midnight(first), _local_midnight(last + timedelta(days=1)))

    @classmethod
    def parse(
        cls,
        first: str | None,
        last: str | None,
        *,
        today: date | None = None,
        max_days: int | None = None,
        flags: tuple[str, str] = ("--from", "--to"),
    ) -> Period:
        """The period `first`..`last` (see the module docstring); `flags` name them in errors.

        >>> Period.parse("2026-11-02", "2026-11-01")
        Traceback (most recent call last):
        ...
        lomsong.analysis.period.PeriodError: --to (2026-11-01) trước --from (2026-11-02) \
(--to is before --from)
        """
        from_flag, to_flag = flags
        today = today or datetime.now(LOCAL).date()
        end = _bound(last, to_flag, end=True) if last else _local_midnight(today + timedelta(1))
        if first:
            start = _bound(first, from_flag, end=False)
        else:
            last_day = (end - timedelta(microseconds=1)).astimezone(LOCAL).date()
            start = _local_midnight(last_day - timedelta(days=DEFAULT_DAYS - 1))
        if end <= start:
            raise PeriodError(f"{to_flag} ({last or today}) trước {from_flag} ({first}) "
                              f"({to_flag} is before {from_flag})")
        if max_days is not None and end - start > timedelta(days=max_days):
            raise PeriodError(f"khoảng thời gian dài hơn {max_days} ngày; chọn khoảng ngắn hơn "
                              f"(period longer than {max_days} days; choose a shorter one)")
        return cls(start, end)

    @property
    def first(self) -> date:
        """The local day the period starts on."""
        return self.start_utc.astimezone(LOCAL).date()

    @property
    def last(self) -> date:
        """The last local day the period covers (included)."""
        return (self.end_utc - timedelta(microseconds=1)).astimezone(LOCAL).date()
