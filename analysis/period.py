"""The one meaning of a survey period, shared by `lomsong analyze`, `report` and the dashboard.

A period is given by two values, ``from`` and ``to``:

- a date ``YYYY-MM-DD`` is a whole local day (Asia/Ho_Chi_Minh), the ``to`` day included;
- a date and time with its UTC offset (``2026-11-01T08:00+07:00``, ``2026-11-01T01:00Z``) is that
  exact instant; the period then ends just before the ``to`` instant.

A missing ``to`` is today; a missing ``from`` is 30 days before ``to``. A reversed period, a date
and time without an offset, or a value that is neither is refused with a `PeriodError`: its
`kind` says which mistake, `field` which value, and `PeriodError.message` words it in one
language through a catalog's gettext (the message ids are `PERIOD_MESSAGES`; the dashboard shows
it in the page's language, the CLI in Vietnamese then English). Only the standard library is
imported (the CLI stays light).

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["DEFAULT_DAYS", "LOCAL", "PERIOD_MESSAGES", "Period", "PeriodError"]

DEFAULT_DAYS = 30
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Far enough from datetime's limits that a day or an offset more never overflows.
_FIRST_YEAR, _LAST_YEAR = 2000, 2999
_MAX_CHARS = 40



def _n(message: str) -> str:
    """Mark a message id for the catalog (translated where it is shown)."""
    return message


# The message of each kind of mistake (English message ids of the ``maps/locale`` catalogs).
PERIOD_MESSAGES: dict[str, str] = {
    "not_a_date": _n("{field}: '{value}' is not a date; write it as YYYY-MM-DD, e.g. 2026-11-30"),
    "no_offset": _n("{field}: '{value}' has a time but no time zone; add one, e.g. +07:00"),
    "year": _n("{field}: the year {year} is outside {first_year}-{last_year}"),
    "reversed": _n("{field} ({value}) is before {other_field} ({other}); swap the two dates"),
    "too_long": _n("The period is longer than {days} days; choose a shorter one"),
}


class PeriodError(ValueError):
    """A period value cannot be used: `kind` (a key of `PERIOD_MESSAGES`), `field` (the flag or
    form field), `value` as given (cut at 40 characters) and what the message needs besides.

    ``str()`` is the English message; `message` words it through a catalog.
    """

    def __init__(self, kind: str, field: str = "", value: str = "", *, other_field: str = "",
                 other: str = "", year: int = 0, days: int = 0) -> None:
        self.kind, self.field, self.value = kind, field, value
        self.other_field, self.other, self.year, self.days = other_field, other, year, days
        super().__init__(self.message(str))

    def message(self, gettext: Callable[[str], str],
                fields: Mapping[str, str] | None = None) -> str:
        """The message through `gettext`; `fields` renames flags (``{"from": "Từ ngày"}``)."""
        names = fields or {}
        return gettext(PERIOD_MESSAGES[self.kind]).format(
            field=names.get(self.field, self.field), value=self.value,
            other_field=names.get(self.other_field, self.other_field), other=self.other,
            year=self.year, first_year=_FIRST_YEAR, last_year=_LAST_YEAR, days=self.days)


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), LOCAL).astimezone(UTC)


def _cut(value: str) -> str:
    """`value` as shown in a message: trimmed, at most `_MAX_CHARS` characters and "..."."""
    text = value.strip()
    return text[:_MAX_CHARS] + "..." if len(text) > _MAX_CHARS else text


def _bound(value: str, flag: str, *, end: bool) -> datetime:
    """The UTC instant `value` starts (or, for `end`, stops) the period at."""
    text = _cut(value)
    try:
        if _DATE.fullmatch(text):
            day = date.fromisoformat(text)
            exact = None
        else:
            exact = datetime.fromisoformat(text)
            day = exact.date()
    except ValueError:
        raise PeriodError("not_a_date", flag, text) from None
    if not _FIRST_YEAR <= day.year <= _LAST_YEAR:
        raise PeriodError("year", flag, text, year=day.year)
    if exact is None:
        return _local_midnight(day + timedelta(days=1) if end else day)
    if exact.tzinfo is None:
        raise PeriodError("no_offset", flag, text)
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
        lomsong.analysis.period.PeriodError: --to (2026-11-01) is before --from (2026-11-02); \
swap the two dates
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
            raise PeriodError("reversed", to_flag, _cut(last or str(today)),
                              other_field=from_flag, other=_cut(first or ""))
        if max_days is not None and end - start > timedelta(days=max_days):
            raise PeriodError("too_long", days=max_days)
        return cls(start, end)

    @property
    def first(self) -> date:
        """The local day the period starts on."""
        return self.start_utc.astimezone(LOCAL).date()

    @property
    def last(self) -> date:
        """The last local day the period covers (included)."""
        return (self.end_utc - timedelta(microseconds=1)).astimezone(LOCAL).date()
