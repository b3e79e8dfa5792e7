"""The analysis outputs that maps and reports consume: their columns, checked on entry.

`maps` reads only these frames (written by ``lomsong analyze`` into a GeoPackage, one layer each),
never analysis internals. Each check names the frame and the missing columns, and returns the
frame in WGS 84 (EPSG:4326) without touching the caller's frame.

Example
-------
>>> import geopandas as gpd
>>> from shapely.geometry import Point
>>> frame = gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(105.85, 21.03)], crs=3405)
>>> check_frame(frame, "routes").crs.to_epsg()
4326
"""

from __future__ import annotations

import geopandas as gpd

__all__ = ["COLUMNS", "LAYERS", "check_frame"]

COLUMNS: dict[str, tuple[str, ...]] = {
    "cells": (
        "cell", "carrier", "access", "window", "samples", "failed", "down_median_mbps",
        "down_p10_mbps", "down_p90_mbps", "up_median_mbps", "rtt_median_ms", "rsrp_median_dbm",
        "sinr_median_db", "threshold_mbps", "share_below", "share_below_lo", "share_below_hi",
        "status",
    ),
    "weak_areas": (
        "area_id", "carrier", "access", "status", "cause", "cause_certainty", "cells",
        "area_km2", "samples", "failed", "first_date", "last_date", "deciding_window",
        "deciding_share_below", "deciding_share_lo", "deciding_share_hi", "down_median_mbps",
        "down_p10_mbps", "share_below", "worst_hour", "pcis", "bands", "cell_ids",
        "rsrp_median_dbm", "sinr_median_db", "peak_median_mbps", "offpeak_median_mbps",
    ),
    "scorecards": (
        "site_id", "name", "site_type", "address", "carrier", "access", "samples", "failed",
        "down_median_mbps", "down_p10_mbps", "share_below", "share_below_lo", "share_below_hi",
        "verdict", "trend_mbps_per_week", "last_measured_at",
    ),
    "proposals": (
        "carrier", "rank", "target_type", "target_id", "target_name", "action", "priority",
        "impact_score", "service_points_affected", "evidence",
    ),
    "routes": (),
    "boundary": (),
    "browser": ("measured_at", "carrier", "access", "download_mbps", "upload_mbps", "rtt_ms"),
}

# GeoPackage layer names written by `lomsong analyze`; the last two are optional.
LAYERS: tuple[str, ...] = ("cells", "weak_areas", "scorecards", "proposals", "routes", "boundary")


def check_frame(frame: gpd.GeoDataFrame, kind: str) -> gpd.GeoDataFrame:
    """Check that `frame` has the columns of `kind` and a CRS; return it in EPSG:4326.

    Raises ``ValueError`` naming the frame and what is wrong.
    """
    if not isinstance(frame, gpd.GeoDataFrame):
        raise ValueError(f"{kind}: expected a GeoDataFrame, got {type(frame).__name__}")
    missing = [column for column in COLUMNS[kind] if column not in frame.columns]
    if missing:
        raise ValueError(f"{kind}: missing columns {', '.join(missing)}")
    if frame.crs is None:
        raise ValueError(f"{kind}: no CRS; expected EPSG:4326 (WGS 84)")
    if frame.crs.to_epsg() != 4326:
        return frame.to_crs(4326)
    return frame
