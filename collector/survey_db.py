"""The whole survey with the heavy aggregation in the database (millions of measurements).

`run_survey_db` gives the same `SurveyResult` as `analysis.pipeline.run_survey` on the same
selection, but never loads the whole selection into Python:

1. cell statistics: one SQL ``GROUP BY`` (`storage.cellstats.select_cell_stats`), turned
   into the `cell_stats` frame by `analysis.dbcells.cell_stats_from_rows`;
2. classification, coverage gaps and walk route: on those statistics, as in memory;
3. weak areas: the raw rows of the weak cell x carrier x access groups only;
4. scorecards: the raw rows in a box around each service point (or tagged with its site id) only,
   a few points per pass;
5. sources: the count per source and method, and the phones' results with a position (their own
   map layer), from two small queries.

Every query of steps 1, 3 and 4 keeps only the sources the ward counts
(`Thresholds.sources.in_statistics`), as `analysis.sources` does in memory.

Raw rows travel as CSV (``COPY ... TO STDOUT``) through a temporary file into a lean frame (the
needed columns, text as categories). The same answers as in memory, to rounding (the trend's time
origin), are checked on both storage tiers in ``tests/analysis/test_analysis_db.py``.
Statistics are at the stored H3 resolution 10 (`SurveyConfig.resolution` must be 10). This module
is an I/O edge (it runs queries); the analysis itself stays in the pure functions it calls.

Example
-------
>>> with psycopg.connect(url) as conn:  # doctest: +SKIP
...     result = run_survey_db(conn, points, start=since)
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import IO, Any

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import psycopg

from lomsong.analysis._geo import WGS84, to_wgs84
from lomsong.analysis.areas import cell_status, weak_areas
from lomsong.analysis.classify import WEAK, classify_cells
from lomsong.analysis.dbcells import RESOLUTION, cell_stats_from_rows, stat_parameters
from lomsong.analysis.load import NUMERIC, measurements_frame
from lomsong.analysis.pipeline import SurveyConfig, SurveyResult, empty_service_points
from lomsong.analysis.planner import coverage_gaps, suggest_walk_route
from lomsong.analysis.proposals import upgrade_proposals
from lomsong.analysis.sites import scorecards
from lomsong.analysis.sources import browser_points, source_table_from_rows
from lomsong.analysis.thresholds import Thresholds
from lomsong.collector.storage.analysis_rows import copy_rows_in_cells, copy_rows_near
from lomsong.collector.storage.cellstats import select_cell_stats
from lomsong.collector.storage.scope import SINGLE_WARD, Scope
from lomsong.collector.storage.sources import count_sources, select_browser_points

__all__ = [
    "POINTS_PER_PASS",
    "ROW_COLUMNS",
    "db_cell_stats",
    "db_scorecards",
    "db_weak_areas",
    "run_survey_db",
    "service_point_boxes",
]

POINTS_PER_PASS = 4

# The measurement columns weak areas and scorecards read (see `analysis._samples`).
ROW_COLUMNS = (
    "measured_at", "clock", "kind", "carrier", "access", "plan_down_mbps", "download_mbps",
    "upload_mbps", "rtt_ms", "loss_pct", "rsrp_dbm", "sinr_db", "pci", "cell_id", "band",
    "probe_id", "site_id", "error_kind", "lat", "lon",
)


def service_point_boxes(
    points: gpd.GeoDataFrame, radius_m: float
) -> list[tuple[float, float, float, float]]:
    """(min_lon, min_lat, max_lon, max_lat) just around each point's `radius_m` disk.

    A superset of the disk `analysis.sites.scorecards` measures: its metres per degree (WGS 84
    series) are at least 110,574 m of latitude and ``111,412.84 cos(lat) - 93.5`` m of longitude,
    and 1% is added, so the rows selected give exactly its answer.
    """
    boxes = []
    for p in to_wgs84(points, "service_points").geometry:
        dlat = 1.01 * radius_m / 110_574.0
        dlon = 1.01 * radius_m / max(111_412.84 * math.cos(math.radians(p.y)) - 93.5, 1.0)
        boxes.append((p.x - dlon, p.y - dlat, p.x + dlon, p.y + dlat))
    return boxes


def _fetch(copy: Callable[[IO[bytes]], int]) -> gpd.GeoDataFrame:
    """Stream `copy`'s CSV through a temporary file into a lean measurements frame.

    Only `ROW_COLUMNS` (what weak areas and scorecards read) plus point geometry, text columns as
    categories: with millions of rows near busy service points, the full `measurements_frame`
    (every record field, text as Python strings) would take several gigabytes.
    """
    types = {c: "float64" if c in NUMERIC else "category" for c in ROW_COLUMNS}
    types["measured_at"] = "object"
    with tempfile.TemporaryFile() as out:
        copy(out)
        out.seek(0)
        table = pd.read_csv(out, keep_default_na=False, na_values=[""], dtype=types)
    table["measured_at"] = pd.to_datetime(table["measured_at"], utc=True, format="ISO8601")
    lat = table["lat"].to_numpy(dtype="float64")
    lon = table["lon"].to_numpy(dtype="float64")
    has = np.isfinite(lat) & np.isfinite(lon)
    points = gpd.points_from_xy(np.where(has, lon, 0.0), np.where(has, lat, 0.0), crs=WGS84)
    points[~has] = None
    return gpd.GeoDataFrame(table, geometry=points, copy=False)


def run_survey_db(
    conn: psycopg.Connection[Any],
    service_points: gpd.GeoDataFrame | None = None,
    config: SurveyConfig | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    carriers: Sequence[str] = (),
    accesses: Sequence[str] = (),
    scope: Scope = SINGLE_WARD,
) -> SurveyResult:
    """Run every analysis step on the stored measurements in [start, end), grouping in SQL.

    Parameters
    ----------
    conn : psycopg.Connection
        A connection to the collector's database.
    service_points : GeoDataFrame, optional
        The ward's service points (`analysis.sites.read_service_points`).
    config : SurveyConfig, optional
        As for `run_survey`; `resolution` must be 10 (the resolution stored with each row).
    start, end : datetime, optional
        UTC time range (end exclusive); everything when omitted.
    carriers, accesses : sequence of str
        Restrict to these carriers / access technologies (all when empty).
    scope : Scope
        The ward(s) whose measurements are read.

    Raises
    ------
    ValueError
        A resolution other than 10, or bad service points.
    collector.errors.StorageError
        A query failed.
    """
    config = config or SurveyConfig()
    if config.resolution != RESOLUTION:
        raise ValueError(
            f"resolution: statistics in the database use the stored H3 resolution {RESOLUTION}, "
            f"got {config.resolution}; load the measurements and use run_survey for other grids"
        )
    t = config.thresholds
    cells = db_cell_stats(conn, t, start=start, end=end, carriers=carriers, accesses=accesses,
                          scope=scope)
    classified = classify_cells(cells, t)
    areas = db_weak_areas(conn, classified, t, start=start, end=end, scope=scope)
    points = service_points if service_points is not None else empty_service_points(cells.crs)
    cards = db_scorecards(conn, points, classified, t, radius_m=config.radius_m, start=start,
                          end=end, carriers=carriers, accesses=accesses, scope=scope)
    proposals = upgrade_proposals(areas, cards, cause_rules=t.cause)
    gaps = coverage_gaps(classified, thresholds=t, carriers=config.carriers)
    route = suggest_walk_route(gaps, start=config.route_start)
    counted = count_sources(conn, start=start, end=end, scope=scope)
    sources = source_table_from_rows(counted, t.sources)
    phones = select_browser_points(conn, start=start, end=end, scope=scope)
    browser = browser_points(measurements_frame(phones))
    return SurveyResult(cells, classified, areas, cards, proposals, gaps, route, sources, browser)


def db_cell_stats(
    conn: psycopg.Connection[Any],
    thresholds: Thresholds,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    carriers: Sequence[str] = (),
    accesses: Sequence[str] = (),
    scope: Scope = SINGLE_WARD,
) -> gpd.GeoDataFrame:
    """Step 1: `cell_stats` (resolution 10) of the stored selection, grouped in SQL."""
    rows = select_cell_stats(conn, **stat_parameters(thresholds), start=start, end=end,
                             carriers=carriers, accesses=accesses, scope=scope)
    return cell_stats_from_rows(rows, thresholds)


def db_weak_areas(
    conn: psycopg.Connection[Any],
    classified: gpd.GeoDataFrame,
    thresholds: Thresholds,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    scope: Scope = SINGLE_WARD,
) -> gpd.GeoDataFrame:
    """Step 3: `weak_areas`, reading the raw rows of the weak cell x carrier x access only, and
    of the cells (with their neighbours) where a test failed with no service, where a dead spot
    smaller than a cell may lie (their number in ``attrs["rows_read"]``)."""
    status = cell_status(classified)
    weak = status[status["status"].isin(WEAK)]
    groups = [(h3.str_to_int(c), str(ca), str(a))
              for c, ca, a in zip(weak["cell"], weak["carrier"], weak["access"], strict=True)]
    allw = classified[(classified["window"] == "all") & (classified["failed_no_service"] > 0)]
    groups += [(h3.str_to_int(n), str(ca), str(a))
               for c, ca, a in zip(allw["cell"], allw["carrier"], allw["access"], strict=True)
               for n in h3.grid_disk(str(c), 1)]
    groups = list(dict.fromkeys(groups))
    rows = _fetch(lambda out: copy_rows_in_cells(conn, groups, out, start=start, end=end,
                                                 sources=thresholds.sources.in_statistics,
                                                 columns=ROW_COLUMNS, scope=scope))
    areas = weak_areas(classified, rows, thresholds=thresholds)
    areas.attrs["rows_read"] = len(rows)
    return areas


def db_scorecards(
    conn: psycopg.Connection[Any],
    points: gpd.GeoDataFrame,
    classified: gpd.GeoDataFrame,
    thresholds: Thresholds,
    *,
    radius_m: float,
    start: datetime | None = None,
    end: datetime | None = None,
    carriers: Sequence[str] = (),
    accesses: Sequence[str] = (),
    scope: Scope = SINGLE_WARD,
) -> gpd.GeoDataFrame:
    """Step 4: `scorecards`, reading the rows near the points (or tagged with them) only (their
    number in ``attrs["rows_read"]``).

    The rows are fetched once; the scorecards are then made `POINTS_PER_PASS` points at a time
    (each point's card depends only on its own rows), so the in-memory statistics never hold
    every busy point's samples at once. The one difference from a single call is the time origin
    of the trend regression, which changes the slope only by rounding.
    """
    if points.empty:
        nothing = _fetch(lambda out: copy_rows_near(conn, [], [], out, columns=ROW_COLUMNS))
        return scorecards(points, nothing, classified, radius_m=radius_m, thresholds=thresholds)
    site_ids = [str(s) for s in points["site_id"]] if "site_id" in points.columns else []
    boxes = service_point_boxes(points, radius_m)
    near = _fetch(lambda out: copy_rows_near(conn, boxes, site_ids, out, start=start, end=end,
                                             carriers=carriers, accesses=accesses,
                                             sources=thresholds.sources.in_statistics,
                                             columns=ROW_COLUMNS, scope=scope))
    lon = near["lon"].to_numpy(dtype="float64")
    lat = near["lat"].to_numpy(dtype="float64")
    parts = []
    for first in range(0, len(points), POINTS_PER_PASS):
        part = points.iloc[first : first + POINTS_PER_PASS]
        keep = near["site_id"].isin(set(site_ids[first : first + POINTS_PER_PASS])).to_numpy(
            dtype=bool, copy=True
        )
        for x0, y0, x1, y1 in boxes[first : first + POINTS_PER_PASS]:
            with np.errstate(invalid="ignore"):
                keep |= (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
        parts.append(scorecards(part, near[keep], classified, radius_m=radius_m,
                                thresholds=thresholds))
    cards = pd.concat(parts, ignore_index=True)
    result = gpd.GeoDataFrame(cards, geometry=cards.geometry.name, crs=parts[0].crs)
    result.attrs["rows_read"] = len(near)
    return result
