"""When to stop a throughput test: a pure rule over the intervals seen so far.

Mobile data is expensive, so a test stops as soon as it has answered "above or below the
threshold", and no later than its byte cap or maximum duration. The rule, applied after every
reporting interval (0.2 s by default), in this order:

1. **Byte cap.** Stop when the bytes moved so far plus one more interval like the last would pass
   `bytes_cap` (so the cap is not overshot by the interval in progress).
2. **Maximum duration.** Stop when the last interval ends at or after `max_duration_s`.
3. **Stable and clear.** The *window* is every interval that starts at or after `warmup_s`
   (0.6 s). The estimate stands for what a fixed test of `reference_s` (10 s, the fixed method's
   duration) would report: the bytes of the intervals before the window, plus the window's
   time-weighted mean rate (its bytes over its seconds) for the rest of the `reference_s`, over
   `reference_s` (see "Why the start-up counts" below). Its uncertainty is a 95% confidence
   interval ``estimate +- t * se`` where `se` is a heteroskedasticity-and-autocorrelation-
   consistent standard error of the mean of the interval rates (Bartlett weights, lag `hac_lag`
   = 2), scaled by the window's share of `reference_s`, and `t` the Student quantile for n - 1
   degrees of freedom. Stop when the window spans at least `min_window_s` (1.0 s), the relative
   half-width ``t * se / estimate`` is at most `max_rel_half_width` (2.5%) **and** the interval
   excludes `threshold_mbps` (without a threshold, stability alone suffices).

Uploads count bytes at the sender, where they are written into the socket buffer in chunks as it
drains (recorded here on a 40 Mbit/s link: 960 KB in most 0.2 s intervals, 800 KB in one of about
six), so a short run of equal intervals says little about the rate. `AdaptiveIperf3Runner`
therefore gives upload tests a window of at least `UPLOAD_MIN_WINDOW_S` (2.0 s), which bounds that
chunking's effect to about one chunk in ten intervals.

Why a 0.6 s warm-up: TCP slow start from 10 segments reaches 100 Mbit/s on a 50 ms path in
about seven round trips (0.35 s); then comes the recovery from its overshoot. An upload's first
interval also counts the send buffer being filled (recorded here: 77 Mbit/s reported in the first
0.2 s on a 40 Mbit/s link). 0.6 s clears both on the links we measure; a rate still rising after
it widens the interval and delays the stop rather than ending the test on a wrong number.

Why the start-up counts: a fixed test's rate includes TCP's start-up, which moves fewer bytes
than the rate that follows; the longer the round trip, the larger that share. The window mean
alone leaves it out and read 3-8% above the fixed 10 s test on 4G-like links (60 ms round trip,
random loss; issue 12), while tests of both methods meet in the same analysis. The start-up seen
in the test's own first `warmup_s` stands for the fixed test's; `reference_s` None gives the
window mean alone.

Why HAC rather than the plain standard error: bytes move between neighbouring intervals (a
sender's writes come in chunks as its socket buffer drains; timer jitter shifts packets across a
boundary), which makes neighbouring interval rates negatively correlated; TCP's sawtooth makes
them positively correlated. Lagged covariances account for both in the spread of the mean.

Example
-------
>>> from lomsong.probe.runners.iperf3_text import Interval
>>> steady = [Interval(i / 5, (i + 1) / 5, 956_000, 38.24e6) for i in range(12)]
>>> decide(steady, StopRule(threshold_mbps=40)).reason
<StopReason.STABLE: 'stable'>
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from lomsong.probe.runners.iperf3_text import Interval

__all__ = [
    "DEFAULT_MAX_DURATION_S",
    "FIXED_TEST_S",
    "UPLOAD_MIN_WINDOW_S",
    "Decision",
    "Estimate",
    "StopReason",
    "StopRule",
    "decide",
    "estimate",
    "limit_reached",
    "t_quantile_975",
]

# Two-sided 95% Student t quantiles for 1..30 degrees of freedom.
_T975: Final = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
_EPS_S: Final = 1e-6
UPLOAD_MIN_WINDOW_S: Final = 2.0
# The one default cap of an early-stopping test, for the scheduler (`PathSettings.adaptive_max_s`)
# and `lomsong probe measure --adaptive` alike: on a lossy 4G-like link the rule rarely calls the
# answer clear sooner, and 2.5 s of a 10 s test's bytes keeps such a test near a quarter of them.
DEFAULT_MAX_DURATION_S: Final = 2.5
# The duration of the fixed method's test (`PathSettings.duration_s`, `lomsong probe measure`),
# which an early-stopping estimate stands for (`StopRule.reference_s`).
FIXED_TEST_S: Final = 10


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t (two-sided 95%); for df > 30, ``1.96 + 2.4 / df``.

    >>> t_quantile_975(9)
    2.262
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    return _T975[df - 1] if df <= len(_T975) else 1.96 + 2.4 / df


class StopReason(StrEnum):
    STABLE = "stable"
    BYTE_CAP = "byte_cap"
    MAX_DURATION = "max_duration"


@dataclass(frozen=True, slots=True)
class StopRule:
    """The parameters of the rule in the module docstring."""

    threshold_mbps: float | None = None
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    bytes_cap: int | None = None
    warmup_s: float = 0.6
    min_window_s: float = 1.0
    max_rel_half_width: float = 0.025
    hac_lag: int = 2
    reference_s: float | None = FIXED_TEST_S

    def __post_init__(self) -> None:
        if self.max_duration_s <= 0 or self.warmup_s < 0 or self.min_window_s <= 0:
            raise ValueError(f"durations must be positive: {self}")
        if not 0 < self.max_rel_half_width < 1 or self.hac_lag < 0:
            raise ValueError(f"max_rel_half_width must be in (0, 1) and hac_lag >= 0: {self}")
        if self.reference_s is not None and self.reference_s <= 0:
            raise ValueError(f"reference_s must be positive: {self}")


@dataclass(frozen=True, slots=True)
class Estimate:
    """The estimated rate (rule 3 of the module docstring) and its 95% interval (half-width None
    below 3 intervals); `window_mbps`: the window's own mean rate."""

    mbps: float
    half_width_mbps: float | None
    window_start_s: float
    window_end_s: float
    n_intervals: int
    window_mbps: float

    @property
    def rel_half_width(self) -> float | None:
        if self.half_width_mbps is None or self.mbps <= 0:
            return None
        return self.half_width_mbps / self.mbps

    def excludes(self, threshold_mbps: float) -> bool:
        """True when the whole interval lies on one side of `threshold_mbps`."""
        if self.half_width_mbps is None:
            return False
        return abs(self.mbps - threshold_mbps) > self.half_width_mbps


