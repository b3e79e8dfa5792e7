"""Weak areas: dead spots from clustered failed tests, and contiguous weak cells with a cause.

Two kinds of area, per carrier and access:

- **dead spots** (`analysis.deadspots`): clusters of failed tests whose outline follows the
  failures, found even when successful tests share the H3 cell; status ``dead_spot``, cause
  ``no_service``;
- **weak cells** dissolved: a cell is weak when its worst status over the ``all`` and ``peak``
  windows is `dead_spot`, `confirmed_weak` or `likely_weak`. Each weak cell gets a cause from its
  own samples (`analysis.causes`); weak cells with the same cause that share an edge form one area,
  so an area has one cause and one action. A weak cell whose cause is no service and that touches a
  dead spot of the same carrier is that dead spot's, not an area of its own.

An area's statistics are recomputed from the raw samples inside it (not averaged over cells): tests,
failed tests, the local dates they span, medians of successful tests, and the window (``all`` or
``peak``) whose classification decided the status, with its share below and Wilson interval. Its
cause is judged again on all its samples, which gives the certainty and the congestion test.

Example
-------
>>> areas = weak_areas(classified, measurements)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import cast

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from lomsong.analysis._geo import cells_of, metric_crs, require_columns, to_wgs84
from lomsong.analysis._samples import samples_of
from lomsong.analysis.causes import CAUSE_COLUMNS, cause_inputs, judge_cause
from lomsong.analysis.cells import aggregate
from lomsong.analysis.classify import SEVERITY, WEAK, classify_cells
from lomsong.analysis.deadspots import dead_spot_clusters
from lomsong.analysis.thresholds import Thresholds, load_thresholds

__all__ = ["AREA_COLUMNS", "cell_status", "weak_areas"]

AREA_COLUMNS = [
    "area_id", "carrier", "access", "status", "cause", "cause_certainty", "cells", "area_km2",
    "samples", "failed", "failed_no_service", "first_date", "last_date", "deciding_window",
    "deciding_share_below", "deciding_share_lo", "deciding_share_hi", "down_median_mbps",
    "down_p10_mbps", "share_below", "worst_hour", "pcis", "bands", "cell_ids",
    "rsrp_median_dbm", "sinr_median_db", "peak_median_mbps", "offpeak_median_mbps",
    "threshold_mbps", *CAUSE_COLUMNS[2:], "cell_list",
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


def _candidates(measurements: gpd.GeoDataFrame, weak: pd.DataFrame,
                spots: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Cheap first cut before H3: rows of a weak carrier/access inside the weak places' box."""
    meas = to_wgs84(measurements, "measurements")
    corners = [p for c in weak["cell"].unique() for p in h3.cell_to_boundary(c)]
    for geom in spots.geometry:
        west, south, east, north = geom.bounds
        corners += [(south, west), (north, east)]
    box = np.array(corners)
    south, west = box.min(axis=0)
    north, east = box.max(axis=0)
    x = shapely.get_x(meas.geometry.to_numpy())
    y = shapely.get_y(meas.geometry.to_numpy())
    pairs = set(zip(weak["carrier"], weak["access"], strict=True))
    pairs |= set(zip(spots["carrier"], spots["access"], strict=True))
    combo = pd.MultiIndex.from_arrays([meas["carrier"].astype(object), meas["access"].astype(object)])
    with np.errstate(invalid="ignore"):
        keep = (y >= south) & (y <= north) & (x >= west) & (x <= east)
    keep &= np.asarray(combo.isin(list(pairs)))
    return meas[keep]


def _empty(crs: object) -> gpd.GeoDataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in AREA_COLUMNS})
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs="EPSG:4326")).to_crs(crs)


def _members(table: pd.DataFrame, area: dict[str, object],
             pairs: dict[tuple[str, str], np.ndarray],
             keyed: dict[tuple[int, str, str], np.ndarray]) -> np.ndarray:
    """Row positions of `table` inside an area (its cells, or a dead spot's outline)."""
    carrier, access = str(area["carrier"]), str(area["access"])
    outline = area.get("outline")
    if outline is None:
        parts = [keyed.get((h3.str_to_int(c), carrier, access), np.array([], dtype="int64"))
                 for c in area["cells"]]  # type: ignore[attr-defined]
        return np.sort(np.concatenate(parts)) if parts else np.array([], dtype="int64")
    rows = pairs.get((carrier, access), np.array([], dtype="int64"))
    lon, lat = table["lon"].to_numpy()[rows], table["lat"].to_numpy()[rows]
    west, south, east, north = outline.bounds  # type: ignore[attr-defined]
    with np.errstate(invalid="ignore"):
        box = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    rows, lon, lat = rows[box], lon[box], lat[box]
    inside: np.ndarray = rows[shapely.contains_xy(outline, lon, lat)]
    return inside


