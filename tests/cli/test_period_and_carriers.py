"""One period meaning (`analysis.period`) and one carrier normaliser (`probe.carriers`)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from lomsong.analysis.period import PERIOD_MESSAGES, Period, PeriodError
from lomsong.maps.i18n import translator
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


@pytest.mark.parametrize(("first", "last", "kind", "vi", "en"), [
    ("2026-11-10", "2026-11-01", "reversed", r"^--to \(2026-11-01\) trước --from \(2026-11-10\); ",
     r"^--to \(2026-11-01\) is before --from \(2026-11-10\); swap the two dates$"),
    ("2026-11-01T10:00+07:00", "2026-11-01T09:00+07:00", "reversed", "trước --from",
     "is before --from"),
    ("01/11/2026", None, "not_a_date", r"^--from: '01/11/2026' không phải là ngày; .*YYYY-MM-DD",
     r"^--from: '01/11/2026' is not a date; write it as YYYY-MM-DD"),
    ("2026-11-01T08:00", None, "no_offset", r"^--from: '2026-11-01T08:00' .*thiếu múi giờ",
     "has a time but no time zone"),
    (None, "0001-01-01", "year", r"^--to: năm 1 nằm ngoài khoảng 2000-2999$",
     r"^--to: the year 1 is outside 2000-2999$"),
    ("9999-12-31", None, "year", "^--from: năm 9999 ", "^--from: the year 9999 is outside"),
    ("x" * 500, None, "not_a_date", r"^--from: 'x{40}\.\.\.' không phải", r"'x{40}\.\.\.' is not"),
])
def test_bad_periods_name_the_flag_in_each_language(first: str | None, last: str | None,
                                                    kind: str, vi: str, en: str) -> None:
    with pytest.raises(PeriodError) as caught:
        Period.parse(first, last)
    error = caught.value
    assert error.kind == kind
    assert re.search(vi, error.message(translator("vi"))), error.message(translator("vi"))
    assert re.search(en, error.message(translator("en")))
    assert re.search(en, str(error))          # str() is the English message id, filled in
    vi_text, en_text = error.message(translator("vi")), error.message(translator("en"))
    assert vi_text != en_text and en_text not in vi_text       # one language per message
    assert "isoformat" not in vi_text + en_text                # no raw Python text
    renamed = error.message(translator("vi"), {"--from": "Từ ngày", "--to": "Đến ngày"})
    assert "--" not in renamed and ("Từ ngày" in renamed or "Đến ngày" in renamed)


def test_a_limit_on_the_length_is_optional() -> None:
    assert Period.parse("2020-01-01", "2026-01-01").first == date(2020, 1, 1)
    with pytest.raises(PeriodError, match="period is longer than 366 days") as caught:
        Period.parse("2020-01-01", "2026-01-01", max_days=366)
    assert caught.value.message(translator("vi")) == ("Khoảng thời gian dài hơn 366 ngày; "
                                                      "hãy chọn khoảng ngắn hơn")


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


def test_every_period_message_is_in_both_catalogs() -> None:
    for lang in ("vi", "en"):
        _ = translator(lang)
        for kind, message in PERIOD_MESSAGES.items():
            assert _(message) != "", (lang, kind)
            assert lang == "en" or _(message) != message, (lang, kind)
