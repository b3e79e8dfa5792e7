"""Classify cells (or any group with the statistics columns) into an honest status.

The rule, applied in this order to each row (`Rules` from `analysis/thresholds.toml`):

1. ``dead_spot`` (``all_tests_failed_no_service``): every sample failed with `no_service`,
   `attach_failed` or `timeout`, there are at least `min_failed` (3) of them, in at least `min_slots`
   (2) distinct time slots. With the same failures in a single slot: ``likely_weak``
   (``all_failed_single_slot``), since one outage is not a dead spot.
2. ``insufficient_data``: no samples (``no_download_tests``); no target for this access technology,
   e.g. 3G or a fixed line without a plan speed (``no_threshold``); fewer than `min_samples` (5)
   judged samples (``too_few_samples``); or fewer than `min_slots` (2) distinct time slots, a slot
   being a local date and a `slot_hours` (4 h) block (``too_few_time_slots``).
3. ``confirmed_weak`` (``wilson_lower_above_half``): the lower bound of the Wilson 95% interval of
   the share of samples below the threshold is above `weak_share` (one half), i.e. the typical
   (median) test is below the target with 95% confidence. Failed tests count as below.
4. ``likely_weak``: not confirmed, but the share below is above one half
   (``share_below_above_half``), or the median successful speed is below the threshold
   (``median_below_threshold``), or, for 5G, more than 5% of samples are below the 30 Mbps floor
   (``floor_share_missed``).
5. ``ok`` (``share_below_at_most_half``) otherwise.

Why these defaults: the FCC Broadband Data Collection mobile challenge process (Mobile Technical
Requirements Order, DA 22-241, Federal Register 2022-06826) does not accept one bad test: a
challenge needs several negative tests in a hexagon, spread over different times of day, all taken
between 06:00 and 22:00 local time (FCC BDC help centre, "Speed Test Data for Bulk Mobile
Challenges"). We follow the same spirit with five samples (five out of five below gives a Wilson
lower bound of 0.57 > 0.5: the smallest sample that can confirm anything) in two 4-hour slots.
i-Speed results are likewise published as medians over many tests, not single tests, which is why
the rule is about the share below the target (equivalently the median) and not any single sample.

Caveat: the Wilson interval assumes independent samples. Consecutive readings of one long test
(e.g. a phone app logging every second) are not independent, so the interval is then too narrow;
the time-slot rule is the guard, and such traces should be thinned or read with care.

Example
-------
>>> import pandas as pd
>>> from lomsong.analysis.thresholds import load_thresholds
>>> row = pd.DataFrame({"samples": [10], "failed": [0], "failed_no_service": [0], "judged": [10],
...     "slots": [3], "below": [9], "share_below": [0.9], "share_below_lo": [0.6],
...     "down_median_mbps": [20.0], "threshold_mbps": [40.0], "share_below_floor": [0.0],
...     "access": ["4g"]})
>>> classify_cells(row, load_thresholds())["status"].tolist()
['confirmed_weak']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lomsong.analysis._geo import require_columns
from lomsong.analysis.thresholds import Thresholds, load_thresholds

__all__ = ["SEVERITY", "STATUSES", "WEAK", "classify_cells"]

STATUSES = ("dead_spot", "confirmed_weak", "likely_weak", "ok", "insufficient_data")
WEAK = ("dead_spot", "confirmed_weak", "likely_weak")
# Severity for "worst of": insufficient data ranks lowest because it proves nothing.
SEVERITY = {"insufficient_data": 0, "ok": 1, "likely_weak": 2, "confirmed_weak": 3, "dead_spot": 4}
_NEEDED = ("samples", "failed_no_service", "judged", "slots", "share_below", "share_below_lo",
           "down_median_mbps", "threshold_mbps", "share_below_floor", "access")


def classify_cells(stats: pd.DataFrame, rules: Thresholds | None = None) -> pd.DataFrame:
    """Add `status` and `status_reason` to a statistics frame (a copy; the input is unchanged).

    Parameters
    ----------
    stats : DataFrame or GeoDataFrame
        Output of `analysis.cells.cell_stats` (or any frame with its statistics columns).
    rules : Thresholds, optional
        Rules and targets; `analysis/thresholds.toml` defaults when omitted.
    """
    thresholds = rules or load_thresholds()
    require_columns(stats, _NEEDED, "stats")
    r = thresholds.rules
    out = stats.copy()
    samples = out["samples"].to_numpy(dtype="float64")
    judged = out["judged"].to_numpy(dtype="float64")
    slots = out["slots"].to_numpy(dtype="float64")
    ns = out["failed_no_service"].to_numpy(dtype="float64")
    share = out["share_below"].to_numpy(dtype="float64")
    lo = out["share_below_lo"].to_numpy(dtype="float64")
    median = out["down_median_mbps"].to_numpy(dtype="float64")
    thr = out["threshold_mbps"].to_numpy(dtype="float64")
    floor_share = out["share_below_floor"].to_numpy(dtype="float64")
    allowed_floor = np.array(
        [
            1 - t.floor_share if (t := thresholds.access.get(a)) and t.floor_share else np.nan
            for a in out["access"].astype(str)
        ],
        dtype="float64",
    ).reshape(-1)

    all_ns_failed = (samples > 0) & (ns == samples) & (samples >= r.min_failed)
    enough = (judged >= r.min_samples) & (slots >= r.min_slots)
    with np.errstate(invalid="ignore"):
        confirmed = enough & (lo > r.weak_share)
        over_half = enough & (share > r.weak_share)
        median_low = enough & (median < thr)
        floor_missed = enough & (floor_share > allowed_floor)
    conditions = [
        all_ns_failed & (slots >= r.min_slots),
        all_ns_failed,
        samples == 0,
        judged == 0,
        judged < r.min_samples,
        slots < r.min_slots,
        confirmed,
        over_half,
        median_low,
        floor_missed,
    ]
    reasons = [
        "all_tests_failed_no_service", "all_failed_single_slot", "no_download_tests",
        "no_threshold", "too_few_samples", "too_few_time_slots", "wilson_lower_above_half",
        "share_below_above_half", "median_below_threshold", "floor_share_missed",
    ]
    statuses = [
        "dead_spot", "likely_weak", "insufficient_data", "insufficient_data", "insufficient_data",
        "insufficient_data", "confirmed_weak", "likely_weak", "likely_weak", "likely_weak",
    ]
    out["status"] = np.select(conditions, statuses, default="ok").astype(object)
    out["status_reason"] = np.select(
        conditions, reasons, default="share_below_at_most_half"
    ).astype(object)
    return out