@dataclass(frozen=True, slots=True)
class Decision:
    stop: bool
    reason: StopReason | None
    estimate: Estimate | None


def _hac_se(rates: Sequence[float], lag: int) -> float:
    n = len(rates)
    mean = sum(rates) / n
    dev = [r - mean for r in rates]
    lrv = sum(d * d for d in dev) / n
    for k in range(1, min(lag, n - 1) + 1):
        weight = 1 - k / (lag + 1)
        lrv += 2 * weight * sum(dev[i] * dev[i - k] for i in range(k, n)) / n
    return math.sqrt(max(lrv, 0.0) / (n - 1))


def estimate(intervals: Sequence[Interval], rule: StopRule) -> Estimate | None:
    """The estimate after the warm-up (rule 3); None until the window has an interval.

    >>> from lomsong.probe.runners.iperf3_text import Interval
    >>> ivs = [Interval(0.0, 0.6, 1_500_000, 20e6), Interval(0.6, 0.8, 1_000_000, 40e6)]
    >>> est = estimate(ivs, StopRule())
    >>> est.window_mbps, round(est.mbps, 3)  # (0.6 s x 20 + 9.4 s x 40) / 10
    (40.0, 38.8)
    """
    window = [i for i in intervals if i.start_s >= rule.warmup_s - _EPS_S and i.seconds > 0]
    if not window:
        return None
    seconds = sum(i.seconds for i in window)
    window_mbps = sum(i.rate_bps * i.seconds for i in window) / seconds / 1e6
    half_width = None
    if len(window) >= 3:
        rates = [i.rate_bps / 1e6 for i in window]
        half_width = t_quantile_975(len(window) - 1) * _hac_se(rates, rule.hac_lag)
    lead_s = window[0].start_s
    mbps = window_mbps
    if rule.reference_s is not None and 0 < lead_s < rule.reference_s:
        lead = [i for i in intervals if i.end_s <= lead_s + _EPS_S and i.seconds > 0]
        lead_mbit = sum(i.rate_bps * i.seconds for i in lead) / 1e6
        share = (rule.reference_s - lead_s) / rule.reference_s
        mbps = lead_mbit / rule.reference_s + window_mbps * share
        half_width = None if half_width is None else half_width * share
    return Estimate(mbps, half_width, window[0].start_s, window[-1].end_s, len(window), window_mbps)


def limit_reached(intervals: Sequence[Interval], rule: StopRule) -> StopReason | None:
    """Rules 1 and 2 alone: the byte cap or the maximum duration, else None.

    >>> from lomsong.probe.runners.iperf3_text import Interval
    >>> limit_reached([Interval(0.0, 3.0, 1000, 2667.0)], StopRule(max_duration_s=3.0))
    <StopReason.MAX_DURATION: 'max_duration'>
    """
    if not intervals:
        return None
    last = intervals[-1]
    if rule.bytes_cap is not None and sum(i.bytes for i in intervals) + last.bytes > rule.bytes_cap:
        return StopReason.BYTE_CAP
    if last.end_s >= rule.max_duration_s - _EPS_S:
        return StopReason.MAX_DURATION
    return None


def decide(intervals: Sequence[Interval], rule: StopRule) -> Decision:
    """Apply the rule of the module docstring to the intervals seen so far.

    >>> decide([], StopRule()).stop
    False
    """
    if not intervals:
        return Decision(False, None, None)
    est = estimate(intervals, rule)
    limit = limit_reached(intervals, rule)
    if limit is not None:
        return Decision(True, limit, est)
    if est is None or est.window_end_s - est.window_start_s < rule.min_window_s - _EPS_S:
        return Decision(False, None, est)
    rel = est.rel_half_width
    stable = rel is not None and rel <= rule.max_rel_half_width
    clear = rule.threshold_mbps is None or est.excludes(rule.threshold_mbps)
    return Decision(stable and clear, StopReason.STABLE if stable and clear else None, est)
