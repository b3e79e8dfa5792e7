"""Coverage planner: where evidence is missing, and a walk route for volunteers to collect it.

Gaps, per cell (window ``all`` unless said):

- ``too_few_samples`` / ``too_few_time_slots`` / ``no_download_tests``: the cell's status is
  ``insufficient_data`` for that carrier and access (the reason of `analysis.classify`);
  ``samples_needed`` says how many more judged samples reach `min_samples`;
- ``no_peak_samples``: the carrier and access were measured in the cell, never at peak hours;
- ``carrier_missing``: a mobile carrier seen elsewhere in the survey (or listed in `carriers`) has no
  measurement at all in a cell where another mobile carrier was measured.

The route visits each gap cell's centre once: nearest-neighbour from the start (the given point, or
the westernmost gap cell), then improved with 2-opt (reverse any segment that shortens the open path)
until no reversal helps. Distances are straight lines in a local UTM projection, not along streets,
so the route is an order of visit, not turn-by-turn directions.

Example
-------
>>> gaps = coverage_gaps(classified)  # doctest: +SKIP
>>> route = suggest_walk_route(gaps, start=(21.0285, 105.8542))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from lomsong.analysis._geo import WGS84, hex_polygons, metric_crs, require_columns, to_wgs84
from lomsong.analysis.thresholds import Thresholds, load_thresholds

__all__ = ["GAP_COLUMNS", "MOBILE", "coverage_gaps", "suggest_walk_route"]

GAP_COLUMNS = ["cell", "carrier", "access", "gap", "samples", "samples_needed"]
MOBILE = ("4g", "5g_nsa", "5g_sa", "3g", "2g")
_MAX_PASSES = 50


def coverage_gaps(
    classified: gpd.GeoDataFrame,
    *,
    thresholds: Thresholds | None = None,
    carriers: Iterable[str] | None = None,
) -> gpd.GeoDataFrame:
    """List the cells where more measurements are needed (one row per cell x carrier x gap)."""
    thresholds = thresholds or load_thresholds()
    to_wgs84(classified, "classified")
    require_columns(classified, ("cell", "carrier", "access", "window", "samples", "judged",
                                 "status", "status_reason"), "classified")
    allw = classified[classified["window"] == "all"]
    parts = []
    thin = allw[allw["status"] == "insufficient_data"]
    thin = thin[thin["status_reason"].isin(["too_few_samples", "too_few_time_slots",
                                            "no_download_tests"])]
    parts.append(pd.DataFrame({
        "cell": thin["cell"], "carrier": thin["carrier"], "access": thin["access"],
        "gap": thin["status_reason"], "samples": thin["samples"],
        "samples_needed": (thresholds.rules.min_samples - thin["judged"]).clip(lower=0),
    }))
    peak = classified[(classified["window"] == "peak") & (classified["samples"] > 0)]
    measured = allw[allw["samples"] > 0]
    key = ["cell", "carrier", "access"]
    no_peak = measured.merge(peak[key], on=key, how="left", indicator=True)
    no_peak = no_peak[no_peak["_merge"] == "left_only"]
    parts.append(pd.DataFrame({
        "cell": no_peak["cell"], "carrier": no_peak["carrier"], "access": no_peak["access"],
        "gap": "no_peak_samples", "samples": 0, "samples_needed": 1,
    }))
    mobile = allw[allw["access"].isin(MOBILE)]
    expected = sorted(set(carriers) if carriers is not None else set(mobile["carrier"]))
    seen = set(zip(mobile["cell"], mobile["carrier"], strict=True))
    missing = [(c, k) for c in sorted(set(mobile["cell"])) for k in expected if (c, k) not in seen]
    parts.append(pd.DataFrame({
        "cell": [c for c, _ in missing], "carrier": [k for _, k in missing], "access": "any",
        "gap": "carrier_missing", "samples": 0, "samples_needed": thresholds.rules.min_samples,
    }))
    gaps = pd.concat(parts, ignore_index=True).sort_values(["cell", "carrier", "gap"])
    gaps = gaps.reset_index(drop=True)
    for col in ("samples", "samples_needed"):
        gaps[col] = gaps[col].astype("int64")
    geometry = gpd.GeoSeries(hex_polygons(gaps["cell"].astype(str)), crs=WGS84)
    result = gpd.GeoDataFrame(gaps[GAP_COLUMNS], geometry=geometry.to_numpy(), crs=WGS84)
    return result.to_crs(classified.crs)


def _two_opt(order: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Improve an open path whose first stop is fixed by reversing segments."""
    n = len(order)
    for _ in range(_MAX_PASSES):
        improved = False
        for i in range(1, n - 1):
            a, b = order[i - 1], order[i]
            js = np.arange(i + 1, n)
            c = order[js]
            nxt = np.where(js + 1 < n, order[np.minimum(js + 1, n - 1)], -1)
            has_next = nxt >= 0
            old = dist[a, b] + np.where(has_next, dist[c, np.maximum(nxt, 0)], 0.0)
            new = dist[a, c] + np.where(has_next, dist[b, np.maximum(nxt, 0)], 0.0)
            gain = old - new
            best = int(np.argmax(gain))
            if gain[best] > 1e-9:
                j = int(js[best])
                order[i : j + 1] = order[i : j + 1][::-1]
                improved = True
        if not improved:
            break
    return order


