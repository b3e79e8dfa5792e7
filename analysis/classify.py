"""Classify cells (or any group with the statistics columns) into an honest status.

The rule, applied in this order to each row and the same in every time window (`Rules` from
`analysis/thresholds.toml`; the interval is Wilson's on the share of judged samples below the
target, failed tests counting as below, at `z` for "confirmed"/"ok" and `z_likely` for "likely"):

1. ``dead_spot`` (``all_tests_failed_no_service``): every sample failed with `no_service`,
   `attach_failed` or `timeout`, there are at least `min_failed` of them, in at least `min_slots`
   distinct time slots. With the same failures in a single slot: ``likely_weak``
   (``all_failed_single_slot``), since one outage is not a dead spot. (Dead spots smaller than a
   cell are found from the failed tests themselves: `analysis.deadspots`.)
2. ``insufficient_data``: no samples (``no_download_tests``); no target for this access technology,
   e.g. 3G or a fixed line without a plan speed (``no_threshold``); fewer than `min_samples`
   judged samples (``too_few_samples``); or fewer than `min_slots` distinct time slots, a slot
   being a local date and a `slot_hours` block (``too_few_time_slots``).
3. ``confirmed_weak`` (``wilson_lower_above_half``): the lower bound of the interval at `z` (95%)
   is above `weak_share`, i.e. the typical (median) test is below the target with 95% confidence.
4. ``likely_weak``: the lower bound at `z_likely` is above `weak_share`
   (``likely_lower_above_half``), or, for 5G, the share below the 30 Mbps floor is, at the same
   confidence, above what the floor allows (``floor_share_missed``).
5. ``ok`` (``wilson_upper_below_half``): the upper bound at `z` is below `weak_share`: the data
   support the claim that the typical test meets the target.
6. ``likely_ok`` (``likely_upper_below_half``): only the upper bound at `z_likely` is below it.
7. ``insufficient_data`` (``undecided``) otherwise: enough tests to count, too few to tell.

Why these defaults: the FCC Broadband Data Collection mobile challenge process (Mobile Technical
Requirements Order, DA 22-241, Federal Register 2022-06826) does not accept one bad test: a
challenge needs several negative tests in a hexagon, spread over different times of day, all taken
between 06:00 and 22:00 local time (FCC BDC help centre, "Speed Test Data for Bulk Mobile
Challenges"). We follow the same spirit with five samples (five out of five below gives a Wilson
lower bound of 0.57 > 0.5: the smallest sample that can confirm anything) in two 4-hour slots.
i-Speed results are likewise published as medians over many tests, not single tests, which is why
the rule is about the share below the target (equivalently the median) and not any single sample.
"ok" needs the same confidence as "weak": a cell is not called ok because it failed to look weak.

Caveat: the Wilson interval assumes independent samples. Consecutive readings of one long test
(e.g. a phone app logging every second) are not independent, so the interval is then too narrow;
the time-slot rule is the guard, and such traces should be thinned or read with care.

Example
-------
>>> import pandas as pd
>>> from lomsong.analysis.thresholds import load_thresholds
>>> rows = pd.DataFrame({"samples": [10, 10, 6], "failed_no_service": [0, 0, 0],
...     "judged": [10, 10, 6], "slots": [3, 3, 2], "below": [9, 0, 1], "below_floor": [0, 0, 0],
...     "access": ["4g", "4g", "4g"]})
>>> classify_cells(rows, load_thresholds())["status"].tolist()
['confirmed_weak', 'ok', 'likely_ok']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lomsong.analysis._geo import require_columns
from lomsong.analysis._samples import wilson
from lomsong.analysis.thresholds import Thresholds, load_thresholds

__all__ = ["SEVERITY", "STATUSES", "WEAK", "classify_cells"]

STATUSES = ("dead_spot", "confirmed_weak", "likely_weak", "likely_ok", "ok", "insufficient_data")
WEAK = ("dead_spot", "confirmed_weak", "likely_weak")
# Severity for "worst of": insufficient data ranks lowest because it proves nothing.
SEVERITY = {"insufficient_data": 0, "ok": 1, "likely_ok": 2, "likely_weak": 3,
            "confirmed_weak": 4, "dead_spot": 5}
_NEEDED = ("samples", "failed_no_service", "judged", "slots", "below", "below_floor", "access")


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
    below = out["below"].to_numpy(dtype="float64")
    lo, hi = wilson(below, judged, r.z)
    lo_likely, hi_likely = wilson(below, judged, r.z_likely)
    floor_lo = wilson(out["below_floor"].to_numpy(dtype="float64"), samples, r.z_likely)[0]
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
        conditions = [
            all_ns_failed & (slots >= r.min_slots),
            all_ns_failed,
            samples == 0,
            judged == 0,
            judged < r.min_samples,
            slots < r.min_slots,
            enough & (lo > r.weak_share),
            enough & (lo_likely > r.weak_share),
            enough & (floor_lo > allowed_floor),
            enough & (hi < r.weak_share),
            enough & (hi_likely < r.weak_share),
        ]
    reasons = [
        "all_tests_failed_no_service", "all_failed_single_slot", "no_download_tests",
        "no_threshold", "too_few_samples", "too_few_time_slots", "wilson_lower_above_half",
        "likely_lower_above_half", "floor_share_missed", "wilson_upper_below_half",
        "likely_upper_below_half",
    ]
    statuses = [
        "dead_spot", "likely_weak", "insufficient_data", "insufficient_data", "insufficient_data",
        "insufficient_data", "confirmed_weak", "likely_weak", "likely_weak", "ok", "likely_ok",
    ]
    out["status"] = np.select(conditions, statuses, default="insufficient_data").astype(object)
    out["status_reason"] = np.select(conditions, reasons, default="undecided").astype(object)
    return out
