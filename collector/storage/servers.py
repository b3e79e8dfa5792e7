"""The city's iperf3 servers (``iperf3_servers``), as probes with ``[pool] from_collector`` get them.

Example
-------
>>> normalise_address(" iperf1.hanoi.invalid ")
'iperf1.hanoi.invalid:5201'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import psycopg
from psycopg import sql

from lomsong.collector.errors import StorageError
from lomsong.collector.storage.scope import Scope
from lomsong.probe.servers import split_host_port

__all__ = ["MAX_SERVERS", "PoolLoad", "PoolServer", "add_server", "list_servers", "normalise_address",
           "pool_load", "remove_server"]

MAX_SERVERS: Final = 64  # what a probe's [pool] accepts


@dataclass(frozen=True)
class PoolServer:
    address: str
    capacity: float
    added_at: datetime


def normalise_address(address: str) -> str:
    """``host[:port]`` written as ``host:port`` (``[v6]:port``); ValueError when malformed."""
    host, port = split_host_port(address.strip())
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def add_server(conn: psycopg.Connection[Any], address: str, capacity: float = 1.0) -> PoolServer:
    """Add a server, or change its capacity; `StorageError` for a bad address or a full pool."""
    try:
        address = normalise_address(address)
    except ValueError as exc:
        raise StorageError(f"address: {exc}") from exc
    if not 0 < capacity <= 100:
        raise StorageError(f"capacity: {capacity:g} is not in (0, 100]")
    with conn.transaction():
        count = conn.execute("SELECT count(*) FROM iperf3_servers WHERE address <> %s", (address,)).fetchone()
        if count is not None and count[0] >= MAX_SERVERS:
            raise StorageError(f"the pool already has {MAX_SERVERS} servers")
        row = conn.execute(
            "INSERT INTO iperf3_servers (address, capacity) VALUES (%s, %s)"
            " ON CONFLICT (address) DO UPDATE SET capacity = EXCLUDED.capacity"
            " RETURNING address, capacity, added_at",
            (address, capacity),
        ).fetchone()
    assert row is not None
    return PoolServer(*row)


def remove_server(conn: psycopg.Connection[Any], address: str) -> bool:
    """Remove a server; False when it was not in the pool."""
    try:
        address = normalise_address(address)
    except ValueError as exc:
        raise StorageError(f"address: {exc}") from exc
    return conn.execute("DELETE FROM iperf3_servers WHERE address = %s", (address,)).rowcount > 0


def list_servers(conn: psycopg.Connection[Any]) -> list[PoolServer]:
    """The pool, oldest first (at most `MAX_SERVERS`)."""
    rows = conn.execute(
        "SELECT address, capacity, added_at FROM iperf3_servers ORDER BY added_at, address LIMIT %s",
        (MAX_SERVERS,),
    ).fetchall()
    return [PoolServer(*row) for row in rows]


@dataclass(frozen=True)
class PoolLoad:
    """Pooled tests (those with `Measurement.busy_tries`) received in a period, and how many met
    a busy server: the figure that says when the city needs another server."""

    tests: int
    met_busy: int  # busy_tries > 0: at least one try was refused
    server_busy: int  # every try was refused: recorded as server_busy
    busy_tries: int  # refused tries in all

    @property
    def met_busy_share(self) -> float | None:
        return None if self.tests == 0 else self.met_busy / self.tests


def pool_load(conn: psycopg.Connection[Any], scope: Scope, start: datetime, end: datetime) -> PoolLoad:
    """`PoolLoad` of the tests in [start, end) of the wards `scope` sees (rows without
    ``busy_tries``, i.e. tests against one server, are not counted)."""
    where, params = scope.where("ward_code")
    row = conn.execute(
        sql.SQL("SELECT count(*), count(*) FILTER (WHERE busy_tries > 0),"
                " count(*) FILTER (WHERE error_kind = 'server_busy'), coalesce(sum(busy_tries), 0)"
                " FROM measurements WHERE busy_tries IS NOT NULL AND time >= %s AND time < %s"
                " AND {}").format(where),
        [start, end, *params]).fetchone()
    assert row is not None
    return PoolLoad(*(int(v) for v in row))
