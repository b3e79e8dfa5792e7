"""Upgrade proposals per carrier: weak areas and failing service points, ranked by impact.

Targets: every weak area, and every service point whose verdict is weak (``dead_spot``,
``confirmed_weak``, ``likely_weak``) unless it lies inside a weak area of the same carrier and access
(that area's proposal already carries it). A service point inside an area counts as *affected*
only when that carrier's own verdict at the point (its scorecard) is weak: a point whose own tests
meet the target is not claimed as harmed because a polygon happens to cover it.

Action, from the cause (areas) or the radio at the point (service points):

- fixed lines: ``fixed_upgrade``;
- ``no_service`` or ``coverage`` (RSRP below the limit), or a dead spot of unknown cause: ``new_site``
  (new site or small cell);
- ``interference`` (adequate RSRP, low SINR): ``investigate_interference``;
- ``backhaul`` (good radio, slow at all hours): ``investigate_backhaul``;
- ``congestion`` (slow only at peak): on 4G ``nr_activation`` (add 5G NR carriers on the serving
  site, the largest capacity step available to Vietnamese carriers now), on 5G
  ``capacity_upgrade``;
- an unknown cause without a dead spot (middling radio, or a service point whose radio is not
  poor: a scorecard has no peak/off-peak split to tell congestion): ``capacity_upgrade``.

Impact score (documented so that a carrier can check it):
``severity x (1 + 2 x service_points_affected) x (0.5 + 0.5 x evidence) x (1 + ln(1 + cells))``
with severity 3 (dead spot), 2 (confirmed weak), 1 (likely weak), evidence = min(1, samples / 30)
and cells = 1 for a service point. Priority: ``high`` for a dead spot, or a confirmed weak target
that affects a service point; ``medium`` for other confirmed targets or any that affect a service
point; ``low`` otherwise.

Example
-------
>>> props = upgrade_proposals(areas, cards)  # doctest: +SKIP
"""

from __future__ import annotations

import math

import geopandas as gpd
import pandas as pd

from lomsong.analysis._geo import WGS84, require_columns, to_wgs84
from lomsong.analysis.classify import WEAK
from lomsong.analysis.thresholds import CauseRules, load_thresholds

__all__ = ["PRIORITY_LEVEL", "PROPOSAL_COLUMNS", "upgrade_proposals"]

PROPOSAL_COLUMNS = [
    "carrier", "rank", "target_type", "target_id", "target_name", "access", "action", "priority",
    "impact_score", "service_points_affected", "status", "evidence",
]
_SEVERITY = {"dead_spot": 3, "confirmed_weak": 2, "likely_weak": 1}
# The priorities a proposal gets, from least to most urgent.
PRIORITY_LEVEL = {"low": 1, "medium": 2, "high": 3}


def _action(cause: str, access: str, status: str) -> str:
    if access == "fixed":
        return "fixed_upgrade"
    if cause in ("no_service", "coverage") or (cause == "unknown" and status == "dead_spot"):
        return "new_site"
    if cause == "interference":
        return "investigate_interference"
    if cause == "backhaul":
        return "investigate_backhaul"
    if cause == "congestion":
        return "nr_activation" if access == "4g" else "capacity_upgrade"
    return "capacity_upgrade"


def _point_cause(row: pd.Series, c: CauseRules) -> str:
    if row["verdict"] == "dead_spot":
        return "no_service"
    if row["rsrp_median_dbm"] < c.rsrp_poor_dbm:
        return "coverage"
    if row["sinr_median_db"] < c.sinr_poor_db:
        return "interference"
    return "unknown"


def _fmt(value: object, pattern: str) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return pattern.format(value)


def _evidence(row: pd.Series) -> str:
    window = row.get("deciding_window")
    parts = [
        _fmt(row.get("samples"), "{} tests"),
        _fmt(row.get("failed"), "{} failed"),
        (f"{row['first_date']} to {row['last_date']}"
         if row.get("first_date") is not None and row.get("last_date") is not None else None),
        (f"{window} window {row['deciding_share_below']:.0%} below target "
         f"(95% interval {row['deciding_share_lo']:.0%}-{row['deciding_share_hi']:.0%})"
         if isinstance(window, str) else None),
        _fmt(row.get("down_median_mbps"), "median {:.1f} Mbps"),
        _fmt(row.get("threshold_mbps"), "target {:.0f} Mbps"),
        _fmt(row.get("share_below"), "{:.0%} below target"),
        _fmt(row.get("rsrp_median_dbm"), "RSRP {:.0f} dBm"),
        _fmt(row.get("sinr_median_db"), "SINR {:.1f} dB"),
        _fmt(row.get("worst_hour"), "worst hour {}:00"),
        _fmt(row.get("peak_median_mbps"), "peak median {:.1f} Mbps"),
        _fmt(row.get("offpeak_median_mbps"), "off-peak median {:.1f} Mbps"),
        f"PCI {row['pcis']}" if row.get("pcis") else None,
        f"cause {row['cause']}" if row.get("cause") else None,
        f"certainty {row['cause_certainty']}" if row.get("cause_certainty") else None,
        _fmt(row.get("congestion_p"), "Mann-Whitney p={:.2g}") if row.get("cause") == "congestion"
        else None,
    ]
    return "; ".join(p for p in parts if p)


