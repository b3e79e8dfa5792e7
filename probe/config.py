"""`probe.toml`: the probe's settings, read once and passed in (never read from globals).

Example
-------
>>> cfg = parse_config('''
... [probe]
... id = "pi-ubnd-01"
... [collector]
... url = "http://collector.invalid"
... token = "s3cret-token"
... [[path]]
... name = "viettel-4g"
... interface = "wwan0"
... carrier = "viettel"
... access = "4g"
... iperf3 = "iperf.ubnd.invalid:5201"
... ''', source="probe.toml")
>>> cfg.paths[0].iperf3_port
5201
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lomsong.probe.carriers import carrier_code
from lomsong.probe.errors import ConfigError
from lomsong.probe.plan import (
    BudgetSettings,
    ChecksSettings,
    GpsSettings,
    ModemSettings,
    RetestSettings,
    ScheduleSettings,
    SpeedtestSettings,
)
from lomsong.probe.record import Access, Carrier, Setting
from lomsong.probe.runners.early_stop import DEFAULT_MAX_DURATION_S, FIXED_TEST_S
from lomsong.probe.runners.pool import Server
from lomsong.probe.servers import (
    SERVERS_MAX,
    PoolSettings,
    Servers,
    ServerSettings,
    server_list,
    split_host_port,
)
from lomsong.probe.spool import SpoolPolicy

__all__ = [
    "CollectorSettings",
    "PathSettings",
    "PoolSettings",
    "ProbeConfig",
    "ProbeSettings",
    "ServerSettings",
    "SiteSettings",
    "SpoolSettings",
    "load_config",
    "parse_config",
    "split_host_port",
]

Direction = Literal["down", "up"]
Method = Literal["adaptive", "fixed"]
_MOBILE: tuple[Access, ...] = (Access.GSM, Access.UMTS, Access.LTE, Access.NR_NSA, Access.NR_SA)
_DOWN_TARGET_MBPS: dict[Access, float] = {Access.LTE: 40.0, Access.NR_NSA: 100.0, Access.NR_SA: 100.0}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProbeSettings(_Strict):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class CollectorSettings(_Strict):
    url: str = Field(pattern=r"^https?://")
    token: str | None = Field(default=None, min_length=8)
    token_file: Path | None = None
    batch_size: int = Field(default=500, ge=1, le=5000)

    @model_validator(mode="after")
    def _one_token(self) -> CollectorSettings:
        if (self.token is None) == (self.token_file is None):
            raise ValueError("give exactly one of token or token_file")
        return self


class SpoolSettings(_Strict):
    path: Path | None = None
    max_rows: int | None = Field(default=100_000, ge=1)
    max_bytes: int | None = Field(default=None, ge=1)
    policy: SpoolPolicy = SpoolPolicy.DROP_OLDEST


class PathSettings(_Strict):
    """One measured path: an interface (a modem, or the fixed line) and its iperf3 server(s).

    `iperf3` is one ``host:port`` (as before pools existed), or a list of servers (strings or
    ``{ address, capacity }`` tables) the path's tests are spread over; a path without it uses
    ``[pool]``'s servers.

    `congestion` is set explicitly on every TCP test (iperf3 ``-C``, which also sets the
    server's sending side of a download) so that results do not depend on each host's default.
    The default is BBR, as in M-Lab's ndt7: a single loss-based (CUBIC) stream measures TCP's
    reaction to random loss more than the link: on the emulated 40 Mbit/s link with 0.5% loss
    and 20 ms delay (``benchmarks/accuracy.py``) CUBIC moved 4 Mbit/s in a 10 s test where BBR
    moved 37. BBR needs the ``tcp_bbr`` module and, for an unprivileged probe, its place in
    ``net.ipv4.tcp_allowed_congestion_control`` (README, Pi install; ``lomsong probe doctor``
    checks both). "cubic" or any other available algorithm may be chosen per path, and
    "system" leaves each host's default.
    """

    name: str = Field(min_length=1, max_length=64)
    interface: str | None = Field(default=None, max_length=64)
    carrier: Carrier = Carrier.UNKNOWN
    access: Access = Access.UNKNOWN
    plan_down_mbps: float | None = Field(default=None, gt=0)
    iperf3: Servers = Field(default=(), max_length=SERVERS_MAX)
    directions: tuple[Direction, ...] = Field(default=("down", "up"), min_length=1)
    duration_s: int = Field(default=FIXED_TEST_S, ge=1, le=300)
    bytes_cap: int | None = Field(default=None, ge=1)
    congestion: str = Field(
        default="bbr",
        pattern=r"^[a-z0-9_]{1,16}$",
        description="TCP congestion control of the throughput tests (iperf3 -C, both ends); "
        '"system": the host\'s default',
    )
    tests_per_day: float | None = Field(default=None, gt=0, le=1440)
    modem: ModemSettings | None = None
    budget: BudgetSettings | None = None
    speedtest: SpeedtestSettings | None = None
    method: Method | None = None
    adaptive_max_s: float = Field(default=DEFAULT_MAX_DURATION_S, gt=0, le=60)
    threshold_down_mbps: float | None = Field(default=None, gt=0)
    threshold_up_mbps: float | None = Field(default=None, gt=0)

    @property
    def test_method(self) -> Method:
        """`method` if given; else early stopping ("adaptive") on mobile paths, "fixed" otherwise."""
        if self.method is not None:
            return self.method
        return "adaptive" if self.access in _MOBILE else "fixed"

    @field_validator("carrier", mode="before")
    @classmethod
    def _usual_carrier_name(cls, value: object) -> object:
        """"Viettel", "VinaPhone" and the other usual names, as typed in probe.toml."""
        return carrier_code(value) if isinstance(value, str) else value

    @field_validator("speedtest", mode="before")
    @classmethod
    def _speedtest_switch(cls, value: object) -> object:
        """``speedtest = true`` means the defaults; ``false``, none."""
        if value is True:
            return {}
        return None if value is False else value

    @property
    def congestion_algorithm(self) -> str | None:
        """The algorithm passed to iperf3 (None: leave the host's default)."""
        return None if self.congestion == "system" else self.congestion

    @property
    def down_threshold_mbps(self) -> float | None:
        """The download verdict threshold: as configured, else the national target for the access."""
        return self.threshold_down_mbps or _DOWN_TARGET_MBPS.get(self.access)

    @field_validator("iperf3", mode="before")
    @classmethod
    def _list(cls, value: object) -> object:
        if isinstance(value, str):  # one server: its error names iperf3 itself
            split_host_port(value)
        return server_list(value)

    @model_validator(mode="after")
    def _server(self) -> PathSettings:
        if not self.iperf3:
            raise ValueError('iperf3: no server: give iperf3 ("host:port" or a list) or a [pool]')
        return self

    @property
    def iperf3_servers(self) -> tuple[Server, ...]:
        return tuple(s.server for s in self.iperf3)

    @property
    def iperf3_host(self) -> str:
        """The first server's host (the only one on a path with one server)."""
        return self.iperf3_servers[0].host

    @property
    def iperf3_port(self) -> int:
        return self.iperf3_servers[0].port


class SiteSettings(_Strict):
    id: str = Field(min_length=1, max_length=64)
    name: str | None = None
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    setting: Setting = Setting.INDOOR


class ProbeConfig(_Strict):
    probe: ProbeSettings
    collector: CollectorSettings
    spool: SpoolSettings = SpoolSettings()
    paths: tuple[PathSettings, ...] = Field(default=(), alias="path")
    pool: PoolSettings = PoolSettings()
    site: SiteSettings | None = None
    schedule: ScheduleSettings = ScheduleSettings()
    retest: RetestSettings = RetestSettings()
    checks: ChecksSettings = ChecksSettings()
    gps: GpsSettings | None = None
    source: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _pool_servers(cls, data: object) -> object:
        """A path without its own ``iperf3`` uses ``[pool]``'s servers."""
        if not isinstance(data, dict):
            return data
        pool, paths = data.get("pool"), data.get("path")
        servers = pool.get("servers") if isinstance(pool, dict) else None
        if not servers or not isinstance(paths, list):
            return data
        filled = [{**p, "iperf3": servers} if isinstance(p, dict) and "iperf3" not in p else p for p in paths]
        return {**data, "path": filled}

    def token(self) -> str:
        """The collector token, read from `token_file` (relative to the config file) if needed."""
        if self.collector.token is not None:
            return self.collector.token
        path = self.collector.token_file
        if path is None:
            raise ConfigError(f"{self.source}: collector: give token or token_file")
        if not path.is_absolute() and self.source is not None:
            path = self.source.parent / path
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{self.source}: collector.token_file: cannot read {path}: {exc}") from exc
        if not token:
            raise ConfigError(f"{self.source}: collector.token_file: {path} is empty")
        return token


def _key(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def parse_config(text: str, *, source: str | Path) -> ProbeConfig:
    """Parse probe.toml text; `ConfigError` names the file and the key that is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    try:
        return ProbeConfig.model_validate({**data, "source": Path(source)})
    except ValidationError as exc:
        problems = "; ".join(f"{_key(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{source}: {problems}") from exc


def load_config(path: Path) -> ProbeConfig:
    """Read and parse the probe.toml at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the probe config: {exc}") from exc
    return parse_config(text, source=path)
