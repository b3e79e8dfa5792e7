"""Detect which storage tier a database offers; never configured by hand.

1. ``timescale-tsl``: TimescaleDB with its community licence (policies, continuous aggregates);
2. ``timescale-apache``: TimescaleDB Apache-only build (hypertables, ``time_bucket``);
3. ``postgres``: plain PostgreSQL (indexes instead of chunks, aggregates at query time).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import psycopg

__all__ = ["Tier", "detect_tier"]


class Tier(StrEnum):
    TIMESCALE_TSL = "timescale-tsl"
    TIMESCALE_APACHE = "timescale-apache"
    POSTGRES = "postgres"

    @property
    def has_timescale(self) -> bool:
        return self is not Tier.POSTGRES


def detect_tier(conn: psycopg.Connection[Any]) -> Tier:
    """Create the timescaledb extension when the server offers it preloaded, then read its licence."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'),"
        " current_setting('shared_preload_libraries')"
    ).fetchone()
    assert row is not None
    available, preload = bool(row[0]), str(row[1])
    if not available or "timescaledb" not in preload:
        return Tier.POSTGRES
    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    licence = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()
    if licence is not None and licence[0] == "timescale":
        return Tier.TIMESCALE_TSL
    return Tier.TIMESCALE_APACHE
