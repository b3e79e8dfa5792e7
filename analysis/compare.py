"""Carriers side by side per area, with a test of whether the differences are real.

In each area every carrier is compared with the area's best carrier (highest median download) by
two tests, each answering a different question:

- **Mann-Whitney U** (two-sided) on the successful download speeds: do one carrier's speeds tend
  to be higher? It assumes no distribution; throughput is skewed with long tails, so a t-test on
  means would be misled by a few very fast tests.
- **Two-proportion z-test** (two-sided, pooled) on the share of samples below the threshold, with
  failed tests counted as below: it compares the very quantity the classification uses, and unlike
  the speed test it sees failures (a failed test has no speed).

p-values are Bonferroni-adjusted for the number of comparisons in the area (carriers - 1);
`significant_speed` / `significant_share` mean an adjusted p-value below `alpha` (0.05). A test is
not run (NaN) when either side has fewer than 5 values.

Example
-------
>>> table = compare_carriers(measurements, areas=weak)  # doctest: +SKIP
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import stats as st

from lomsong.analysis._geo import WGS84, require_columns, to_wgs84
from lomsong.analysis._samples import sample_table
from lomsong.analysis.thresholds import Thresholds, load_thresholds

__all__ = ["COMPARE_COLUMNS", "compare_carriers", "two_proportion_p"]

COMPARE_COLUMNS = [
    "area_id", "carrier", "access", "samples", "down_median_mbps", "share_below",
    "reference_carrier", "mwu_p_value", "prop_p_value", "significant_speed", "significant_share",
]
_MIN = 5


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided pooled two-proportion z-test p-value (NaN if undefined).

    >>> round(two_proportion_p(30, 50, 10, 50), 6)
    4.5e-05
    """
    if n1 == 0 or n2 == 0:
        return float("nan")
    pooled = (k1 + k2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (k1 / n1 - k2 / n2) / se
    return float(2 * st.norm.sf(abs(z)))


def compare_carriers(
    measurements: gpd.GeoDataFrame,
    *,
    areas: gpd.GeoDataFrame | None = None,
    access: str = "4g",
    thresholds: Thresholds | None = None,
    alpha: float = 0.05,
) -> gpd.GeoDataFrame:
    """Compare carriers on one access technology, per area.

    Parameters
    ----------
    measurements : GeoDataFrame
        The measurements frame.
    areas : GeoDataFrame, optional
        Polygons with an `area_id` column (weak areas, administrative units...). When omitted, the
        whole survey is one area ``all``.
    access : str
        Access technology compared (carriers on different technologies are not comparable).

    Returns
    -------
    GeoDataFrame (area geometry) in the CRS of `areas` (or of `measurements`), `COMPARE_COLUMNS`.
    """
    thresholds = thresholds or load_thresholds()
    meas = to_wgs84(measurements, "measurements")
    table = sample_table(meas, thresholds, None)
    table = table[table["down_test"] & (table["access"] == access)].reset_index(drop=True)
    if areas is None:
        placed = table[np.isfinite(table["lat"])]
        hull = shapely.MultiPoint(np.column_stack([placed["lon"], placed["lat"]])).convex_hull
        shapes = gpd.GeoDataFrame({"area_id": ["all"]}, geometry=[hull], crs=WGS84)
        table = table.assign(area_id="all")
        out_crs = measurements.crs
    else:
        shapes = to_wgs84(areas, "areas")
        require_columns(shapes, ("area_id",), "areas")
        shapes = shapes[["area_id", shapes.geometry.name]].drop_duplicates("area_id")
        placed = table[np.isfinite(table["lat"])]
        pts = gpd.GeoDataFrame({"row": placed.index},
                               geometry=gpd.points_from_xy(placed["lon"], placed["lat"]), crs=WGS84)
        hit = gpd.sjoin(pts, shapes, predicate="within")
        table = table.loc[hit["row"].to_numpy()].assign(area_id=hit["area_id"].to_numpy())
        out_crs = areas.crs
    rows = []
    for area_id, group in table.groupby("area_id", sort=True):
        per = {c: g for c, g in group.groupby("carrier", sort=True)}
        medians = {c: g["down"].median() for c, g in per.items()}
        ranked = sorted(per, key=lambda c: (-(medians[c] if medians[c] == medians[c] else -1), c))
        ref = ranked[0]
        ref_speeds = per[ref]["down"].dropna().to_numpy()
        ref_k, ref_n = int(per[ref]["below"].sum()), int(per[ref]["judged"].sum())
        m = max(1, len(per) - 1)
        for carrier, g in per.items():
            speeds = g["down"].dropna().to_numpy()
            k, n = int(g["below"].sum()), int(g["judged"].sum())
            mwu = prop = np.nan
            if carrier != ref and len(speeds) >= _MIN and len(ref_speeds) >= _MIN:
                mwu = min(1.0, m * float(st.mannwhitneyu(speeds, ref_speeds,
                                                         alternative="two-sided").pvalue))
            if carrier != ref and n >= _MIN and ref_n >= _MIN:
                prop = min(1.0, m * two_proportion_p(k, n, ref_k, ref_n))
            rows.append({
                "area_id": area_id, "carrier": carrier, "access": access,
                "samples": len(g), "down_median_mbps": medians[carrier],
                "share_below": k / n if n else np.nan, "reference_carrier": ref,
                "mwu_p_value": mwu, "prop_p_value": prop,
                "significant_speed": bool(mwu < alpha), "significant_share": bool(prop < alpha),
            })
    frame = pd.DataFrame(rows, columns=COMPARE_COLUMNS)
    geom = dict(zip(shapes["area_id"], shapes.geometry, strict=True))
    geometry = gpd.GeoSeries([geom.get(a) for a in frame["area_id"]], crs=WGS84)
    result = gpd.GeoDataFrame(frame, geometry=geometry.to_numpy(), crs=WGS84)
    return result.to_crs(out_crs)
