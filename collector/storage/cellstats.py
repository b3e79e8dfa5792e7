"""Per-cell statistics computed in the database: one GROUP BY over the stored measurements.

The counting rules are those of `analysis._samples` / `analysis.cells` (read there), restated as
SQL so that 10 million rows never leave the database:

- rows whose probe reported an unsynchronised clock (``clock = 'unsynced'``) are left out, and
  so are rows of a source not in `sources` (`analysis.sources`: browser results only where the
  ward counts them);
- a *sample* is a ``throughput_down`` test that succeeded with a speed or failed for one of the
  `network_failures`; any other failure (our own kit) is not evidence and is left out;
- the target of a row is ``plan_fraction x plan_down_mbps`` when its access has a plan fraction
  (fixed lines; no plan speed means no target), else the access's download target; a sample is
  *below* when it failed or its speed is strictly below the target;
- times are put in local time with ``time AT TIME ZONE tz``; ``days``/``hours``/``slots`` count
  distinct local dates, hours and (date, `slot_hours` block) pairs of the samples;
- windows: ``all`` and, per row's local hour, ``peak`` (hour in `peak_hours`) or ``offpeak``;
- cells are the stored resolution-10 cells: a parent computed from them is not always the cell
  a point falls in at a coarser resolution, so coarser grids stay with `analysis.cells`;
- quantiles are ``percentile_cont`` (linear interpolation, as pandas' default); NULLs are ignored.

Rows without a position come back as one group per carrier/access with ``cell`` NULL, so the caller
can count what could not be placed without a second scan.

Example
-------
>>> rows = select_cell_stats(conn, down_targets_mbps={"4g": 40.0}, plan_fractions={"fixed": 0.8},
...     floors_mbps={}, peak_hours=(19, 20, 21), timezone="Asia/Ho_Chi_Minh", slot_hours=4,
...     network_failures=("no_service", "timeout"), no_service_failures=("no_service",),
...     sources=("probe", "import"))
...     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from lomsong.collector.errors import DatabaseUnavailable, StorageError
from lomsong.collector.storage.scope import SINGLE_WARD, Scope

__all__ = ["select_cell_stats"]

# Memory for the one sort of the statistics query (server side, this transaction only).
_WORK_MEM = "256MB"


_QUERY = """
WITH targets (access, down_mbps, plan_fraction, floor_mbps) AS (
    SELECT * FROM unnest(%(t_access)s::text[], %(t_down)s::float8[], %(t_plan)s::float8[],
                         %(t_floor)s::float8[])
), base AS (
    SELECT
        m.h3_r10 AS cell,
        m.carrier COLLATE "C" AS carrier,
        m.access COLLATE "C" AS access,
        extract(hour FROM m.time AT TIME ZONE %(tz)s)::int AS hour,
        (m.time AT TIME ZONE %(tz)s)::date - DATE '1970-01-01' AS day,
        m.kind = 'throughput_down' AS is_down,
        m.kind = 'throughput_up' AND m.error_kind IS NULL AS up_ok,
        m.error_kind IS NULL AS no_error,
        coalesce(m.error_kind = ANY(%(net)s::text[]), false) AS net_fail,
        coalesce(m.error_kind = ANY(%(ns)s::text[]), false) AS ns_fail,
        m.download_mbps, m.upload_mbps, m.rtt_ms, m.loss_pct, m.rsrp_dbm, m.sinr_db,
        CASE WHEN t.plan_fraction IS NOT NULL THEN t.plan_fraction * m.plan_down_mbps
             ELSE t.down_mbps END AS thr,
        t.floor_mbps
    FROM measurements m LEFT JOIN targets t ON t.access = m.access
    WHERE {where}
), rows AS (
    SELECT
        cell, carrier, access, hour, day,
        hour = ANY(%(peak)s::int[]) AS peak,
        is_down AND net_fail AS failed,
        is_down AND ns_fail AS failed_ns,
        (is_down AND no_error AND download_mbps IS NOT NULL) OR (is_down AND net_fail) AS down_test,
        CASE WHEN is_down AND no_error THEN download_mbps END AS down,
        net_fail, thr, floor_mbps,
        CASE WHEN up_ok THEN upload_mbps END AS up,
        CASE WHEN no_error THEN rtt_ms END AS rtt,
        CASE WHEN no_error THEN loss_pct END AS loss,
        rsrp_dbm, sinr_db
    FROM base
), judged AS (
    SELECT *,
        down_test AND thr IS NOT NULL AS judged,
        day * (24 / %(slot)s + 1) + hour / %(slot)s AS slot
    FROM rows
)
SELECT
    cell, carrier, access,
    CASE WHEN GROUPING(peak) = 1 THEN 'all' WHEN peak THEN 'peak' ELSE 'offpeak' END AS "window",
    count(*) AS rows,
    count(*) FILTER (WHERE down_test) AS samples,
    count(*) FILTER (WHERE failed) AS failed,
    count(*) FILTER (WHERE failed_ns) AS failed_no_service,
    count(*) FILTER (WHERE judged) AS judged,
    count(DISTINCT day) FILTER (WHERE down_test) AS days,
    count(DISTINCT hour) FILTER (WHERE down_test) AS hours,
    count(DISTINCT slot) FILTER (WHERE down_test) AS slots,
    percentile_cont(ARRAY[0.1, 0.5, 0.9]) WITHIN GROUP (ORDER BY down) AS down_q,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY up) AS up_median_mbps,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY rtt) AS rtt_median_ms,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY loss) AS loss_median_pct,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY rsrp_dbm) AS rsrp_median_dbm,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY sinr_db) AS sinr_median_db,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY CASE WHEN down_test THEN thr END)
        AS threshold_mbps,
    count(*) FILTER (WHERE judged AND (net_fail OR down < thr)) AS below,
    count(*) FILTER (WHERE down_test AND floor_mbps IS NOT NULL
                     AND (net_fail OR down < floor_mbps)) AS below_floor
