"""Cell statistics from rows aggregated in the database, with the `analysis.cells.cell_stats` contract.

For large surveys (millions of measurements) the grouping runs in PostgreSQL
(`collector.storage.cellstats.select_cell_stats`); this module turns its rows into the same
GeoDataFrame `cell_stats` returns (same columns, dtypes, order, hexagons, attrs), so
`classify_cells`, `weak_areas` and the maps work unchanged. `stat_parameters` hands the query the
plain values of a `Thresholds` (targets, windows, slot length, failure kinds), so both paths use
one configuration. Pure: no I/O here.

Example
-------
>>> from lomsong.analysis.thresholds import load_thresholds
>>> t = load_thresholds()
>>> rows = [{"cell": 0x8A415CB4E40FFFF, "carrier": "viettel", "access": "4g", "window": "all",
...     "rows": 1, "samples": 1, "failed": 0, "failed_no_service": 0, "judged": 1, "days": 1,
...     "hours": 1, "slots": 1, "down_q": [12.0, 12.0, 12.0], "up_median_mbps": None,
...     "rtt_median_ms": None, "loss_median_pct": None, "rsrp_median_dbm": None,
...     "sinr_median_db": None, "threshold_mbps": 40.0, "below": 1, "below_floor": 0}]
>>> s = cell_stats_from_rows(rows, t)
>>> s[["cell", "window", "samples", "share_below"]].values.tolist()
[['8a415cb4e40ffff', 'all', 1, 1.0]]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from lomsong.analysis._geo import cell_strings, hex_polygons
from lomsong.analysis._samples import NETWORK_FAILURES, NO_SERVICE_FAILURES, wilson
from lomsong.analysis.cells import STAT_COLUMNS
from lomsong.analysis.thresholds import Thresholds

__all__ = ["RESOLUTION", "cell_stats_from_rows", "stat_parameters"]

RESOLUTION = 10  # the H3 resolution stored with each measurement (`h3_r10`)
_INT = ["samples", "failed", "failed_no_service", "judged", "days", "hours", "slots", "below",
        "below_floor"]
_FLOAT = ["up_median_mbps", "rtt_median_ms", "loss_median_pct", "rsrp_median_dbm",
          "sinr_median_db", "threshold_mbps"]
_ROW_KEYS = ("cell", "carrier", "access", "window", "rows", *_INT, *_FLOAT, "down_q")
_WINDOW_ORDER = {"all": 0, "peak": 1, "offpeak": 2}


def stat_parameters(thresholds: Thresholds) -> dict[str, Any]:
    """The plain values `select_cell_stats` needs, taken from `thresholds`.

    >>> from lomsong.analysis.thresholds import load_thresholds
    >>> p = stat_parameters(load_thresholds())
    >>> p["down_targets_mbps"]["4g"], p["plan_fractions"], p["peak_hours"]
    (40.0, {'fixed': 0.8}, (19, 20, 21))
    """
    down: dict[str, float] = {}
    plan: dict[str, float] = {}
    floor: dict[str, float] = {}
    for name, target in thresholds.access.items():
        if target.down_mbps is not None:
            down[name] = float(target.down_mbps)
        if target.plan_fraction is not None:
            plan[name] = float(target.plan_fraction)
        if target.floor_mbps is not None:
            floor[name] = float(target.floor_mbps)
    return {
        "down_targets_mbps": down,
        "plan_fractions": plan,
        "floors_mbps": floor,
        "peak_hours": tuple(h for h in range(24) if thresholds.windows.is_peak_hour(h)),
        "timezone": thresholds.windows.timezone,
        "slot_hours": thresholds.rules.slot_hours,
        "network_failures": tuple(sorted(NETWORK_FAILURES)),
        "sources": thresholds.sources.in_statistics,
        "no_service_failures": tuple(sorted(NO_SERVICE_FAILURES)),
    }


def _frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows as a frame; `cell` as uint64 (0: no position) read from the ints, never via float."""
    records = list(rows)
    missing = sorted({k for r in records for k in _ROW_KEYS if k not in r})
    if missing:
        raise ValueError(f"rows: missing key(s) {', '.join(missing)} (from select_cell_stats?)")
    others = [k for k in _ROW_KEYS if k != "cell"]
    if records:
        frame = pd.DataFrame.from_records(records, columns=others)
    else:
        frame = pd.DataFrame({k: pd.Series(dtype=object) for k in others})
    cells = [r["cell"] for r in records]
    frame["cell"] = np.array([0 if c is None else c for c in cells], dtype="uint64")
    return frame


