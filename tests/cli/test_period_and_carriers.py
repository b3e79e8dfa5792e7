"""One period meaning (`analysis.period`) and one carrier normaliser (`probe.carriers`)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from lomsong.analysis.period import Period, PeriodError
from lomsong.probe.carriers import CARRIER_CODES, UnknownCarrier, carrier_code
from lomsong.probe.config import PathSettings
from lomsong.probe.record import Carrier


def test_local_dates_with_the_end_day_included() -> None:
    period = Period.parse("2026-11-01", "2026-11-30")
    assert period.start_utc == datetime(2026, 10, 31, 17, tzinfo=UTC)
    assert period.end_utc == datetime(2026, 11, 30, 17, tzinfo=UTC)
    assert (period.first, period.last) == (date(2026, 11, 1), date(2026, 11, 30))
    assert Period.parse("2026-11-01", "2026-11-30") == Period.days(date(2026, 11, 1),
                                                                   date(2026, 11, 30))


def test_exact_times_with_their_offset() -> None:
    period = Period.parse("2026-11-01T08:00+07:00", "2026-11-01T02:30Z")
    assert period.start_utc == datetime(2026, 11, 1, 1, tzinfo=UTC)
    assert period.end_utc == datetime(2026, 11, 1, 2, 30, tzinfo=UTC)


def test_defaults_are_the_last_30_local_days() -> None:
    period = Period.parse(None, None, today=date(2026, 11, 23))
    assert (period.first, period.last) == (date(2026, 10, 25), date(2026, 11, 23))
    assert Period.parse(None, "2026-11-23").first == date(2026, 10, 25)


@pytest.mark.parametrize(("first", "last", "message"), [
    ("2026-11-10", "2026-11-01", r"--to \(2026-11-01\) trước --from .*\(--to is before --from\)"),
    ("2026-11-01T10:00+07:00", "2026-11-01T09:00+07:00", r"\(--to is before --from\)"),
    ("01/11/2026", None, r"--from: '01/11/2026' không phải .*is neither a date YYYY-MM-DD"),
    ("2026-11-01T08:00", None, r"--from: .* thiếu múi giờ.*has no UTC offset"),
    (None, "0001-01-01", r"--to: năm 1 ngoài khoảng .*year 1 outside 2000-2999"),
    ("9999-12-31", None, r"--from: năm 9999 .*year 9999 outside"),
    ("x" * 500, None, r"--from: 'x{40}\.\.\.' không phải"),
])
def test_bad_periods_name_the_flag_in_both_languages(first: str | None, last: str | None,
                                                     message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        Period.parse(first, last)


def test_a_limit_on_the_length_is_optional() -> None:
    assert Period.parse("2020-01-01", "2026-01-01").first == date(2020, 1, 1)
    with pytest.raises(PeriodError, match="period longer than 366 days"):
        Period.parse("2020-01-01", "2026-01-01", max_days=366)


def test_carrier_codes_are_the_record_enum() -> None:
    assert set(CARRIER_CODES) == {c.value for c in Carrier}


@pytest.mark.parametrize(("typed", "code"), [
    ("Viettel", "viettel"), ("VIETTEL", "viettel"), (" viettel ", "viettel"),
    ("VinaPhone", "vnpt"), ("Vinaphone", "vnpt"), ("VNPT", "vnpt"), ("VNPT-VinaPhone", "vnpt"),
    ("Mobifone", "mobifone"), ("MobiFone", "mobifone"), ("Vietnamobile", "vietnamobile"),
    ("FPT Telecom", "fpt"), ("Gmobile", "gmobile"), ("iTel", "itel"),
])
def test_usual_carrier_names_in_any_case(typed: str, code: str) -> None:
    assert carrier_code(typed) == code


def test_unknown_carriers_are_refused_with_the_choices() -> None:
    with pytest.raises(UnknownCarrier, match=r"nhà mạng không hợp lệ 'Orange'.*\(unknown carrier"):
        carrier_code("Orange")
    with pytest.raises(UnknownCarrier, match="choose one of: viettel, all"):
        carrier_code("vnpt", ("viettel", "all"))


def test_probe_config_accepts_usual_carrier_names() -> None:
    path = PathSettings(name="sim1", carrier="VinaPhone", iperf3="127.0.0.1:5201")
    assert path.carrier is Carrier.VNPT


def test_the_period_docstring_examples_are_true() -> None:
    import doctest

    import lomsong.analysis.period

    result = doctest.testmod(lomsong.analysis.period, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
