"""Constructed analysis outputs (the binding column contract) around Hoàn Kiếm, Hanoi: builders
shared by the map tests and their fixtures (a module of its own: test files cannot import a
conftest by name when several test folders are collected together)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import unary_union

CENTRE = (21.0285, 105.8542)
STATUSES = ("dead_spot", "confirmed_weak", "likely_weak", "ok", "insufficient_data")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "maps"


def hexes(count: int, res: int = 10) -> list[str]:
    """`count` H3 cells spiralling out from the centre."""
    origin = h3.latlng_to_cell(*CENTRE, res)
    k = 0
    while 1 + 3 * k * (k + 1) < count:
        k += 1
    return sorted(h3.grid_disk(origin, k), key=lambda c: h3.grid_distance(origin, c))[:count]


def hex_polygon(cell: str) -> Polygon:
    return Polygon([(lon, lat) for lat, lon in h3.cell_to_boundary(cell)])


def make_cells(cells: Sequence[str], carriers: Sequence[str] = ("viettel", "vnpt", "mobifone"),
               windows: Sequence[str] = ("all", "peak", "offpeak"),
               access: Sequence[str] = ("4g",), seed: int = 1) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for cell in cells:
        polygon = hex_polygon(cell)
        for carrier in carriers:
            for acc in access:
                for window in windows:
                    threshold = 40.0 if acc == "4g" else 100.0
                    median = float(rng.gamma(3.0, 18.0))
                    status = STATUSES[int(rng.integers(0, 5))]
                    samples = int(rng.integers(0, 60))
                    share = float(rng.uniform(0, 1))
                    rows.append({
                        "cell": cell, "carrier": carrier, "access": acc, "window": window,
                        "samples": samples, "failed": int(rng.integers(0, 4)),
                        "down_median_mbps": median if status != "dead_spot" else np.nan,
                        "down_p10_mbps": median * 0.4, "down_p90_mbps": median * 1.6,
                        "up_median_mbps": median / 3, "rtt_median_ms": 35.0,
                        "rsrp_median_dbm": float(rng.uniform(-120, -80)),
                        "sinr_median_db": float(rng.uniform(-3, 20)),
                        "threshold_mbps": threshold, "share_below": share,
                        "share_below_lo": max(0.0, share - 0.15),
                        "share_below_hi": min(1.0, share + 0.15),
                        "status": status, "geometry": polygon,
                    })
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)


def _evidence(failed: int, certainty: str, window: str, share: float, lo: float,
              hi: float) -> dict[str, object]:
    return {"failed": failed, "cause_certainty": certainty, "first_date": dt.date(2026, 11, 2),
            "last_date": dt.date(2026, 11, 20), "deciding_window": window,
            "deciding_share_below": share, "deciding_share_lo": lo, "deciding_share_hi": hi}


def make_weak_areas(cells: Sequence[str]) -> gpd.GeoDataFrame:
    block = [hex_polygon(c) for c in cells[:7]]
    other = [hex_polygon(c) for c in cells[40:44]]
    rows = [
        {"area_id": "VT-01", "carrier": "viettel", "access": "4g", "status": "dead_spot",
         "cause": "coverage", "cells": 7, "area_km2": 0.105, "samples": 84,
         "down_median_mbps": 4.2, "down_p10_mbps": 0.0, "share_below": 0.96, "worst_hour": 20,
         "pcis": "101, 205", "bands": "B3, B40", "cell_ids": "452-04-1234",
         "rsrp_median_dbm": -118.0, "sinr_median_db": 1.5, "peak_median_mbps": 2.1,
         "offpeak_median_mbps": 6.3, **_evidence(30, "high", "all", 0.96, 0.88, 0.99),
         "geometry": unary_union(block)},
        {"area_id": "VT-02", "carrier": "viettel", "access": "4g", "status": "confirmed_weak",
         "cause": "congestion", "cells": 4, "area_km2": 0.06, "samples": 51,
         "down_median_mbps": 22.5, "down_p10_mbps": 8.1, "share_below": 0.71, "worst_hour": 21,
         "pcis": "77", "bands": "B3", "cell_ids": "452-04-2231",
         "rsrp_median_dbm": -92.0, "sinr_median_db": 12.0, "peak_median_mbps": 11.0,
         "offpeak_median_mbps": 44.0, **_evidence(0, "high", "peak", 0.9, 0.74, 0.97),
         "geometry": unary_union(other)},
        {"area_id": "VN-01", "carrier": "vnpt", "access": "4g", "status": "likely_weak",
         "cause": "interference", "cells": 4, "area_km2": 0.06, "samples": 23,
         "down_median_mbps": 31.0, "down_p10_mbps": 9.0, "share_below": 0.6, "worst_hour": 9,
         "pcis": "310", "bands": "B1", "cell_ids": "452-02-991",
         "rsrp_median_dbm": -85.0, "sinr_median_db": 0.5, "peak_median_mbps": 30.0,
         "offpeak_median_mbps": 32.0, **_evidence(1, "medium", "all", 0.6, 0.51, 0.69),
         "geometry": unary_union(other)},
    ]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)


def make_scorecards() -> gpd.GeoDataFrame:
    sites = [("UB-01", "UBND phường Hoàn Kiếm", "public_service_point", "126 Hàng Trống", 21.0290, 105.8520),
             ("BP-01", "Bộ phận một cửa", "digital_literacy_point", "2 Lê Thái Tổ", 21.0275, 105.8560),
             ("TYT-01", "Trạm y tế phường", "other", "5 Hàng Bài", 21.0262, 105.8538)]
    verdicts = {"UB-01": ("confirmed_weak", "ok", "likely_weak"),
                "BP-01": ("dead_spot", "confirmed_weak", "ok"),
                "TYT-01": ("ok", "ok", "insufficient_data")}
    rows = []
    for site_id, name, site_type, address, lat, lon in sites:
        for carrier, verdict in zip(("viettel", "vnpt", "mobifone"), verdicts[site_id],
                                    strict=True):
            median = {"dead_spot": 1.5, "confirmed_weak": 18.4, "likely_weak": 33.0,
                      "ok": 62.7, "insufficient_data": 45.0}[verdict]
            rows.append({
                "site_id": site_id, "name": name, "site_type": site_type, "address": address,
                "carrier": carrier, "access": "4g", "samples": 96,
                "failed": 40 if verdict == "dead_spot" else 0, "down_median_mbps": median,
                "down_p10_mbps": median / 3, "share_below": 0.8 if median < 40 else 0.1,
                "share_below_lo": 0.7 if median < 40 else 0.05,
                "share_below_hi": 0.88 if median < 40 else 0.19, "verdict": verdict,
                "trend_mbps_per_week": -0.4,
                "last_measured_at": dt.datetime(2026, 11, 20, 3, 30, tzinfo=dt.UTC),
                "geometry": Point(lon, lat),
            })
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)


def make_proposals() -> gpd.GeoDataFrame:
    rows = [
        {"carrier": "viettel", "rank": 1, "target_type": "weak_area", "target_id": "VT-01",
         "target_name": "Vùng VT-01 (Hàng Trống)", "action": "new_site", "priority": "high",
         "impact_score": 8.7, "service_points_affected": 2,
         "evidence": "84 mẫu, trung vị 4,2 Mbps, RSRP -118 dBm",
         "geometry": Point(105.8530, 21.0288)},
        {"carrier": "viettel", "rank": 2, "target_type": "weak_area", "target_id": "VT-02",
         "target_name": "Vùng VT-02", "action": "capacity_upgrade", "priority": "medium",
         "impact_score": 4.1, "service_points_affected": 1,
         "evidence": "Cao điểm 11 Mbps, thấp điểm 44 Mbps", "geometry": Point(105.8550, 21.0270)},
        {"carrier": "vnpt", "rank": 1, "target_type": "weak_area", "target_id": "VN-01",
         "target_name": "Vùng VN-01", "action": "investigate_interference", "priority": "low",
         "impact_score": 2.0, "service_points_affected": 0,
         "evidence": "RSRP tốt, SINR 0,5 dB", "geometry": Point(105.8550, 21.0270)},
    ]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)


def make_routes() -> gpd.GeoDataFrame:
    line = LineString([(105.8510, 21.0300), (105.8540, 21.0290), (105.8570, 21.0270)])
    return gpd.GeoDataFrame({"route": ["walk-1"]}, geometry=[line], crs=4326)


def make_boundary(cells: Sequence[str]) -> gpd.GeoDataFrame:
    hull = gpd.GeoSeries([hex_polygon(c) for c in cells], crs=4326).union_all().convex_hull
    return gpd.GeoDataFrame({"name": ["Phường Hoàn Kiếm"]}, geometry=[hull.buffer(0.0015)],
                            crs=4326)
