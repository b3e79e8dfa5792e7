"""Weak areas: contiguous weak cells of one carrier and access, dissolved, with a likely cause.

A cell is weak for a carrier and access when its worst status over the ``all`` and ``peak`` windows
is `dead_spot`, `confirmed_weak` or `likely_weak` (so a cell that fails only at peak counts).
Each weak cell gets a likely cause from its own statistics (rules below); weak cells with the same
cause that share an edge (H3 neighbours) form one area, so an area has one cause and one action.
An ok or unmeasured cell between two weak cells, or a change of cause, splits them. An area's
statistics are recomputed from the raw samples of its cells (not averaged over cells).

Likely cause of a cell, first rule that holds (`CauseRules` in `analysis/thresholds.toml`):

1. ``no_service``: more than half of the samples failed with no service / attach failure / timeout;
2. ``congestion``: the off-peak median meets the threshold, the peak median does not, and the peak
   median is below `peak_drop_ratio` (0.7) x the off-peak median;
3. ``coverage``: median RSRP below `rsrp_poor_dbm` (-105 dBm);
4. ``interference``: median RSRP adequate but median SINR below `sinr_poor_db` (3 dB);
5. ``backhaul``: good radio (median RSRP >= `rsrp_good_dbm`, -100 dBm, and SINR >= `sinr_good_db`,
   13 dB) or a fixed line, yet slow at all hours: the bottleneck is behind the radio (transport,
   core, peering);
6. ``unknown``: middling radio (between the poor and good limits), or no radio readings: the
   data cannot tell radio limits from network limits.

Example
-------
>>> areas = weak_areas(classified, measurements)  # doctest: +SKIP
"""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from lomsong.analysis._geo import require_columns, to_wgs84
from lomsong.analysis._samples import sample_table
from lomsong.analysis.cells import aggregate
from lomsong.analysis.classify import SEVERITY, WEAK
from lomsong.analysis.thresholds import CauseRules, Thresholds, load_thresholds

__all__ = ["AREA_COLUMNS", "cell_status", "weak_areas"]

AREA_COLUMNS = [
    "area_id", "carrier", "access", "status", "cause", "cells", "area_km2", "samples",
    "down_median_mbps", "down_p10_mbps", "share_below", "worst_hour", "pcis", "bands", "cell_ids",
    "rsrp_median_dbm", "sinr_median_db", "peak_median_mbps", "offpeak_median_mbps",
    "threshold_mbps", "cell_list",
]
_BY_SEVERITY = {v: k for k, v in SEVERITY.items()}


def cell_status(classified: pd.DataFrame) -> pd.DataFrame:
    """Worst status of each cell x carrier x access over the ``all`` and ``peak`` windows."""
    require_columns(classified, ("cell", "carrier", "access", "window", "status"), "classified")
    rows = classified[classified["window"].isin(["all", "peak"])]
    sev = rows["status"].map(SEVERITY)
    worst = sev.groupby([rows["cell"], rows["carrier"], rows["access"]]).max()
    return worst.map(_BY_SEVERITY).rename("status").reset_index()


def _components(cells: list[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(cells)}
    rows, cols = [], []
    for i, c in enumerate(cells):
        for n in h3.grid_disk(c, 1):
            j = index.get(n)
            if j is not None:
                rows.append(i)
                cols.append(j)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(cells), len(cells)))
    labels: np.ndarray = connected_components(graph, directed=False)[1]
    return labels


def _join(values: pd.Series, numeric: bool) -> str:
    vals = values.dropna().unique()
    if numeric:
        return ",".join(str(int(v)) for v in sorted(vals))
    return ",".join(sorted(str(v) for v in vals))


