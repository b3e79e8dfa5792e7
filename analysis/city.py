"""Comparing wards: one ward's survey summed up per carrier, and the status its map colour shows.

Inputs are the outputs of one ward's analysis (`analysis.sites.scorecards`,
`analysis.areas.weak_areas`) and optionally its residential-group indicator
(`analysis.indicator.indicator`); nothing is re-measured here.

- a service point **meets the target** for a carrier when one of its mobile accesses has the
  verdict ``ok``; it is **measured** for the carrier when any access has a verdict other than
  ``insufficient_data``;
- **dead spots** and **weak areas** count the carrier's areas by their status.

Example
-------
>>> import pandas as pd
>>> cards = pd.DataFrame({"site_id": ["A", "A", "B"], "carrier": ["viettel"] * 3,
...                       "access": ["4g", "5g_nsa", "4g"], "verdict": ["ok", "dead_spot",
...                       "insufficient_data"]})
>>> areas = pd.DataFrame({"carrier": ["viettel"], "status": ["dead_spot"]})
>>> row = ward_summary(cards, areas).iloc[0]
>>> int(row["points_measured"]), int(row["points_meeting_target"]), int(row["dead_spots"])
(1, 1, 1)
>>> ward_status(ward_summary(cards, areas))
'dead_spot'
"""

from __future__ import annotations

import pandas as pd

from lomsong.analysis._geo import require_columns
from lomsong.analysis.indicator import MOBILE_ACCESSES

__all__ = ["SUMMARY_COLUMNS", "WARD_STATUSES", "ward_status", "ward_summary"]

SUMMARY_COLUMNS = ["carrier", "points_measured", "points_meeting_target", "dead_spots",
                   "weak_areas", "groups_dead_at_start", "groups_covered", "indicator_share"]
WARD_STATUSES = ("dead_spot", "weak", "ok", "insufficient_data")


def ward_summary(scorecards: pd.DataFrame, weak_areas: pd.DataFrame,
                 indicator: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per carrier seen in any input (`SUMMARY_COLUMNS`); the indicator columns are
    None without an `indicator` (or for a carrier it has no row for)."""
    require_columns(scorecards, ("site_id", "carrier", "access", "verdict"), "scorecards")
    require_columns(weak_areas, ("carrier", "status"), "weak_areas")
    cards = scorecards[scorecards["access"].isin(MOBILE_ACCESSES)]
    by_carrier = {} if indicator is None else {
        str(r["carrier"]): r for r in indicator.to_dict("records")}
    carriers = sorted(set(cards["carrier"]) | set(weak_areas["carrier"]) | set(by_carrier))
    rows = []
    for carrier in carriers:
        own = cards[cards["carrier"] == carrier]
        measured = own[own["verdict"] != "insufficient_data"]["site_id"].nunique()
        meeting = own[own["verdict"] == "ok"]["site_id"].nunique()
        areas = weak_areas[weak_areas["carrier"] == carrier]["status"]
        ind = by_carrier.get(carrier)
        rows.append({
            "carrier": carrier, "points_measured": int(measured),
            "points_meeting_target": int(meeting),
            "dead_spots": int((areas == "dead_spot").sum()),
            "weak_areas": int((areas != "dead_spot").sum()),
            "groups_dead_at_start": None if ind is None else int(ind["dead_at_start"]),
            "groups_covered": None if ind is None else int(ind["covered"]),
            "indicator_share": None if ind is None else ind["share"],
        })
    out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    return out.astype(object).where(out.notna(), None)


def ward_status(summary: pd.DataFrame) -> str:
    """The ward's colour on the city map: ``dead_spot`` if any carrier has one, else ``weak``
    if any has a weak area, ``ok`` if a service point was measured, else ``insufficient_data``."""
    require_columns(summary, ("points_measured", "dead_spots", "weak_areas"), "summary")
    if (summary["dead_spots"] > 0).any():
        return "dead_spot"
    if (summary["weak_areas"] > 0).any():
        return "weak"
    if (summary["points_measured"] > 0).any():
        return "ok"
    return "insufficient_data"
