"""Re-test requests: a done case asks the fixed probes near its place to test its carrier more often.

`save_requests` replaces a case's requests (one per probe, each in the ward of the probe's own
rows); `requests_for_probe` is what one probe is served: only its own requests (its name and its
token's ward, `Scope.where`), only those not yet ended, at most `MAX_PER_PROBE`; `end_requests`
ends a case's requests when it is judged, so the probes fall back to their normal schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import psycopg
from psycopg import sql

from lomsong.collector.storage.scope import Scope

__all__ = ["MAX_PER_PROBE", "MAX_PROBES", "NearProbe", "RetestRequest", "end_requests",
           "fixed_probes_near", "list_requests", "requests_for_probe", "save_requests"]

MAX_PROBES: Final = 50  # as `case_retests.MAX_PROBES`: probes asked per case
MAX_PER_PROBE: Final = 20  # requests one probe is served at once
_COLUMNS: Final = ("case_id, probe_id, ward_code, carrier, access, starts_at, ends_at, every_min,"
                   " max_extra_per_day")


@dataclass(frozen=True)
class NearProbe:
    probe_id: str
    ward_code: str | None


@dataclass(frozen=True)
class RetestRequest:
    case_id: int
    probe_id: str
    ward_code: str | None
    carrier: str
    access: str
    starts_at: datetime
    ends_at: datetime
    every_min: int
    max_extra_per_day: int


def fixed_probes_near(conn: psycopg.Connection[Any], box: tuple[float, float, float, float],
                      carrier: str) -> list[NearProbe]:
    """Fixed probes (placed at a site) that measured `carrier` inside `box` (lon/lat bounds), with
    the ward their rows were stored in (the ward of the probe's token)."""
    min_lon, min_lat, max_lon, max_lat = box
    rows = conn.execute(
        "SELECT DISTINCT probe_id, ward_code FROM measurements WHERE position_source = 'site'"
        " AND source = 'probe' AND carrier = %s AND lon BETWEEN %s AND %s AND lat BETWEEN %s AND %s"
        " ORDER BY probe_id, ward_code LIMIT %s",
        (carrier, min_lon, max_lon, min_lat, max_lat, MAX_PROBES)).fetchall()
    return [NearProbe(str(r[0]), r[1]) for r in rows]


def save_requests(conn: psycopg.Connection[Any], case_id: int, requests: Sequence[RetestRequest]) -> None:
    """Replace the case's requests by `requests` (all of case `case_id`)."""
    if any(r.case_id != case_id for r in requests):
        raise ValueError(f"every request must be of case {case_id}")
    with conn.transaction():
        conn.execute("DELETE FROM retest_requests WHERE case_id = %s", (case_id,))
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO retest_requests ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(r.case_id, r.probe_id, r.ward_code, r.carrier, r.access, r.starts_at, r.ends_at,
                  r.every_min, r.max_extra_per_day) for r in requests[:MAX_PROBES]])


def list_requests(conn: psycopg.Connection[Any], case_id: int) -> list[RetestRequest]:
    """The case's requests, by probe."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM retest_requests WHERE case_id = %s"
                        " ORDER BY probe_id, ward_code LIMIT %s", (case_id, MAX_PROBES)).fetchall()
    return [RetestRequest(*r) for r in rows]


def requests_for_probe(conn: psycopg.Connection[Any], probe_id: str, scope: Scope,
                       now: datetime) -> list[RetestRequest]:
    """The requests of probe `probe_id` in the ward(s) `scope` sees that end after `now`."""
    where, params = scope.where("ward_code")
    rows = conn.execute(
        sql.SQL(f"SELECT {_COLUMNS} FROM retest_requests WHERE probe_id = %s AND ends_at > %s"
                " AND {} ORDER BY ends_at, case_id LIMIT %s").format(where),
        [probe_id, now, *params, MAX_PER_PROBE]).fetchall()
    return [RetestRequest(*r) for r in rows]


def end_requests(conn: psycopg.Connection[Any], case_id: int, at: datetime) -> int:
    """End the case's requests that run past `at` (a judged case needs no more tests): those
    not started yet are removed, the others end at `at`. Returns how many changed."""
    with conn.transaction():
        gone = conn.execute("DELETE FROM retest_requests WHERE case_id = %s AND starts_at >= %s",
                            (case_id, at)).rowcount
        cut = conn.execute("UPDATE retest_requests SET ends_at = %s WHERE case_id = %s"
                           " AND ends_at > %s", (at, case_id, at)).rowcount
    return gone + cut
