"""What a volunteer must do at a planner stop, in plain words, and when.

`analysis.planner.coverage_gaps` names each gap with a code (``too_few_samples``,
``no_peak_samples``...). Volunteers never see the codes: each gap becomes a sentence in the
page's language naming the carrier, the technology and how many tests are missing, and each stop
gets the time window its gaps need (the evening peak of the ward's thresholds when a gap asks for
peak-hour tests, any time otherwise).

Example
-------
>>> from lomsong.analysis.thresholds import load_thresholds
>>> from lomsong.maps.i18n import translator
>>> gap = {"carrier": "viettel", "access": "4g", "gap": "no_peak_samples", "samples": 0,
...        "samples_needed": 1}
>>> need_text(gap, translator("en"), load_thresholds())
'Viettel 4G: no test yet in the evening peak; run at least 1 there between 19:00 and 22:00'
>>> window_text(["no_peak_samples"], translator("en"), load_thresholds())
'19:00-22:00 (evening peak)'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lomsong.analysis.thresholds import Thresholds
from lomsong.maps.i18n import N_, Gettext
from lomsong.maps.labels import label

__all__ = ["GAP_TEXTS", "PEAK_GAPS", "need_text", "window_text"]

# One sentence per gap code of `analysis.planner` ({what}: carrier and technology).
GAP_TEXTS: dict[str, str] = {
    "too_few_samples": N_("{what}: only {samples} usable tests here; run {needed} more"),
    "too_few_time_slots": N_("{what}: every test here was made in the same {hours}-hour block; "
                             "run {needed} more at another time or on another day"),
    "no_download_tests": N_("{what}: no download test here yet; run {needed}"),
    "no_peak_samples": N_("{what}: no test yet in the evening peak; run at least {needed} there "
                          "between {start} and {end}"),
    "carrier_missing": N_("{what}: never measured here; run {needed} tests with a SIM of this "
                          "carrier"),
}
PEAK_GAPS = frozenset({"no_peak_samples"})


def _hour(h: int) -> str:
    return f"{h % 24:02d}:00"


def need_text(gap: Mapping[str, Any], _: Gettext, thresholds: Thresholds) -> str:
    """The sentence for one gap row (`carrier`, `access`, `gap`, `samples`, `samples_needed`)."""
    code = str(gap["gap"])
    carrier = label("carrier", str(gap["carrier"]), _)
    access = str(gap.get("access") or "any")
    what = carrier if access == "any" else f"{carrier} {label('access', access, _)}"
    w, r = thresholds.windows, thresholds.rules
    template = GAP_TEXTS.get(code)
    if template is None:  # a code this module does not know yet: still no raw code shown
        return _("{what}: more tests needed here").format(what=what)
    return _(template).format(
        what=what, samples=int(gap.get("samples") or 0),
        needed=max(int(gap.get("samples_needed") or 0), 1), hours=r.slot_hours,
        start=_hour(w.peak_start_hour), end=_hour(w.peak_end_hour))


def window_text(codes: Iterable[str], _: Gettext, thresholds: Thresholds) -> str:
    """When to walk to a stop with these gaps: the evening peak if one needs it, else any time."""
    w = thresholds.windows
    if PEAK_GAPS & set(codes):
        return _("{start}-{end} (evening peak)").format(start=_hour(w.peak_start_hour),
                                                        end=_hour(w.peak_end_hour))
    return _("any time of day")