def cell_stats_from_rows(
    rows: Iterable[Mapping[str, Any]],
    thresholds: Thresholds,
    *,
    windows: tuple[str, ...] = ("all", "peak", "offpeak"),
) -> gpd.GeoDataFrame:
    """Build the `cell_stats` GeoDataFrame (EPSG:4326, H3 resolution 10) from database rows.

    Parameters
    ----------
    rows : iterable of mapping
        Rows of `collector.storage.cellstats.select_cell_stats`; rows with ``cell`` None (no
        position) are counted in ``attrs["unplaced"]`` and otherwise left out.
    thresholds : Thresholds
        The same thresholds the rows were computed with (for the Wilson ``z``).
    windows : tuple of str
        Which of "all", "peak", "offpeak" to keep.

    Returns
    -------
    GeoDataFrame like `cell_stats`; ``attrs`` also holds ``measurements``, the number of
    measurements the rows cover (placed or not; unsynchronised clocks excluded).

    Raises
    ------
    ValueError
        An unknown window, or rows without the keys the query returns.
    """
    unknown = set(windows) - set(_WINDOW_ORDER)
    if unknown:
        raise ValueError(f"windows: unknown window(s) {sorted(unknown)}; use all, peak, offpeak")
    frame = _frame(rows)
    has_cell = frame["cell"].to_numpy(dtype="uint64") != 0
    whole = (frame["window"] == "all").to_numpy(dtype=bool)
    unplaced = int(frame.loc[~has_cell & whole, "rows"].sum())
    counted = int(frame.loc[whole, "rows"].sum())
    frame = frame[has_cell & frame["window"].isin(windows).to_numpy(dtype=bool)]
    cells = frame["cell"].to_numpy(dtype="uint64")
    order = np.lexsort((
        frame["window"].map(_WINDOW_ORDER).to_numpy(dtype="int64"),
        frame["access"].to_numpy(dtype=str),
        frame["carrier"].to_numpy(dtype=str),
        cells,
    ))
    frame = frame.iloc[order].reset_index(drop=True)
    out = pd.DataFrame({
        "cell": cell_strings(cells[order]) if len(frame) else np.array([], dtype=object),
        "carrier": frame["carrier"].astype(object),
        "access": frame["access"].astype(object),
        "window": frame["window"].astype("str"),
    })
    for col in _INT:
        out[col] = frame[col].to_numpy(dtype="int64")
    quantiles = np.array(
        [q if q is not None else [np.nan] * 3 for q in frame["down_q"]], dtype="float64"
    ).reshape(-1, 3)
    out["down_p10_mbps"], out["down_median_mbps"], out["down_p90_mbps"] = quantiles.T
    for col in _FLOAT:
        out[col] = pd.to_numeric(frame[col], errors="raise").to_numpy(dtype="float64")
    judged = out["judged"].to_numpy(dtype="float64")
    samples = out["samples"].to_numpy(dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        out["share_below"] = np.where(judged > 0, out["below"] / judged, np.nan)
        out["share_below_floor"] = np.where(samples > 0, out["below_floor"] / samples, np.nan)
    out["share_below_lo"], out["share_below_hi"] = wilson(
        out["below"].to_numpy(), judged, thresholds.rules.z
    )
    geometry = gpd.GeoSeries([], crs="EPSG:4326")
    if len(out):
        uniq, inverse = np.unique(out["cell"].to_numpy(dtype=str), return_inverse=True)
        geometry = gpd.GeoSeries(hex_polygons(uniq)[inverse], crs="EPSG:4326")
    result = gpd.GeoDataFrame(out[STAT_COLUMNS], geometry=geometry.values, crs="EPSG:4326")
    result.attrs["unplaced"] = unplaced
    result.attrs["measurements"] = counted
    result.attrs["resolution"] = RESOLUTION
    return result