def _score(status: str, spa: int, samples: float, cells: int) -> float:
    strength = min(1.0, (samples if samples == samples else 0.0) / 30.0)
    return round(_SEVERITY[status] * (1 + 2 * spa) * (0.5 + 0.5 * strength)
                 * (1 + math.log1p(cells)), 2)


def _priority(status: str, spa: int) -> str:
    if status == "dead_spot" or (status == "confirmed_weak" and spa > 0):
        return "high"
    if status == "confirmed_weak" or spa > 0:
        return "medium"
    return "low"


def upgrade_proposals(
    weak_areas: gpd.GeoDataFrame, scorecards: gpd.GeoDataFrame, *, cause_rules: CauseRules | None = None
) -> gpd.GeoDataFrame:
    """Rank proposals per carrier (rank 1 = highest impact).

    Parameters
    ----------
    weak_areas : GeoDataFrame
        From `analysis.areas.weak_areas`.
    scorecards : GeoDataFrame
        From `analysis.sites.scorecards` (may be empty: a ward with no service points).
    cause_rules : CauseRules, optional
        Radio limits for service-point targets; `thresholds.toml` defaults when omitted.

    Returns
    -------
    GeoDataFrame in the CRS of `weak_areas`, columns `PROPOSAL_COLUMNS` plus geometry.
    """
    rules = cause_rules or load_thresholds().cause
    areas = to_wgs84(weak_areas, "weak_areas")
    cards = to_wgs84(scorecards, "scorecards")
    require_columns(areas, ("area_id", "carrier", "access", "status", "cause"), "weak_areas")
    require_columns(cards, ("site_id", "name", "carrier", "access", "verdict"), "scorecards")
    sites = cards.drop_duplicates("site_id")[["site_id", "geometry"]]
    weak_here = set(zip(cards["site_id"], cards["carrier"], cards["access"], strict=True)) - {
        k for k, v in zip(zip(cards["site_id"], cards["carrier"], cards["access"], strict=True),
                          cards["verdict"], strict=True) if v not in WEAK}
    rows = []
    inside: set[tuple[str, str, str]] = set()
    for _, area in areas.iterrows():
        within = sites[sites.within(area.geometry)]["site_id"].tolist()
        hit = [s for s in within if (s, area["carrier"], area["access"]) in weak_here]
        inside.update((s, area["carrier"], area["access"]) for s in within)
        rows.append({
            "carrier": area["carrier"], "target_type": "weak_area", "target_id": area["area_id"],
            "target_name": area["area_id"], "access": area["access"],
            "action": _action(area["cause"], area["access"], area["status"]),
            "priority": _priority(area["status"], len(hit)),
            "impact_score": _score(area["status"], len(hit), area["samples"], area["cells"]),
            "service_points_affected": len(hit), "status": area["status"],
            "evidence": _evidence(area), "geometry": area.geometry,
        })
    failing = cards[cards["verdict"].isin(WEAK)]
    for _, card in failing.iterrows():
        if (card["site_id"], card["carrier"], card["access"]) in inside:
            continue
        cause = _point_cause(card, rules)
        rows.append({
            "carrier": card["carrier"], "target_type": "service_point",
            "target_id": card["site_id"], "target_name": card["name"], "access": card["access"],
            "action": _action(cause, card["access"], card["verdict"]),
            "priority": _priority(card["verdict"], 1),
            "impact_score": _score(card["verdict"], 1, card["samples"], 1),
            "service_points_affected": 1, "status": card["verdict"],
            "evidence": _evidence(card), "geometry": card.geometry,
        })
    if not rows:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in PROPOSAL_COLUMNS})
        empty = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=WGS84))
        return empty.to_crs(weak_areas.crs)
    out = pd.DataFrame(rows).sort_values(
        ["carrier", "impact_score", "target_id"], ascending=[True, False, True]
    )
    out["rank"] = out.groupby("carrier").cumcount() + 1
    result = gpd.GeoDataFrame(out[[*PROPOSAL_COLUMNS, "geometry"]].reset_index(drop=True),
                              geometry="geometry", crs=WGS84)
    return result.to_crs(weak_areas.crs)