def _deciding(stats: pd.DataFrame, thresholds: Thresholds) -> pd.DataFrame:
    """Per area: the window (all, peak) whose classification is worst, with its share and
    interval."""
    judged = classify_cells(stats, thresholds)
    judged["sev"] = judged["status"].map(SEVERITY)
    judged["wo"] = judged["window"].map({"all": 0, "peak": 1})
    judged = judged[judged["wo"].notna()].sort_values(["area_id", "sev", "wo"],
                                                      ascending=[True, False, True])
    return judged.groupby("area_id").first()


def _areas_of(weak: pd.DataFrame, spots: gpd.GeoDataFrame) -> list[dict[str, object]]:
    """Dead spots first, then each carrier's weak cells grouped by cause and contiguity."""
    areas: list[dict[str, object]] = []
    numbers: dict[tuple[str, str], int] = {}

    def next_id(carrier: str, access: str) -> str:
        numbers[(carrier, access)] = numbers.get((carrier, access), 0) + 1
        return f"{carrier}-{access}-{numbers[(carrier, access)]:03d}"

    for _, spot in spots.sort_values(["carrier", "access"]).iterrows():
        areas.append({"area_id": next_id(spot["carrier"], spot["access"]),
                      "carrier": spot["carrier"], "access": spot["access"],
                      "status": "dead_spot", "cause": "no_service", "outline": spot.geometry})
    hexes = {c: shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)])
             for c in weak["cell"].unique()}
    for (carrier, access), pair in weak.groupby(["carrier", "access"], sort=True):
        mine = spots[(spots["carrier"] == carrier) & (spots["access"] == access)].geometry
        absorbed = pair["cause"].eq("no_service") & pair["cell"].map(
            lambda c, m=mine: bool(len(m)) and bool(m.intersects(hexes[c]).any()))
        for cause, group in pair[~absorbed].groupby("cause", sort=True):
            cells = sorted(group["cell"].astype(str))
            sev = dict(zip(group["cell"], group["status"].map(SEVERITY), strict=True))
            comp = _components(cells)
            for label in dict.fromkeys(comp):
                members = [c for c, k in zip(cells, comp, strict=True) if k == label]
                areas.append({"area_id": next_id(str(carrier), str(access)), "carrier": carrier,
                              "access": access, "cause": cause, "cells": members,
                              "status": _BY_SEVERITY[max(sev[c] for c in members)]})
    return areas


