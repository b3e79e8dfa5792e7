"""Roll statistics up: to coarser H3 cells (weighted), and to administrative areas (exact).

`coarsen` sums the counts of fine cells into their H3 parents, so counts, shares below threshold
and Wilson intervals are exact; a median cannot be rebuilt from medians, so the coarse cell gets
`down_median_wmean_mbps`, the sample-weighted mean of its children's medians, named so nobody takes
it for a median. For exact medians over any polygons use `zone_stats`, which goes back to the
samples. (H3 children do not tile their parent exactly: a point's resolution-8 cell is not always
the parent of its resolution-10 cell, so `coarsen` follows the H3 hierarchy, not point positions.)

Example
-------
>>> coarse = coarsen(stats, 8)  # doctest: +SKIP
>>> wards = zone_stats(measurements, ward_polygons, zone_column="ward_code")  # doctest: +SKIP
"""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd

from lomsong.analysis._geo import WGS84, hex_polygons, require_columns, to_wgs84
from lomsong.analysis._samples import sample_table, wilson
from lomsong.analysis.cells import aggregate
from lomsong.analysis.thresholds import Thresholds, load_thresholds

__all__ = ["coarsen", "zone_stats"]

_COUNTS = ["samples", "failed", "failed_no_service", "judged", "below", "below_floor"]


def coarsen(
    stats: gpd.GeoDataFrame, resolution: int, *, thresholds: Thresholds | None = None
) -> gpd.GeoDataFrame:
    """Sum cell statistics into parent cells at `resolution` (coarser than the input)."""
    thresholds = thresholds or load_thresholds()
    to_wgs84(stats, "stats")
    require_columns(stats, ["cell", "carrier", "access", "window", *_COUNTS,
                            "down_median_mbps"], "stats")
    frame = pd.DataFrame(stats.drop(columns=stats.geometry.name))
    if not frame.empty and h3.get_resolution(str(frame["cell"].iloc[0])) < resolution:
        raise ValueError(f"resolution: {resolution} is finer than the statistics' cells")
    frame["cell"] = [h3.cell_to_parent(c, resolution) for c in frame["cell"]]
    weight = frame["samples"] - frame["failed"]
    frame["wsum"] = frame["down_median_mbps"].fillna(0) * weight.where(
        frame["down_median_mbps"].notna(), 0)
    frame["wn"] = weight.where(frame["down_median_mbps"].notna(), 0)
    keys = ["cell", "carrier", "access", "window"]
    out = frame.groupby(keys, sort=True)[[*_COUNTS, "wsum", "wn"]].sum().reset_index()
    out["children"] = frame.groupby(keys, sort=True).size().to_numpy()
    out["down_median_wmean_mbps"] = out["wsum"] / out["wn"].where(out["wn"] > 0)
    judged = out["judged"].to_numpy(dtype="float64")
    out["share_below"] = out["below"] / out["judged"].where(out["judged"] > 0)
    out["share_below_lo"], out["share_below_hi"] = wilson(out["below"].to_numpy(), judged,
                                                          thresholds.rules.z)
    out = out.drop(columns=["wsum", "wn"])
    geometry = gpd.GeoSeries(hex_polygons(out["cell"]), crs=WGS84)
    return gpd.GeoDataFrame(out, geometry=geometry.to_numpy(), crs=WGS84).to_crs(stats.crs)


def zone_stats(
    measurements: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    *,
    zone_column: str = "zone_id",
    thresholds: Thresholds | None = None,
) -> gpd.GeoDataFrame:
    """Exact statistics per zone (e.g. ward polygon) x carrier x access, window ``all``.

    A measurement counts in every zone that contains it; measurements outside all zones or without
    a position are left out.
    """
    thresholds = thresholds or load_thresholds()
    meas = to_wgs84(measurements, "measurements")
    polys = to_wgs84(zones, "zones")
    require_columns(polys, (zone_column,), "zones")
    table = sample_table(meas, thresholds, None).reset_index(drop=True)
    placed = table[np.isfinite(table["lat"])]
    pts = gpd.GeoDataFrame({"row": placed.index},
                           geometry=gpd.points_from_xy(placed["lon"], placed["lat"]), crs=WGS84)
    hit = gpd.sjoin(pts, polys[[zone_column, polys.geometry.name]], predicate="within")
    sel = table.loc[hit["row"].to_numpy()].assign(zone=hit[zone_column].to_numpy())
    stats = aggregate(sel, ["zone", "carrier", "access"], thresholds.rules.z)
    stats = stats.rename(columns={"zone": zone_column})
    shapes = dict(zip(polys[zone_column], polys.geometry, strict=False))
    geometry = gpd.GeoSeries([shapes[z] for z in stats[zone_column]], crs=WGS84)
    result = gpd.GeoDataFrame(stats, geometry=geometry.to_numpy(), crs=WGS84)
    return result.to_crs(zones.crs)
