"""Dead spots where they are: clusters of failed tests, whatever cells they fall in.

A dead spot of 50-200 m never fills an H3 resolution-10 cell (tests from its edges share the cell),
so the cell rule of `analysis.classify` misses it. Here the failed tests themselves are clustered:

1. per carrier and access, take the download tests that failed with no service, attach failure or
   timeout, and link any two closer than `dead_spot_link_m` (single linkage, like DBSCAN with a
   minimum of one point: the distance chain follows streets);
2. a cluster is a candidate when it holds at least `min_failed` failed tests in at least
   `min_slots` distinct time slots (the cell rule's own minimum: one outage is not a dead spot);
3. its outline is the convex hull of the failed tests, widened by `dead_spot_margin_m`;
4. it is a dead spot when, among all download tests of that carrier and access inside the hull
   (not the widened outline: the margin would count the working street beyond the edge), the
   share that failed is above `weak_share` with the lower bound of its Wilson interval at
   `z_likely` above it too. A busy fixed probe that timed out a few times in hundreds of tests is
   no dead spot; a walked street where nearly every test failed is, even if a successful test
   from the next street shares the cell.

Example
-------
>>> spots = dead_spot_clusters(measurements, load_thresholds())  # doctest: +SKIP
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from lomsong.analysis._geo import WGS84, to_wgs84
from lomsong.analysis._samples import samples_of, wilson
from lomsong.analysis.thresholds import Thresholds

__all__ = ["DEAD_SPOT_COLUMNS", "dead_spot_clusters"]

DEAD_SPOT_COLUMNS = ["carrier", "access", "failed_in_cluster", "tests_inside", "failed_inside",
                     "slots"]
_M_PER_DEG_LAT = 110_574.0


def _local_xy(lat: np.ndarray, lon: np.ndarray, lat0: float) -> np.ndarray:
    return np.column_stack([lon * 111_320.0 * np.cos(np.radians(lat0)), lat * _M_PER_DEG_LAT])


def _to_lonlat(geom: shapely.Geometry, lat0: float) -> shapely.Geometry:
    scale = 111_320.0 * np.cos(np.radians(lat0))
    return shapely.transform(geom, lambda c: np.column_stack([c[:, 0] / scale,
                                                              c[:, 1] / _M_PER_DEG_LAT]))


def _clusters(xy: np.ndarray, link_m: float) -> np.ndarray:
    pairs = cKDTree(xy).query_pairs(link_m, output_type="ndarray")
    n = len(xy)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    labels: np.ndarray = connected_components(graph, directed=False)[1]
    return labels


def dead_spot_clusters(measurements: gpd.GeoDataFrame, thresholds: Thresholds, *,
                       samples: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """Dead-spot outlines per carrier and access (rules in the module docstring); `samples`:
    the sample table of `measurements` when the caller has made it (any resolution).

    Returns
    -------
    GeoDataFrame (EPSG:4326) with `DEAD_SPOT_COLUMNS` and the outline polygon; empty when none.
    """
    r = thresholds.rules
    meas = to_wgs84(measurements, "measurements")
    downs = meas[(meas["kind"] == "throughput_down").to_numpy()]
    table = samples_of(samples, downs, thresholds, None)
    table = table[table["down_test"] & np.isfinite(table["lat"]) & np.isfinite(table["lon"])]
    rows: list[dict[str, object]] = []
    if table.empty:
        return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in DEAD_SPOT_COLUMNS},
                                geometry=gpd.GeoSeries([], crs=WGS84))
    for (carrier, access), group in table.groupby(["carrier", "access"], observed=True, sort=True):
        failed = group[group["failed_no_service"]]
        if len(failed) < r.min_failed:
            continue
        # From the failed tests only, so any selection that holds them gives the same outline.
        lat0 = float(failed["lat"].median())
        xy_all = _local_xy(group["lat"].to_numpy(), group["lon"].to_numpy(), lat0)
        xy = _local_xy(failed["lat"].to_numpy(), failed["lon"].to_numpy(), lat0)
        labels = _clusters(xy, r.dead_spot_link_m)
        slots = failed["slot"].to_numpy()
        for label in np.unique(labels):
            members = labels == label
            if members.sum() < r.min_failed or len(np.unique(slots[members])) < r.min_slots:
                continue
            hull = shapely.MultiPoint(xy[members]).convex_hull
            outline = hull.buffer(r.dead_spot_margin_m)
            inside = shapely.contains_xy(hull.buffer(1.0), xy_all[:, 0], xy_all[:, 1])
            tests = int(inside.sum())
            down_failed = int(group["failed_no_service"].to_numpy()[inside].sum())
            lo = wilson(np.array([down_failed]), np.array([tests]), r.z_likely)[0][0]
            if not (down_failed / tests > r.weak_share and lo > r.weak_share):
                continue
            rows.append({"carrier": str(carrier), "access": str(access),
                         "failed_in_cluster": int(members.sum()), "tests_inside": tests,
                         "failed_inside": down_failed,
                         "slots": len(np.unique(slots[members])),
                         "geometry": _to_lonlat(outline, lat0)})
    if not rows:
        return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in DEAD_SPOT_COLUMNS},
                                geometry=gpd.GeoSeries([], crs=WGS84))
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=WGS84)
