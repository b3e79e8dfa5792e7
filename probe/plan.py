"""Settings for what a probe runs besides iperf3, when, and within which data budget.

These tables extend `probe.toml` (`probe.config` declares them): ``[schedule]`` (spacing, quiet
and peak hours, local time), ``[checks]`` (ping, DNS, web and UDP tests), ``[gps]`` (gpsd), and
per path ``modem`` (where its radio is read), ``budget`` (daily/monthly bytes of its SIM) and
``speedtest`` (speedtest-cli against public servers).

Example
-------
>>> s = ScheduleSettings(quiet_hours="23:00-06:00")
>>> s.quiet_window, s.peak_window
((datetime.time(23, 0), datetime.time(6, 0)), (datetime.time(19, 0), datetime.time(22, 0)))
"""

from __future__ import annotations

from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "BudgetSettings",
    "ChecksSettings",
    "GpsSettings",
    "ModemSettings",
    "RetestSettings",
    "ScheduleSettings",
    "SpeedtestSettings",
    "parse_window",
]


def parse_window(text: str) -> tuple[time, time]:
    """``"HH:MM-HH:MM"`` -> (start, end); the window may wrap past midnight.

    >>> parse_window("19:00-22:00")
    (datetime.time(19, 0), datetime.time(22, 0))
    """
    start_text, sep, end_text = text.partition("-")
    try:
        if not sep:
            raise ValueError
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a window like 19:00-22:00") from None
    if start == end:
        raise ValueError(f"{text!r} is an empty window")
    return start, end


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModemSettings(_Strict):
    """Where a path's radio is read: a ModemManager index, or a Quectel AT serial port."""

    mmcli_index: int | None = Field(default=None, ge=0)
    at_port: str | None = Field(default=None, pattern=r"^/dev/")
    at_baud: int = Field(default=115_200, gt=0)
    timeout_s: float = Field(default=5.0, gt=0, le=60)

    @model_validator(mode="after")
    def _one(self) -> ModemSettings:
        if (self.mmcli_index is None) == (self.at_port is None):
            raise ValueError("give exactly one of mmcli_index or at_port")
        return self


class BudgetSettings(_Strict):
    """Bytes a SIM may spend on tests per local day and per calendar month (None: no limit)."""

    daily_bytes: int | None = Field(default=None, ge=1)
    monthly_bytes: int | None = Field(default=None, ge=1)


class ScheduleSettings(_Strict):
    """Spacing of tests (local time); `tests_per_day` is per path unless the path overrides it."""

    timezone: str = "Asia/Ho_Chi_Minh"
    tests_per_day: float = Field(default=48.0, gt=0, le=1440)
    spacing: Literal["uniform", "exponential"] = "uniform"
    quiet_hours: str | None = None
    peak_hours: str = "19:00-22:00"
    peak_min_tests: int = Field(default=3, ge=0, le=60)
    upload_backoff_cap_s: float = Field(default=1800.0, ge=1)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("quiet_hours", "peak_hours")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None:
            parse_window(value)
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def quiet_window(self) -> tuple[time, time] | None:
        return None if self.quiet_hours is None else parse_window(self.quiet_hours)

    @property
    def peak_window(self) -> tuple[time, time]:
        return parse_window(self.peak_hours)


class ChecksSettings(_Strict):
    """Tests run on every path besides iperf3 TCP (each list may be empty)."""

    ping_targets: tuple[str, ...] = ()
    ping_count: int = Field(default=10, ge=1, le=100)
    tcp_port: int = Field(default=443, gt=0, lt=65536)
    dns_names: tuple[str, ...] = ()
    dns_path: str | None = Field(default=None, description="path carrying the default route")
    web_urls: tuple[str, ...] = ()
    web_max_bytes: int = Field(default=2_000_000, ge=1)
    udp: bool = False
    udp_rate: str = Field(default="2M", pattern=r"^\d+[KMG]?$")
    udp_duration_s: int = Field(default=5, ge=1, le=60)
    timeout_s: float = Field(default=10.0, gt=0, le=120)

    @field_validator("web_urls")
    @classmethod
    def _urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} must start with http:// or https://")
        return value


class SpeedtestSettings(_Strict):
    """speedtest-cli on a path: public servers, as the ward's users meet them.

    Without `server_id`, the server list is read first and the nearest server in Vietnam is
    chosen (`prefer_vietnam`). One run measures both directions and moves a lot (about 50 MB each
    way at 40 Mbit/s, more on faster lines), so it has its own byte cap, over the whole run.
    `command` may point at another speedtest-cli (tests use the offline stand-in).
    """

    command: tuple[str, ...] = Field(default=("speedtest-cli",), min_length=1)
    server_id: str | None = Field(default=None, pattern=r"^\d{1,10}$")
    prefer_vietnam: bool = True
    secure: bool = False
    bytes_cap: int = Field(default=250_000_000, ge=1)
    timeout_s: float = Field(default=120.0, gt=0, le=600)


class GpsSettings(_Strict):
    """gpsd's address; a position is read before each path's tests."""

    gpsd: str = "127.0.0.1:2947"
    timeout_s: float = Field(default=3.0, gt=0, le=30)


class RetestSettings(_Strict):
    """``[retest]``: whether the collector's re-test requests are followed, and within what.

    A done case's nearby probes are asked to test its carrier more often for a while
    (`probe.retest`); `max_extra_per_day` is this probe's own hard cap on extra tests per path
    and local day, whatever the collector asks (each extra test still spends the path's budget).
    """

    enabled: bool = True
    max_extra_per_day: int = Field(default=48, ge=0, le=288)
    refresh_s: float = Field(default=900.0, ge=60, le=86_400)
    offline_keep_h: float = Field(default=24.0, gt=0, le=336)