FROM judged
GROUP BY GROUPING SETS ((cell, carrier, access), (cell, carrier, access, peak))
"""


def _where(
    start: datetime | None,
    end: datetime | None,
    carriers: Sequence[str],
    accesses: Sequence[str],
    scope: Scope,
    sources: Sequence[str],
) -> tuple[sql.Composable, dict[str, Any]]:
    clauses = [sql.SQL("m.clock <> 'unsynced'"), sql.SQL("m.source = ANY(%(sources)s::text[])")]
    params: dict[str, Any] = {"sources": list(sources)}
    if not scope.city:
        if scope.ward_code is None:  # indexable forms (see `Scope.where`)
            clauses.append(sql.SQL("m.ward_code IS NULL"))
        else:
            clauses.append(sql.SQL("m.ward_code = %(ward)s"))
            params["ward"] = scope.ward_code
    if start is not None:
        clauses.append(sql.SQL("m.time >= %(start)s"))
        params["start"] = start
    if end is not None:
        clauses.append(sql.SQL("m.time < %(end)s"))
        params["end"] = end
    if carriers:
        clauses.append(sql.SQL("m.carrier = ANY(%(carriers)s::text[])"))
        params["carriers"] = list(carriers)
    if accesses:
        clauses.append(sql.SQL("m.access = ANY(%(accesses)s::text[])"))
        params["accesses"] = list(accesses)
    return sql.SQL(" AND ").join(clauses), params


def select_cell_stats(
    conn: psycopg.Connection[Any],
    *,
    down_targets_mbps: Mapping[str, float],
    plan_fractions: Mapping[str, float],
    floors_mbps: Mapping[str, float],
    peak_hours: Sequence[int],
    timezone: str,
    slot_hours: int,
    network_failures: Sequence[str],
    no_service_failures: Sequence[str],
    sources: Sequence[str],
    start: datetime | None = None,
    end: datetime | None = None,
    carriers: Sequence[str] = (),
    accesses: Sequence[str] = (),
    scope: Scope = SINGLE_WARD,
) -> list[dict[str, Any]]:
    """Statistics per cell x carrier x access x window, one dict per group (unordered).

    Parameters
    ----------
    down_targets_mbps, plan_fractions, floors_mbps : mapping of access -> value
        Download target, fixed-line fraction of the plan speed (wins over the target), and the
        floor (5G) of each access technology; an access in none of them has no target.
    peak_hours : sequence of int
        Local hours (0-23) that belong to the ``peak`` window; the others are ``offpeak``.
    timezone : str
        IANA name of the local time zone, e.g. ``Asia/Ho_Chi_Minh``.
    slot_hours : int
        Length of a time slot (a slot is a local date and a block of this many hours).
    network_failures, no_service_failures : sequence of str
        Error kinds that count as failed samples, and those that mean "no service".
    sources : sequence of str
        Sources whose rows count (`Thresholds.sources.in_statistics`); the others are left out.

    Returns
    -------
    list of dict with keys ``cell`` (the stored resolution-10 H3 cell as int; None for rows
    without a position), ``carrier``, ``access``, ``window``, ``rows`` (every measurement of the
    group), the counts and medians of `analysis.cells.STAT_COLUMNS` (``down_q`` holds p10, median
    and p90 of download speed), and ``below``/``below_floor``. Shares and intervals are left to
    the caller.

    Raises
    ------
    ValueError
        `slot_hours` not in 1-24.
    StorageError
        The query failed (`DatabaseUnavailable` when the server cannot be reached).
    """
    if not 1 <= slot_hours <= 24:
        raise ValueError(f"slot_hours: must be 1-24, got {slot_hours}")
    accesses_with_target = sorted(set(down_targets_mbps) | set(plan_fractions) | set(floors_mbps))
    where, params = _where(start, end, carriers, accesses, scope, sources)
    params |= {
        "t_access": accesses_with_target,
        "t_down": [down_targets_mbps.get(a) for a in accesses_with_target],
        "t_plan": [plan_fractions.get(a) for a in accesses_with_target],
        "t_floor": [floors_mbps.get(a) for a in accesses_with_target],
        "tz": timezone,
        "net": list(network_failures),
        "ns": list(no_service_failures),
        "peak": [int(h) for h in peak_hours],
        "slot": int(slot_hours),
    }
    query = sql.SQL(_QUERY).format(where=where)
    try:
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.SQL("SET LOCAL work_mem = {}").format(sql.Literal(_WORK_MEM)))
            cur.execute(query, params)
            return cur.fetchall()
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"database unavailable: {exc}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"cell statistics query failed: {exc}") from exc