def _cause(row: pd.Series, c: CauseRules) -> str:
    if row["samples"] > 0 and row["failed_no_service"] / row["samples"] > 0.5:
        return "no_service"
    peak, off, thr = row["peak_median_mbps"], row["offpeak_median_mbps"], row["threshold_mbps"]
    if off >= thr and peak < thr and peak < c.peak_drop_ratio * off:
        return "congestion"
    rsrp, sinr = row["rsrp_median_dbm"], row["sinr_median_db"]
    if rsrp < c.rsrp_poor_dbm:
        return "coverage"
    if rsrp >= c.rsrp_poor_dbm and sinr < c.sinr_poor_db:
        return "interference"
    if row["access"] == "fixed" or (rsrp >= c.rsrp_good_dbm and sinr >= c.sinr_good_db):
        return "backhaul"
    return "unknown"


def _candidates(measurements: gpd.GeoDataFrame, weak: pd.DataFrame) -> gpd.GeoDataFrame:
    """Cheap first cut before H3: rows of a weak carrier/access inside the weak cells' box."""
    meas = to_wgs84(measurements, "measurements")
    corners = np.array([p for c in weak["cell"].unique() for p in h3.cell_to_boundary(c)])
    south, west = corners.min(axis=0)
    north, east = corners.max(axis=0)
    x = shapely.get_x(meas.geometry.to_numpy())
    y = shapely.get_y(meas.geometry.to_numpy())
    pairs = set(zip(weak["carrier"], weak["access"], strict=True))
    combo = pd.MultiIndex.from_arrays([meas["carrier"].astype(object), meas["access"].astype(object)])
    with np.errstate(invalid="ignore"):
        keep = (y >= south) & (y <= north) & (x >= west) & (x <= east)
    keep &= np.asarray(combo.isin(list(pairs)))
    return meas[keep]


def _cell_causes(classified: pd.DataFrame, weak: pd.DataFrame, rules: CauseRules) -> list[str]:
    """The likely cause of each weak cell, from its own ``all``/``peak``/``offpeak`` statistics."""
    key = ["cell", "carrier", "access"]
    allw = classified[classified["window"] == "all"].set_index(key)
    peak = classified[classified["window"] == "peak"].set_index(key)["down_median_mbps"]
    off = classified[classified["window"] == "offpeak"].set_index(key)["down_median_mbps"]
    causes = []
    for cell, carrier, access in zip(weak["cell"], weak["carrier"], weak["access"], strict=True):
        k = (cell, carrier, access)
        row = allw.loc[k]
        causes.append(_cause(pd.Series({
            "samples": row["samples"], "failed_no_service": row["failed_no_service"],
            "threshold_mbps": row["threshold_mbps"], "access": access,
            "rsrp_median_dbm": row["rsrp_median_dbm"], "sinr_median_db": row["sinr_median_db"],
            "peak_median_mbps": peak.get(k, np.nan), "offpeak_median_mbps": off.get(k, np.nan),
        }), rules))
    return causes


def _empty(crs: object) -> gpd.GeoDataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in AREA_COLUMNS})
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs="EPSG:4326")).to_crs(crs)


