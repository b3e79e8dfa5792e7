"""The likely cause of a weak place, with how sure it is, from its own samples.

Rules, first that holds (`CauseRules` and `Rules` in `analysis/thresholds.toml`); radio limits
are judged before load, so a slow cell edge is never called congested:

1. ``no_service``: more than half of the download tests failed with no service / attach failure /
   timeout. Certainty ``high`` with at least `min_failed` such failures in `min_slots` slots.
2. ``coverage``: at least `min_samples` RSRP readings with a median below `rsrp_poor_dbm`.
3. ``interference``: RSRP adequate, at least `min_samples` SINR readings with a median below
   `sinr_poor_db`.
4. ``congestion``: slow at peak, not off-peak, *at the same places*: only the sub-cells (H3, one
   resolution finer) with successful tests in both windows are compared, each window needs
   `min_samples` of them there; the off-peak median meets the target, the peak median does not and
   is below `peak_drop_ratio` x the off-peak median, and a one-sided Mann-Whitney U test (peak
   slower) gives p < `congestion_p`. Its effect size (the two medians) and p are returned.
5. ``backhaul``: a fixed line, or good radio (medians RSRP >= `rsrp_good_dbm`, SINR >=
   `sinr_good_db`), slow off-peak as well: the bottleneck is behind the radio. Found by elimination,
   so its certainty is at most ``medium``. With radio that is only adequate (not poor by rules
   2-3), a median speed under `backhaul_speed_ratio` x the target is still far below what that
   SINR carries (see `sinr_poor_db`): ``backhaul`` with certainty ``low``.
6. ``unknown`` otherwise (middling radio, too few readings, a peak dip the test cannot separate
   from a change of place); certainty ``low``.

Certainty of rules 2-3: ``high`` when the Wilson lower bound (at `z`) of the share of readings
beyond the limit is above one half, ``medium`` when only the one at `z_likely` is, else ``low``.
Congestion: ``high`` when p < `congestion_p_high`, else ``medium``.

Example
-------
>>> judged = judge_cause(cause_inputs(rows), "4g", 40.0, load_thresholds())  # doctest: +SKIP
>>> judged["cause"], judged["cause_certainty"]  # doctest: +SKIP
('coverage', 'high')
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

from lomsong.analysis._samples import wilson
from lomsong.analysis.thresholds import Thresholds

__all__ = ["CAUSE_COLUMNS", "CAUSE_INPUTS", "CERTAINTIES", "cause_inputs", "judge_cause"]

CAUSE_INPUTS = ("down_test", "down", "peak", "sub", "failed_no_service", "slot", "below", "rsrp",
                "sinr")

CERTAINTIES = ("high", "medium", "low")
CAUSE_COLUMNS = ["cause", "cause_certainty", "cause_readings", "cause_support", "congestion_p",
                 "congestion_peak_median_mbps", "congestion_offpeak_median_mbps",
                 "congestion_peak_n", "congestion_offpeak_n"]


def _support(k: int, n: int, thresholds: Thresholds) -> str:
    r = thresholds.rules
    if wilson(np.array([k]), np.array([n]), r.z)[0][0] > r.weak_share:
        return "high"
    if wilson(np.array([k]), np.array([n]), r.z_likely)[0][0] > r.weak_share:
        return "medium"
    return "low"


def _congestion(tests: Mapping[str, np.ndarray], t: Thresholds) -> dict[str, float]:
    down = tests["down"].astype("float64")
    ok = np.isfinite(down)
    sub, peak_flag, down = tests["sub"][ok], tests["peak"][ok].astype(bool), down[ok]
    matched = np.isin(sub, np.intersect1d(sub[peak_flag], sub[~peak_flag]))
    peak = down[matched & peak_flag]
    off = down[matched & ~peak_flag]
    out = {"congestion_peak_n": float(len(peak)), "congestion_offpeak_n": float(len(off)),
           "congestion_peak_median_mbps": math.nan, "congestion_offpeak_median_mbps": math.nan,
           "congestion_p": math.nan}
    if len(peak) < t.rules.min_samples or len(off) < t.rules.min_samples:
        return out
    out["congestion_peak_median_mbps"] = float(np.median(peak))
    out["congestion_offpeak_median_mbps"] = float(np.median(off))
    out["congestion_p"] = float(mannwhitneyu(peak, off, alternative="less").pvalue)
    return out


def cause_inputs(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """The columns `judge_cause` reads, as arrays (take rows from them with an index array)."""
    return {name: table[name].to_numpy() for name in CAUSE_INPUTS}


def judge_cause(rows: Mapping[str, np.ndarray], access: str, threshold: float,
                thresholds: Thresholds) -> dict[str, object]:
    """Cause of one place from its sample rows: `cause_inputs` of a sample table
    (`analysis._samples.sample_table` plus ``sub``, the finer H3 cell of each row) restricted to
    the place, with `CAUSE_COLUMNS`."""
    c, r = thresholds.cause, thresholds.rules
    keep = rows["down_test"].astype(bool)
    tests = {name: values[keep] for name, values in rows.items()}
    out: dict[str, object] = {"cause": "unknown", "cause_certainty": "low", "cause_readings": 0,
                              "cause_support": math.nan}
    out.update(_congestion(tests, thresholds))
    n = int(keep.sum())
    if n == 0:
        return out
    no_service = tests["failed_no_service"].astype(bool)
    failed = int(no_service.sum())
    if failed / n > 0.5:
        sure = failed >= r.min_failed and len(np.unique(tests["slot"][no_service])) >= r.min_slots
        out.update(cause="no_service", cause_certainty="high" if sure else "medium",
                   cause_readings=n, cause_support=failed / n)
        return out
    below = tests["below"].astype(bool)
    off = ~tests["peak"].astype(bool)
    off_slow = bool(off.any()) and float(below[off].mean()) > r.weak_share
    if access == "fixed":
        out.update(cause="backhaul", cause_certainty="medium" if off_slow else "low",
                   cause_readings=n, cause_support=float(below.mean()))
        return out
    rsrp = tests["rsrp"].astype("float64")
    rsrp = rsrp[np.isfinite(rsrp)]
    sinr = tests["sinr"].astype("float64")
    sinr = sinr[np.isfinite(sinr)]
    radio_known = len(rsrp) >= r.min_samples and len(sinr) >= r.min_samples
    if radio_known and np.median(rsrp) < c.rsrp_poor_dbm:
        k = int((rsrp < c.rsrp_poor_dbm).sum())
        out.update(cause="coverage", cause_certainty=_support(k, len(rsrp), thresholds),
                   cause_readings=len(rsrp), cause_support=k / len(rsrp))
        return out
    if radio_known and np.median(sinr) < c.sinr_poor_db:
        k = int((sinr < c.sinr_poor_db).sum())
        out.update(cause="interference", cause_certainty=_support(k, len(sinr), thresholds),
                   cause_readings=len(sinr), cause_support=k / len(sinr))
        return out
    peak_med = out["congestion_peak_median_mbps"]
    off_med = out["congestion_offpeak_median_mbps"]
    p = out["congestion_p"]
    if (isinstance(p, float) and p < c.congestion_p and isinstance(peak_med, float)
            and isinstance(off_med, float) and off_med >= threshold > peak_med
            and peak_med < c.peak_drop_ratio * off_med):
        out.update(cause="congestion",
                   cause_certainty="high" if p < c.congestion_p_high else "medium",
                   cause_readings=int(out["congestion_peak_n"])  # type: ignore[call-overload]
                   + int(out["congestion_offpeak_n"]),  # type: ignore[call-overload]
                   cause_support=math.nan)
        return out
    good = (radio_known and np.median(rsrp) >= c.rsrp_good_dbm
            and np.median(sinr) >= c.sinr_good_db)
    speeds = tests["down"].astype("float64")
    speeds = speeds[np.isfinite(speeds)]
    far_below = (radio_known and len(speeds) > 0
                 and float(np.median(speeds)) < c.backhaul_speed_ratio * threshold)
    if off_slow and (good or far_below):
        k = int((rsrp >= c.rsrp_good_dbm).sum() if good else (sinr >= c.sinr_poor_db).sum())
        n_radio = len(rsrp) if good else len(sinr)
        support = _support(k, n_radio, thresholds)
        out.update(cause="backhaul",
                   cause_certainty="medium" if good and support != "low" else "low",
                   cause_readings=n_radio, cause_support=k / n_radio)
    return out
