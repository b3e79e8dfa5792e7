"""The residential-group indicator of the ward plans, from the cell statuses of two periods.

The plans measure success with "Tỷ lệ các thôn, tổ dân phố đang lõm sóng ... được phủ sóng băng
rộng di động": of the residential groups in a dead spot at the start, the share that have mobile
broadband coverage since. Here, per carrier:

- a group's **status** in a period is the worst status of the cells touching it, where a cell's
  status is the best of its mobile accesses (a cell where 4G meets the target is covered even if
  5G does not reach it): ``dead_spot`` (a dead spot inside it), ``weak`` (confirmed or likely
  weak), ``ok``, or ``insufficient_data`` (no cell with enough samples);
- a group **in a dead spot at the start** has status ``dead_spot`` in the baseline period;
- it **has coverage since** when its status in the later period is ``ok``: every cell of it that
  has enough samples meets the target, proven by measurements of that period only. ``weak`` (a
  signal, below the target) and ``insufficient_data`` (not proven yet) do not count.

The indicator is covered / in a dead spot at the start, None when no group was in a dead spot.

Example
-------
>>> import pandas as pd
>>> before = pd.DataFrame({"group_id": ["A", "B"], "carrier": ["viettel"] * 2,
...                        "status": ["dead_spot", "dead_spot"]})
>>> after = pd.DataFrame({"group_id": ["A", "B"], "carrier": ["viettel"] * 2,
...                       "status": ["ok", "insufficient_data"]})
>>> indicator(before, after)[["carrier", "dead_at_start", "covered", "share"]].to_dict("records")
[{'carrier': 'viettel', 'dead_at_start': 2, 'covered': 1, 'share': 0.5}]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import geopandas as gpd
import pandas as pd

from lomsong.analysis._geo import hex_polygons, require_columns, to_wgs84
from lomsong.analysis.areas import cell_status
from lomsong.analysis.classify import SEVERITY
from lomsong.probe.record import Access

__all__ = ["GROUP_STATUSES", "MOBILE_ACCESSES", "group_status", "indicator", "indicator_series"]

GROUP_STATUSES = ("dead_spot", "weak", "ok", "insufficient_data")
# Mobile broadband (2G is not broadband).
MOBILE_ACCESSES = tuple(a.value for a in (Access.UMTS, Access.LTE, Access.NR_NSA, Access.NR_SA))
_GROUP_OF_CELL = {"dead_spot": "dead_spot", "confirmed_weak": "weak", "likely_weak": "weak",
                  "ok": "ok", "insufficient_data": "insufficient_data"}
# How good a cell status is, for the best over accesses (no data is the least informative).
_GOODNESS = {"ok": 4, "likely_weak": 3, "confirmed_weak": 2, "dead_spot": 1, "insufficient_data": 0}


def group_status(groups: gpd.GeoDataFrame, classified: pd.DataFrame,
                 carriers: Sequence[str] | None = None) -> pd.DataFrame:
    """Status of each group x carrier (module docstring) from `classified` cells.

    Parameters
    ----------
    groups : GeoDataFrame
        `analysis.groups.read_groups` output (``group_id``, ``name``, polygons).
    classified : DataFrame
        `analysis.classify.classify_cells` output (``cell``, ``carrier``, ``access``,
        ``window``, ``status``).
    carriers : sequence of str, optional
        Carriers to report (every group gets a row for each, ``insufficient_data`` when none of
        its cells was measured); those seen in `classified` when omitted.

    Returns
    -------
    DataFrame with ``group_id``, ``name``, ``carrier``, ``status``, ``cells`` (cells with enough
    data touching the group) and ``samples_cells`` (all measured cells touching it).
    """
    require_columns(groups, ("group_id", "name"), "groups")
    require_columns(classified, ("cell", "carrier", "access", "window", "status"), "classified")
    groups = to_wgs84(groups, "groups")
    mobile = classified[classified["access"].isin(MOBILE_ACCESSES)]
    status = cell_status(mobile) if not mobile.empty else pd.DataFrame(
        columns=["cell", "carrier", "access", "status"])
    seen = sorted(status["carrier"].unique()) if carriers is None else list(carriers)
    best = (status.assign(goodness=status["status"].map(_GOODNESS))
            .sort_values("goodness").groupby(["cell", "carrier"]).tail(1))
    cells = gpd.GeoDataFrame(best[["cell", "carrier", "status"]].reset_index(drop=True),
                             geometry=list(hex_polygons(best["cell"])), crs=groups.crs)
    touching = gpd.sjoin(cells, groups[["group_id", "geometry"]], predicate="intersects")
    rows = []
    for gid, name in zip(groups["group_id"], groups["name"], strict=True):
        mine = touching[touching["group_id"] == gid]
        for carrier in seen:
            own = mine[mine["carrier"] == carrier]
            known = own[own["status"] != "insufficient_data"]
            worst = (max(known["status"], key=SEVERITY.__getitem__) if not known.empty
                     else "insufficient_data")
            rows.append({"group_id": gid, "name": name, "carrier": carrier,
                         "status": _GROUP_OF_CELL[worst], "cells": len(known),
                         "samples_cells": len(own)})
    return pd.DataFrame(rows, columns=["group_id", "name", "carrier", "status", "cells",
                                       "samples_cells"])


def indicator(baseline: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """The indicator per carrier: groups in a dead spot in `baseline`, how many are ``ok`` in
    `current`, how many are still dead, weak or not proven, and the share (None when no group
    was in a dead spot). Both frames are `group_status` outputs."""
    for frame, name in ((baseline, "baseline"), (current, "current")):
        require_columns(frame, ("group_id", "carrier", "status"), name)
    start = baseline[baseline["status"] == "dead_spot"][["group_id", "carrier"]]
    joined = start.merge(current[["group_id", "carrier", "status"]], how="left",
                         on=["group_id", "carrier"])
    joined["status"] = joined["status"].fillna("insufficient_data")
    rows = []
    for carrier in sorted(set(baseline["carrier"]) | set(current["carrier"])):
        mine = joined[joined["carrier"] == carrier]["status"]
        dead = len(mine)
        covered = int((mine == "ok").sum())
        rows.append({"carrier": carrier, "dead_at_start": dead, "covered": covered,
                     "still_dead": int((mine == "dead_spot").sum()),
                     "weak": int((mine == "weak").sum()),
                     "not_proven": int((mine == "insufficient_data").sum()),
                     "share": covered / dead if dead else None})
    out = pd.DataFrame(rows, columns=["carrier", "dead_at_start", "covered", "still_dead",
                                      "weak", "not_proven", "share"])
    out["share"] = pd.Series([r["share"] for r in rows], index=out.index, dtype=object)
    return out


def indicator_series(baseline: pd.DataFrame,
                     periods: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """`indicator` of each later period (label -> `group_status`) against one baseline, with a
    ``period`` column, in the order given: the indicator over time."""
    frames = [indicator(baseline, current).assign(period=label)
              for label, current in periods.items()]
    if not frames:
        return indicator(baseline, baseline.iloc[0:0]).assign(period=pd.Series(dtype=object))
    return pd.concat(frames, ignore_index=True)