def suggest_walk_route(
    gaps: gpd.GeoDataFrame, *, start: tuple[float, float] | None = None
) -> gpd.GeoDataFrame:
    """Order the gap cells into a walk: nearest neighbour, then 2-opt.

    Parameters
    ----------
    gaps : GeoDataFrame
        From `coverage_gaps`.
    start : (lat, lon), optional
        Where the volunteer starts (e.g. the ward office); not itself a stop.

    Returns
    -------
    GeoDataFrame of points (cell centres) in the CRS of `gaps`: `order` (1..n), `cell`, `gaps`
    (kinds, comma separated), `leg_m` (from the previous stop or the start), `cumulative_m`.
    """
    to_wgs84(gaps, "gaps")
    require_columns(gaps, ("cell", "gap"), "gaps")
    kinds = gaps.groupby("cell")["gap"].agg(lambda s: ",".join(sorted(set(s))))
    cells = list(kinds.index.astype(str))
    columns = ["order", "cell", "gaps", "leg_m", "cumulative_m"]
    if not cells:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=WGS84)).to_crs(gaps.crs)
    latlng = np.array([h3.cell_to_latlng(c) for c in cells])
    pts = gpd.GeoSeries(shapely.points(latlng[:, 1], latlng[:, 0]), crs=WGS84)
    stops = pts
    if start is not None:
        stops = gpd.GeoSeries([shapely.Point(start[1], start[0]), *pts], crs=WGS84)
    xy = shapely.get_coordinates(stops.to_crs(metric_crs(gpd.GeoDataFrame(geometry=stops))))
    dist = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    first = 0 if start is not None else int(np.argmin(xy[:, 0]))
    order = [first]
    left = np.ones(len(xy), dtype=bool)
    left[first] = False
    while left.any():
        d = np.where(left, dist[order[-1]], np.inf)
        nxt = int(np.argmin(d))
        order.append(nxt)
        left[nxt] = False
    route = _two_opt(np.array(order), dist)
    legs = np.concatenate([[0.0], dist[route[:-1], route[1:]]])
    if start is not None:
        route, legs = route[1:] - 1, legs[1:]
    chosen = [cells[i] for i in route]
    frame = pd.DataFrame({
        "order": np.arange(1, len(chosen) + 1), "cell": chosen,
        "gaps": [kinds[c] for c in chosen], "leg_m": legs.round(1),
        "cumulative_m": np.cumsum(legs).round(1),
    })
    geometry = pts.iloc[list(route)].to_numpy()
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=WGS84).to_crs(gaps.crs)
