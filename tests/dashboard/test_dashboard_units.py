"""Pure pieces of the dashboard: passwords, CSRF, throttle, period, map CSP, uploads."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from lomsong.analysis.period import Period, PeriodError
from lomsong.collector.dashboard.pages_map import frame_policy
from lomsong.collector.dashboard.security import (
    csrf_token,
    csrf_valid,
    derive_key,
    hash_password,
    verify_password,
)
from lomsong.collector.dashboard.site_upload import UploadError, point_from_form, points_from_file
from lomsong.collector.dashboard.survey import parse_period
from lomsong.collector.dashboard.throttle import LoginThrottle


def test_password_hash_is_argon2id_and_verifies() -> None:
    stored = hash_password("mật-khẩu-đủ-dài")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "mật-khẩu-đủ-dài")
    assert not verify_password(stored, "mật-khẩu-sai")
    assert not verify_password("not-a-hash", "x")
    with pytest.raises(ValueError, match="password"):
        hash_password("")


def test_csrf_token_is_bound_to_the_nonce_and_key() -> None:
    key = derive_key("s" * 40, "csrf")
    assert key != derive_key("s" * 40, "session")
    token = csrf_token(key, "nonce-1")
    assert csrf_valid(key, "nonce-1", token)
    assert not csrf_valid(key, "nonce-2", token)
    assert not csrf_valid(derive_key("t" * 40, "csrf"), "nonce-1", token)
    assert not csrf_valid(key, None, token) and not csrf_valid(key, "nonce-1", None)


def test_throttle_locks_per_user_and_per_ip_then_frees() -> None:
    now = [0.0]
    throttle = LoginThrottle(max_failures=5, lockout_s=60, window_s=900, clock=lambda: now[0])
    for _ in range(4):
        throttle.failed("an", "10.0.0.1")
    assert throttle.locked_for_s("an", "10.0.0.1") == 0
    throttle.failed("an", "10.0.0.1")
    assert throttle.locked_for_s("an", "10.0.0.1") == 60
    assert throttle.locked_for_s("binh", "10.0.0.9") == 0
    now[0] = 61.0
    assert throttle.locked_for_s("an", "10.0.0.1") == 0
    for i in range(5):
        throttle.failed(f"user{i}", "10.9.9.9")
    assert throttle.locked_for_s("someone", "10.9.9.9") > 0  # the IP is locked for any name


def test_failures_from_rotating_addresses_never_lock_the_user_out() -> None:
    now = [0.0]
    throttle = LoginThrottle(max_failures=5, lockout_s=60, window_s=900, clock=lambda: now[0])
    for i in range(200):
        throttle.failed("an.admin", f"10.{i // 250}.{i % 250}.1")
    assert throttle.locked_for_s("an.admin", "192.168.1.20") == 0


def test_throttle_forgets_failures_outside_the_window_and_after_success() -> None:
    now = [0.0]
    throttle = LoginThrottle(max_failures=2, lockout_s=60, window_s=100, clock=lambda: now[0])
    throttle.failed("an", "1.1.1.1")
    now[0] = 200.0
    throttle.failed("an", "2.2.2.2")
    assert throttle.locked_for_s("an", "3.3.3.3") == 0
    throttle.succeeded("an", "2.2.2.2")
    throttle.failed("an", "4.4.4.4")
    assert throttle.locked_for_s("an", "5.5.5.5") == 0


def test_period_defaults_to_the_last_30_local_days() -> None:
    period = Period.parse(None, None, today=date(2026, 11, 23))
    assert (period.first, period.last) == (date(2026, 10, 25), date(2026, 11, 23))
    # Local midnight in Hanoi (UTC+7) is 17:00 UTC the day before.
    assert period.start_utc == datetime(2026, 10, 24, 17, tzinfo=UTC)
    assert period.end_utc == datetime(2026, 11, 23, 17, tzinfo=UTC)
    with pytest.raises(PeriodError, match=r"to \(2026-11-01\) is before from \(2026-11-10\)"):
        parse_period("2026-11-10", "2026-11-01")
    with pytest.raises(PeriodError, match="period is longer than 366 days"):
        parse_period("2024-01-01", "2026-01-01")
    with pytest.raises(PeriodError, match="from: '2026-13-01' is not a date"):
        parse_period("2026-13-01", None)


def test_frame_policy_trusts_scripts_by_nonce_never_by_content() -> None:
    policy = frame_policy("n0nce-value_0123456789")
    assert "script-src 'self' 'nonce-n0nce-value_0123456789';" in policy
    assert "sha256-" not in policy and "unsafe-inline' ;" not in policy
    assert "frame-ancestors 'self'" in policy and "unsafe-eval" not in policy


def test_upload_with_a_bad_row_names_row_and_field() -> None:
    good = b"site_id,name,type,address,lat,lon\nhcc-01,A,school,x,21.03,105.85\n"
    assert [p.site_id for p in points_from_file("diem.csv", good)] == ["hcc-01"]
    bad = good + b"nvh-02,B,school,y,21.03,abc\n"
    with pytest.raises(UploadError, match=r"diem\.csv row 3, lon: 'abc' is not a number"):
        points_from_file("diem.csv", bad)
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [105.85, 21.03]},
               "properties": {"name": "", "type": "school"}}
    collection = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
    with pytest.raises(UploadError, match=r"diem\.geojson feature 1, name: missing"):
        points_from_file("diem.geojson", collection)
    with pytest.raises(UploadError, match=r"expected a \.geojson or \.csv"):
        points_from_file("diem.xlsx", good)
    with pytest.raises(UploadError, match="not UTF-8"):
        points_from_file("diem.csv", b"name\n\xff\xfe")
    long_name = good.replace(b",A,", b"," + b"A" * 201 + b",")
    with pytest.raises(UploadError, match="row 2, name: longer than 200"):
        points_from_file("diem.csv", long_name)


def test_form_point_checks_each_field() -> None:
    form = {"site_id": "th-04", "name": "Trường", "site_type": "school", "address": "",
            "lat": "21,03", "lon": "105.85"}
    assert point_from_form(form).lat == pytest.approx(21.03)
    with pytest.raises(UploadError, match="site_type: 'market'"):
        point_from_form({**form, "site_type": "market"})
    with pytest.raises(UploadError, match=r"lat: 91\.0 out of range"):
        point_from_form({**form, "lat": "91"})
    with pytest.raises(UploadError, match="name: missing"):
        point_from_form({**form, "name": "  "})


@pytest.mark.parametrize(("first", "last", "message"), [
    ("9999-12-01", "9999-12-31", "to: the year 9999 is outside"),
    ("9999-12-01", None, "from: the year 9999 is outside"),
    ("0001-01-01", None, "from: the year 1 is outside"),
    (None, "0001-01-05", "to: the year 1 is outside"),
    (None, "9999-12-31", "to: the year 9999 is outside"),
    ("2026-1-1x", None, "from: '2026-1-1x' is not a date"),
])
def test_period_extremes_are_clear_errors(first: str | None, last: str | None,
                                          message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_period(first, last)
