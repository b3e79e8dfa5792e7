"""Judging a carrier's fix: measurements near the case's place, before it and after it was done.

Only rows of the case's carrier and access technology, within `radius_m` of the place, count.
*Before* is everything measured before the ask was sent; *after* is everything measured at or
after the carrier said the work was done (the weeks in between prove nothing either way).

The after sample is classified by the same rule as a map cell (`analysis.classify`: at least
`min_samples` judged tests in `min_slots` time slots, failed tests count as below): ``met`` when
it is ``ok`` (the data show, at 95%, that the typical test meets the target), ``not_met`` when it
is weak or a dead spot, ``not_enough_data`` otherwise (``likely_ok`` included: not yet proven). Beside the
verdict, the comparison with its statistical tests:

- **Mann-Whitney U**, one-sided (after faster than before), on successful download speeds;
- the **difference of shares below the target** (before - after) with **Newcombe's hybrid score
  interval** (Newcombe 1998, method 10, from the two Wilson intervals): an interval above zero
  means fewer tests fall below the target than before.

Example
-------
>>> result = judge_retest(measurements, place, thresholds=load_thresholds())  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import stats as st

from lomsong.analysis._samples import sample_table, wilson
from lomsong.analysis.cells import aggregate
from lomsong.analysis.classify import WEAK, classify_cells
from lomsong.analysis.thresholds import Thresholds

__all__ = ["RetestPlace", "RetestResult", "SideStats", "judge_retest", "newcombe_difference"]

_EARTH_M = 6_371_008.8
_MIN_TEST = 5  # values each side needs before Mann-Whitney is run


@dataclass(frozen=True)
class RetestPlace:
    """Where and what the case is about, and its two time limits (UTC)."""

    lat: float
    lon: float
    radius_m: float
    carrier: str
    access: str
    before_until: datetime
    after_from: datetime


@dataclass(frozen=True)
class SideStats:
    samples: int
    judged: int
    below: int
    slots: int
    share_below: float | None
    down_median_mbps: float | None
    status: str
    status_reason: str


@dataclass(frozen=True)
class RetestResult:
    outcome: str  # met | not_met | not_enough_data
    threshold_mbps: float | None
    before: SideStats
    after: SideStats
    mwu_p_value: float | None
    share_difference: float | None  # before - after
    share_difference_lo: float | None
    share_difference_hi: float | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def newcombe_difference(k1: int, n1: int, k2: int, n2: int,
                        z: float = 1.959963984540054) -> tuple[float, float, float]:
    """p1 - p2 with Newcombe's hybrid score interval (NaN when a side is empty).

    >>> [round(v, 4) for v in newcombe_difference(8, 10, 1, 10)]
    [0.7, 0.2658, 0.8652]
    """
    if n1 == 0 or n2 == 0:
        return math.nan, math.nan, math.nan
    (l1,), (u1,) = wilson(np.array([k1]), np.array([n1]), z)
    (l2,), (u2,) = wilson(np.array([k2]), np.array([n2]), z)
    p1, p2 = k1 / n1, k2 / n2
    d = p1 - p2
    lo = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, float(lo), float(hi)


def _near(table: pd.DataFrame, place: RetestPlace) -> pd.DataFrame:
    lat1, lon1 = np.radians(place.lat), np.radians(place.lon)
    lat2, lon2 = np.radians(table["lat"].to_numpy()), np.radians(table["lon"].to_numpy())
    a = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    with np.errstate(invalid="ignore"):
        distance_m = 2 * _EARTH_M * np.arcsin(np.sqrt(a))
        keep = (distance_m <= place.radius_m)
    keep &= (table["carrier"].astype(object) == place.carrier).to_numpy()
    keep &= (table["access"].astype(object) == place.access).to_numpy()
    return table[keep & table["down_test"].to_numpy()]


def _side(rows: pd.DataFrame, access: str, thresholds: Thresholds) -> SideStats:
    stats = aggregate(rows.assign(group=0), ["group"], thresholds.rules.z)
    if stats.empty:
        stats = pd.DataFrame({"samples": [0], "failed_no_service": [0], "judged": [0],
                              "slots": [0], "below": [0], "below_floor": [0]})
    stats["access"] = access
    row = classify_cells(stats, thresholds).iloc[0]
    judged, below = int(row["judged"]), int(row["below"])
    speeds = rows["down"].dropna()
    return SideStats(
        samples=int(row["samples"]), judged=judged, below=below, slots=int(row["slots"]),
        share_below=below / judged if judged else None,
        down_median_mbps=float(speeds.median()) if len(speeds) else None,
        status=str(row["status"]), status_reason=str(row["status_reason"]))


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def judge_retest(measurements: gpd.GeoDataFrame, place: RetestPlace,
                 thresholds: Thresholds) -> RetestResult:
    """The verdict on a fix and its before/after comparison (see the module's docstring)."""
    if place.after_from < place.before_until:
        raise ValueError("after_from: the done time is before the sent time")
    table = _near(sample_table(measurements, thresholds, None), place)
    times = pd.to_datetime(table["measured_at"]).dt.tz_localize("UTC")
    before_rows = table[(times < place.before_until).to_numpy()]
    after_rows = table[(times >= place.after_from).to_numpy()]
    before = _side(before_rows, place.access, thresholds)
    after = _side(after_rows, place.access, thresholds)
    outcome = ("met" if after.status == "ok" else "not_met" if after.status in WEAK
               else "not_enough_data")
    b_speed, a_speed = before_rows["down"].dropna(), after_rows["down"].dropna()
    mwu = (float(st.mannwhitneyu(a_speed, b_speed, alternative="greater").pvalue)
           if len(b_speed) >= _MIN_TEST and len(a_speed) >= _MIN_TEST else None)
    d, lo, hi = newcombe_difference(before.below, before.judged, after.below, after.judged,
                                    thresholds.rules.z)
    threshold = table["threshold"].median() if len(table) else math.nan
    return RetestResult(outcome=outcome, threshold_mbps=_finite(float(threshold)), before=before,
                        after=after, mwu_p_value=mwu, share_difference=_finite(d),
                        share_difference_lo=_finite(lo), share_difference_hi=_finite(hi))
