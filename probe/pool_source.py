"""``[pool] from_collector``: the city's iperf3 servers as the collector lists them, cached.

A city adds or removes a server once, on the collector (``lomsong servers add``); each probe asks
``GET /api/v1/probes/servers`` when it starts and then every `PoolSource.every_s` (an hour),
keeps the last good list in a JSON file beside its spool, and uses it when the collector cannot
be reached; before any answer, ``[pool] servers`` from probe.toml. A list is used only whole and
valid (at most 64 servers, each ``host:port`` with a capacity in (0, 100]); otherwise the probe
keeps what it had and logs why. Only the paths that use ``[pool]`` (those whose servers are
``[pool]``'s, i.e. without an ``iperf3`` of their own) change.

Example
-------
>>> from lomsong.probe.config import parse_config
>>> cfg = parse_config('''
... [probe]
... id = "pi-1"
... [collector]
... url = "http://collector.invalid"
... token = "s3cret-token"
... [pool]
... servers = ["a.invalid"]
... from_collector = true
... [[path]]
... name = "viettel"
... ''', source="probe.toml")
>>> new = with_servers(cfg, parse_servers({"servers": [{"address": "b.invalid:5202", "capacity": 2}]}))
>>> new.paths[0].iperf3_servers[0].address
'b.invalid:5202'
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lomsong.probe.config import PathSettings, ProbeConfig
from lomsong.probe.servers import Servers
from lomsong.probe.uploader import CollectorClient

__all__ = ["PoolSource", "parse_servers", "pool_cache_path", "with_servers"]

logger = logging.getLogger(__name__)


class _PoolBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    servers: Servers = Field(min_length=1, max_length=64)


def parse_servers(body: object) -> Servers:
    """The servers of a ``{"servers": [{"address", "capacity"}, ...]}`` body; ValueError if invalid."""
    try:
        return _PoolBody.model_validate(body).servers
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise ValueError(f"the collector's server list is not valid: {problems}") from exc


def with_servers(cfg: ProbeConfig, servers: Servers) -> ProbeConfig:
    """`cfg` with ``[pool]``'s servers replaced, in the paths that use the pool too."""
    old = cfg.pool.servers
    paths = tuple(p.model_copy(update={"iperf3": servers}) if p.iperf3 == old else p for p in cfg.paths)
    return cfg.model_copy(update={"pool": cfg.pool.model_copy(update={"servers": servers}), "paths": paths})


def pool_cache_path(spool_path: Path) -> Path:
    """Where the last list is kept: beside the spool."""
    return spool_path.with_name(spool_path.name + ".servers.json")


@dataclass
class PoolSource:
    """The probe's config, its pool refreshed from the collector at most every `every_s`."""

    cfg: ProbeConfig
    client: CollectorClient
    cache_path: Path
    every_s: float = 3600.0
    clock: Callable[[], float] = time.monotonic
    _current: ProbeConfig | None = field(default=None, init=False)
    _fetched_at: float | None = field(default=None, init=False)

    def config(self) -> ProbeConfig:
        """The config to measure with now (fetches the list when it is due)."""
        if not self.cfg.pool.from_collector:
            return self.cfg
        now = self.clock()
        if self._current is None:
            self._current = self._from_cache()
        if self._fetched_at is None or now - self._fetched_at >= self.every_s:
            self._fetched_at = now
            self._current = self._fetch() or self._current
        return self._current

    def path(self, path: PathSettings) -> tuple[ProbeConfig, PathSettings]:
        """The current config and its path named like `path`."""
        cfg = self.config()
        return cfg, next((p for p in cfg.paths if p.name == path.name), path)

    def _from_cache(self) -> ProbeConfig:
        try:
            return with_servers(self.cfg, parse_servers(json.loads(self.cache_path.read_text("utf-8"))))
        except FileNotFoundError:
            return self.cfg
        except (OSError, ValueError) as exc:
            logger.warning("server list cache %s: %s", self.cache_path, exc)
            return self.cfg

    def _fetch(self) -> ProbeConfig | None:
        body = self.client.get_servers()
        if body is None:
            logger.info("server list: the collector did not answer; keeping the current list")
            return None
        try:
            servers = parse_servers(body)
        except ValueError as exc:
            logger.warning("%s; keeping the current list", exc)
            return None
        self._save(servers)
        return with_servers(self.cfg, servers)

    def _save(self, servers: Servers) -> None:
        text = json.dumps({"servers": [s.model_dump() for s in servers]})
        temp = self.cache_path.with_name(self.cache_path.name + ".tmp")
        try:
            temp.write_text(text, encoding="utf-8")
            os.replace(temp, self.cache_path)
        except OSError as exc:
            logger.warning("server list cache %s: %s", self.cache_path, exc)
