"""Where a probe's iperf3 tests go: ``host:port`` addresses, a path's servers and ``[pool]``.

`probe.config` declares these (and re-exports them); `probe.runners.pool` uses them.

Example
-------
>>> PoolSettings(servers=["a.invalid", {"address": "b.invalid:5202", "capacity": 2}]).servers[1].server
Server(host='b.invalid', port=5202, capacity=2.0)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lomsong.probe.runners.pool import BusyPolicy, Server

__all__ = ["SERVERS_MAX", "PoolSettings", "ServerSettings", "Servers", "server_list", "split_host_port"]


def split_host_port(value: str, default_port: int = 5201) -> tuple[str, int]:
    """Split ``host[:port]`` (``[v6]:port`` for IPv6); raises ValueError when malformed.

    >>> split_host_port("[fd00::1]:5202")
    ('fd00::1', 5202)
    """
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest.removeprefix(":") if rest else ""
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    else:
        host, port_text = value, ""
    if not host:
        raise ValueError(f"no host in {value!r}")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"bad port in {value!r}")
    return host, int(port_text)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Strict):
    """One iperf3 server of a pool: ``host:port`` and its capacity (its weight in the choice)."""

    address: str = Field(min_length=1, max_length=255)
    capacity: float = Field(default=1.0, gt=0, le=100)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        split_host_port(value)
        return value

    @property
    def server(self) -> Server:
        host, port = split_host_port(self.address)
        return Server(host, port, self.capacity)


def server_list(value: object) -> object:
    """``"host:port"`` -> one server; a list may mix ``"host:port"`` and ``{address, capacity}``."""
    if isinstance(value, str):
        return ({"address": value},)
    if isinstance(value, list | tuple):
        return tuple({"address": v} if isinstance(v, str) else v for v in value)
    return value


Servers = tuple[ServerSettings, ...]
SERVERS_MAX = 64


class PoolSettings(_Strict):
    """``[pool]``: the city's iperf3 servers, used by every path that names none of its own, and
    how long a test looks for a free one (`probe.runners.pool`)."""

    servers: Servers = Field(default=(), max_length=SERVERS_MAX)
    from_collector: bool = Field(
        default=False,
        description="use the collector's list (GET /api/v1/probes/servers, cached beside the spool); "
        "`servers` until it first answers",
    )
    tries: int = Field(default=12, ge=1, le=40)
    round_size: int = Field(default=4, ge=1, le=40)
    move_jitter_s: float = Field(default=0.25, ge=0, le=10)
    backoff_s: float = Field(default=1.0, ge=0, le=60)
    backoff_cap_s: float = Field(default=8.0, ge=0, le=300)

    @field_validator("servers", mode="before")
    @classmethod
    def _list(cls, value: object) -> object:
        return server_list(value)

    @model_validator(mode="after")
    def _start_with_servers(self) -> PoolSettings:
        if self.from_collector and not self.servers:
            raise ValueError("from_collector: give servers too, used until the collector's list arrives")
        return self

    @property
    def policy(self) -> BusyPolicy:
        return BusyPolicy(self.tries, self.round_size, self.move_jitter_s, self.backoff_s, self.backoff_cap_s)