def weak_areas(
    classified: gpd.GeoDataFrame,
    measurements: gpd.GeoDataFrame,
    *,
    thresholds: Thresholds | None = None,
    samples: pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Dead spots and contiguous weak cells as areas with statistics and a likely cause.

    Parameters
    ----------
    classified : GeoDataFrame
        Output of `analysis.classify.classify_cells` on `analysis.cells.cell_stats`.
    measurements : GeoDataFrame
        The measurements the statistics came from (for per-area samples, PCIs, bands).
    thresholds : Thresholds, optional
        Must be the same as for the cell statistics; defaults from `thresholds.toml`.
    samples : DataFrame, optional
        The sample table of `measurements` at the resolution of `classified`, when the caller
        has made it already (`analysis.pipeline.run_survey`); subsets of it are used.

    Returns
    -------
    GeoDataFrame in the CRS of `classified`, one row per area, columns `AREA_COLUMNS`
    (`cell_list` holds the H3 cells of the area's tests, comma separated); empty when nothing is
    weak.
    """
    thresholds = thresholds or load_thresholds()
    to_wgs84(classified, "classified")
    status = cell_status(classified)
    weak = status[status["status"].isin(WEAK)]
    spots = dead_spot_clusters(measurements, thresholds, samples=samples)
    if weak.empty and spots.empty:
        return _empty(classified.crs)
    resolution = (h3.get_resolution(str(classified["cell"].iloc[0])) if not classified.empty
                  else 10)
    table = samples_of(samples, _candidates(measurements, weak, spots), thresholds, resolution)
    table = table.assign(sub=cells_of(table["lat"].to_numpy(), table["lon"].to_numpy(),
                                      min(resolution + 1, 15))).reset_index(drop=True)
    keyed = table.groupby(["cell", "carrier", "access"], observed=True).indices
    pairs = table.groupby(["carrier", "access"], observed=True).indices
    inputs = cause_inputs(table)
    thresholds_of = table["threshold"].to_numpy(dtype="float64")
    empty = np.array([], dtype="int64")
    causes = []
    for cell, carrier, access in zip(weak["cell"], weak["carrier"], weak["access"], strict=True):
        rows = keyed.get((h3.str_to_int(cell), carrier, access), empty)
        threshold = float(np.nanmedian(thresholds_of[rows])) if len(rows) else np.nan
        place = {name: values[rows] for name, values in inputs.items()}
        causes.append(judge_cause(place, str(access), threshold, thresholds)["cause"])
    weak = weak.assign(cause=causes)
    areas = _areas_of(weak, spots)
    member_rows = [_members(table, a, pairs, keyed) for a in areas]
    ids = np.concatenate([np.full(len(m), a["area_id"], dtype=object)
                          for a, m in zip(areas, member_rows, strict=True)])
    inside = table.iloc[np.concatenate(member_rows)].assign(area_id=ids)
    z = thresholds.rules.z
    stats = aggregate(inside, ["area_id"], z).set_index("area_id")
    split = inside.assign(window=np.where(inside["peak"].to_numpy(), "peak", "offpeak"))
    windows = pd.concat([aggregate(inside.assign(window="all"), ["area_id", "window"], z),
                         aggregate(split, ["area_id", "window"], z)])
    deciding = _deciding(windows.assign(access=windows["area_id"].map(
        {a["area_id"]: a["access"] for a in areas})), thresholds)
    medians = windows.set_index(["area_id", "window"])["down_median_mbps"]
    hourly = inside[inside["down_test"]].groupby(["area_id", "hour"]).agg(
        below=("below", "sum"), judged=("judged", "sum"), median=("down", "median"))
    hourly["share"] = hourly["below"] / hourly["judged"].where(hourly["judged"] > 0)
    hourly = hourly.reset_index().sort_values(
        ["area_id", "share", "median"], ascending=[True, False, True], na_position="last")
    worst_hour = hourly.groupby("area_id")["hour"].first()
    grouped = inside.groupby("area_id")
    pcis = grouped["pci"].agg(lambda v: _join(v, True))
    cell_ids = grouped["cell_id"].agg(lambda v: _join(v, True))
    bands = grouped["band"].agg(lambda v: _join(v, False))
    all_cells = table["cell"].to_numpy()
    local_day = pd.to_datetime(inside["day"], unit="D")
    first = local_day.groupby(inside["area_id"]).min()
    last = local_day.groupby(inside["area_id"]).max()
    rows_out = []
    for area, members in zip(areas, member_rows, strict=True):
        aid = str(area["area_id"])
        row = stats.loc[aid] if aid in stats.index else pd.Series(dtype=object)
        threshold = float(row.get("threshold_mbps", np.nan))
        place = {name: values[members] for name, values in inputs.items()}
        judged = judge_cause(place, str(area["access"]), threshold, thresholds)
        if judged["cause"] != area["cause"]:
            # Its cells agree on a cause that all its samples together do not show.
            judged.update(cause_certainty="low", cause_readings=0, cause_support=np.nan)
        cell_ints = np.unique(all_cells[members])
        listed = cast("list[str] | None", area.get("cells"))
        cells = list(listed or [h3.int_to_str(int(c)) for c in cell_ints])
        outline = area.get("outline")
        geometry = (outline if outline is not None
                    else shapely.geometry.shape(h3.cells_to_geo(cells)))
        dec = deciding.loc[aid] if aid in deciding.index else pd.Series(dtype=object)
        rows_out.append({
            **{c: row.get(c, np.nan) for c in stats.columns},
            **{c: judged[c] for c in CAUSE_COLUMNS[1:]},
            "area_id": aid, "carrier": area["carrier"], "access": area["access"],
            "status": area["status"], "cause": area["cause"], "cells": len(cells),
            "first_date": first.get(aid), "last_date": last.get(aid),
            "deciding_window": dec.get("window"),
            "deciding_share_below": dec.get("share_below", np.nan),
            "deciding_share_lo": dec.get("share_below_lo", np.nan),
            "deciding_share_hi": dec.get("share_below_hi", np.nan),
            "peak_median_mbps": medians.get((aid, "peak"), np.nan),
            "offpeak_median_mbps": medians.get((aid, "offpeak"), np.nan),
            "worst_hour": worst_hour.get(aid),
            "pcis": pcis.get(aid, ""), "cell_ids": cell_ids.get(aid, ""),
            "bands": bands.get(aid, ""),
            "cell_list": ",".join(sorted(cells)),
            "geometry": geometry,
        })
    out = pd.DataFrame(rows_out)
    for col in ("samples", "failed", "failed_no_service"):
        out[col] = out[col].fillna(0).astype("int64")
    out["worst_hour"] = out["worst_hour"].astype("Int64")
    for col in ("first_date", "last_date"):
        out[col] = pd.to_datetime(out[col]).dt.date
    out["area_km2"] = 0.0
    result = gpd.GeoDataFrame(out[[*AREA_COLUMNS, "geometry"]], geometry="geometry", crs="EPSG:4326")
    result["area_km2"] = result.geometry.to_crs(metric_crs(result)).area.to_numpy() / 1e6
    return result.to_crs(classified.crs)