def weak_areas(
    classified: gpd.GeoDataFrame,
    measurements: gpd.GeoDataFrame,
    *,
    thresholds: Thresholds | None = None,
) -> gpd.GeoDataFrame:
    """Dissolve contiguous weak cells into areas with statistics and a likely cause.

    Parameters
    ----------
    classified : GeoDataFrame
        Output of `analysis.classify.classify_cells` on `analysis.cells.cell_stats`.
    measurements : GeoDataFrame
        The measurements the statistics came from (for per-area samples, PCIs, bands).
    thresholds : Thresholds, optional
        Must be the same as for the cell statistics; defaults from `thresholds.toml`.

    Returns
    -------
    GeoDataFrame in the CRS of `classified`, one row per area, columns `AREA_COLUMNS`
    (`cell_list` holds the area's H3 cells, comma separated); empty when nothing is weak.
    """
    thresholds = thresholds or load_thresholds()
    to_wgs84(classified, "classified")
    status = cell_status(classified)
    weak = status[status["status"].isin(WEAK)]
    if weak.empty:
        return _empty(classified.crs)
    resolution = h3.get_resolution(str(weak["cell"].iloc[0]))
    weak = weak.assign(cause=_cell_causes(classified, weak, thresholds.cause))
    labels: dict[tuple[str, str, str], str] = {}
    area_cells: dict[str, list[str]] = {}
    area_status: dict[str, str] = {}
    area_cause: dict[str, str] = {}
    for (carrier, access), pair in weak.groupby(["carrier", "access"], sort=True):
        number = 0
        for cause, group in pair.groupby("cause", sort=True):
            cells = sorted(group["cell"].astype(str))
            sev = dict(zip(group["cell"], group["status"].map(SEVERITY), strict=True))
            comp = _components(cells)
            order = {c: number + k for k, c in enumerate(dict.fromkeys(comp))}
            number += len(order)
            for cell, label in zip(cells, comp, strict=True):
                area_id = f"{carrier}-{access}-{order[label] + 1:03d}"
                labels[(cell, str(carrier), str(access))] = area_id
                area_cells.setdefault(area_id, []).append(cell)
                area_cause[area_id] = str(cause)
                area_status[area_id] = _BY_SEVERITY[
                    max(SEVERITY[area_status.get(area_id, "insufficient_data")], sev[cell])
                ]
    table = sample_table(_candidates(measurements, weak), thresholds, resolution)
    table = table[np.isin(table["cell"], [h3.str_to_int(c) for c, _, _ in labels])]
    lookup = pd.Series(
        list(labels.values()),
        index=pd.MultiIndex.from_tuples(
            [(h3.str_to_int(c), ca, ac) for c, ca, ac in labels], names=["cell", "carrier", "access"]
        ),
    )
    keys = pd.MultiIndex.from_arrays([table["cell"], table["carrier"], table["access"]])
    table = table.assign(area_id=lookup.reindex(keys).to_numpy())
    table = table[table["area_id"].notna()]
    stats = aggregate(table, ["area_id"], thresholds.rules.z).set_index("area_id")
    by_window = table.groupby(["area_id", "peak"])["down"].median().unstack()
    stats["peak_median_mbps"] = by_window.get(True, pd.Series(dtype="float64"))
    stats["offpeak_median_mbps"] = by_window.get(False, pd.Series(dtype="float64"))
    hourly = table[table["down_test"]].groupby(["area_id", "hour"]).agg(
        below=("below", "sum"), judged=("judged", "sum"), median=("down", "median")
    )
    hourly["share"] = hourly["below"] / hourly["judged"].where(hourly["judged"] > 0)
    hourly = hourly.reset_index().sort_values(
        ["area_id", "share", "median"], ascending=[True, False, True], na_position="last"
    )
    stats["worst_hour"] = hourly.groupby("area_id")["hour"].first()
    grouped = table.groupby("area_id")
    stats["pcis"] = grouped["pci"].agg(lambda s: _join(s, True))
    stats["cell_ids"] = grouped["cell_id"].agg(lambda s: _join(s, True))
    stats["bands"] = grouped["band"].agg(lambda s: _join(s, False))

    rows = []
    for area_id, cells in area_cells.items():
        carrier, access = next((k[1], k[2]) for k, v in labels.items() if v == area_id)
        row = stats.loc[area_id] if area_id in stats.index else pd.Series(dtype=object)
        rows.append(
            {
                **{c: row.get(c, np.nan) for c in stats.columns},
                "area_id": area_id,
                "carrier": carrier,
                "access": access,
                "status": area_status[area_id],
                "cells": len(cells),
                "area_km2": float(sum(h3.cell_area(c, unit="km^2") for c in cells)),
                "cell_list": ",".join(sorted(cells)),
                "geometry": shapely.geometry.shape(h3.cells_to_geo(cells)),
            }
        )
    out = pd.DataFrame(rows)
    for col in ("samples", "failed_no_service"):
        out[col] = out[col].fillna(0).astype("int64")
    out["cause"] = out["area_id"].map(area_cause)
    out["worst_hour"] = out["worst_hour"].astype("Int64")
    result = gpd.GeoDataFrame(out[[*AREA_COLUMNS, "geometry"]], geometry="geometry", crs="EPSG:4326")
    return result.to_crs(classified.crs)
