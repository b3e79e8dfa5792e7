"""Per-cell statistics: H3 cell x carrier x access x time window.

Counting rules (the same in every module):

- a *sample* is a ``throughput_down`` test that either succeeded with a download speed or failed
  for a network reason (`no_service`, `attach_failed`, `timeout`, `network_unreachable`,
  `dns_failure`); failures of our own kit (tool missing, budget exhausted, server busy, ...) are
  not evidence about the network and are left out;
- a sample is *below* the threshold when it failed or its speed is strictly below the target of
  its access technology (a test exactly at 40 Mbps on 4G meets the target); fixed lines use
  ``plan_fraction x plan_down_mbps`` per test, so a fixed test without a plan speed is not judged;
- speed quantiles use successful tests only; RTT, loss, RSRP and SINR medians use every
  measurement of the group that carries them;
- windows are local time: ``all``, ``peak`` (`Windows.peak_start_hour` to `peak_end_hour`) and
  ``offpeak`` (every other hour); ``days`` and ``hours`` count distinct local dates and hours of the
  samples, ``slots`` distinct (local date, `slot_hours` block) pairs.

Measurements whose probe reported an unsynchronised clock (``clock == "unsynced"``) are left out
everywhere: their time of day cannot be trusted. Measurements without a position cannot be placed
in a cell: they are left out, and their number is in ``result.attrs["unplaced"]``.

Example
-------
>>> from lomsong.analysis.load import measurements_frame
>>> from lomsong.analysis.thresholds import load_thresholds
>>> m = measurements_frame([{"probe_id": "p", "measured_at": "2026-11-02T03:00:00Z",
...     "kind": "throughput_down", "tool": "iperf3", "carrier": "viettel", "access": "4g",
...     "download_mbps": 12.0, "lat": 21.03, "lon": 105.85}])
>>> s = cell_stats(m, thresholds=load_thresholds())
>>> s[["window", "samples", "below"]].values.tolist()
[['all', 1, 1], ['offpeak', 1, 1]]
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from lomsong.analysis._geo import cell_strings, hex_polygons
from lomsong.analysis._samples import samples_of, wilson
from lomsong.analysis.thresholds import Thresholds, load_thresholds

__all__ = ["KEYS", "STAT_COLUMNS", "aggregate", "cell_stats"]

KEYS = ["cell", "carrier", "access", "window"]
STAT_COLUMNS = [
    *KEYS, "samples", "failed", "failed_no_service", "judged", "days", "hours", "slots",
    "down_median_mbps", "down_p10_mbps", "down_p90_mbps", "up_median_mbps", "rtt_median_ms",
    "loss_median_pct", "rsrp_median_dbm", "sinr_median_db", "threshold_mbps", "below",
    "share_below", "share_below_lo", "share_below_hi", "below_floor", "share_below_floor",
]
_INT = ["samples", "failed", "failed_no_service", "judged", "days", "hours", "slots", "below",
        "below_floor"]


def aggregate(table: pd.DataFrame, keys: list[str], z: float) -> pd.DataFrame:
    """Group a sample table (see `analysis._samples`) by `keys` into the statistics columns."""
    if table.empty:
        out = pd.DataFrame({c: pd.Series(dtype="float64") for c in STAT_COLUMNS if c not in keys})
        for k in keys:
            out[k] = pd.Series(dtype=object)
        return out
    g = table.groupby(keys, sort=True, observed=True, dropna=False)
    sums = g[["down_test", "failed", "failed_no_service", "judged", "below", "below_floor"]].sum()
    out = pd.DataFrame(
        {
            "samples": sums["down_test"],
            "failed": sums["failed"],
            "failed_no_service": sums["failed_no_service"],
            "judged": sums["judged"],
            "days": g["day"].nunique(),
            "hours": g["down_hour"].nunique(),
            "slots": g["slot"].nunique(),
        }
    )
    med = g[["down", "up", "rtt", "loss", "rsrp", "sinr", "threshold"]].median()
    out["down_median_mbps"] = med["down"]
    out["down_p10_mbps"] = g["down"].quantile(0.1)
    out["down_p90_mbps"] = g["down"].quantile(0.9)
    out["up_median_mbps"] = med["up"]
    out["rtt_median_ms"] = med["rtt"]
    out["loss_median_pct"] = med["loss"]
    out["rsrp_median_dbm"] = med["rsrp"]
    out["sinr_median_db"] = med["sinr"]
    out["threshold_mbps"] = med["threshold"]
    out["below"] = sums["below"]
    judged = out["judged"].to_numpy(dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        out["share_below"] = np.where(judged > 0, out["below"] / judged, np.nan)
        samples = out["samples"].to_numpy(dtype="float64")
        out["share_below_floor"] = np.where(
            samples > 0, sums["below_floor"].to_numpy() / samples, np.nan
        )
    lo, hi = wilson(out["below"].to_numpy(), judged, z)
    out["share_below_lo"] = lo
    out["share_below_hi"] = hi
    out["below_floor"] = sums["below_floor"]
    for col in _INT:
        out[col] = out[col].astype("int64")
    out = out.reset_index()
    for key in keys:
        if isinstance(out[key].dtype, pd.CategoricalDtype):
            out[key] = out[key].astype(object)
    return out


def _windowed(table: pd.DataFrame, z: float) -> pd.DataFrame:
    """Statistics for ``all`` and for ``peak``/``offpeak`` (two passes, no doubled table)."""
    keys = ["cell", "carrier", "access"]
    whole = aggregate(table, keys, z).assign(window="all")
    split = table.assign(window=np.where(table["peak"].to_numpy(), "peak", "offpeak"))
    parts = aggregate(split, [*keys, "window"], z)
    both = pd.concat([whole, parts], ignore_index=True)
    order = both["window"].map({"all": 0, "peak": 1, "offpeak": 2})
    return both.assign(_o=order).sort_values([*keys, "_o"]).drop(columns="_o")


def cell_stats(
    measurements: gpd.GeoDataFrame,
    *,
    resolution: int = 10,
    thresholds: Thresholds | None = None,
    windows: tuple[str, ...] = ("all", "peak", "offpeak"),
    samples: pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Statistics per H3 cell x carrier x access x window, as hexagon polygons.

    Parameters
    ----------
    measurements : GeoDataFrame
        The measurements frame (`analysis.load`), any CRS; not modified.
    resolution : int
        H3 resolution (10: about 66 m edge, for walked wards; 9 or 8 for wider areas).
    thresholds : Thresholds, optional
        Targets and windows; the defaults of `analysis/thresholds.toml` when omitted.
    windows : tuple of str
        Which of "all", "peak", "offpeak" to keep.
    samples : DataFrame, optional
        The sample table of `measurements` at `resolution` (`analysis._samples.sample_table`),
        when the caller has made it already (`analysis.pipeline.run_survey`).

    Returns
    -------
    GeoDataFrame in the caller's CRS, one row per group with at least one measurement; columns
    `STAT_COLUMNS` plus geometry (the hexagon).
    """
    thresholds = thresholds or load_thresholds()
    unknown = set(windows) - {"all", "peak", "offpeak"}
    if unknown:
        raise ValueError(f"windows: unknown window(s) {sorted(unknown)}; use all, peak, offpeak")
    table = samples_of(samples, measurements, thresholds, resolution)
    placed = table[table["cell"] != 0]
    stats = _windowed(placed, thresholds.rules.z)
    stats = stats[stats["window"].isin(windows)].reset_index(drop=True)
    if stats.empty:
        stats["cell"] = pd.Series(dtype=object)
        geometry = gpd.GeoSeries([], crs="EPSG:4326")
    else:
        stats["cell"] = cell_strings(stats["cell"].to_numpy(dtype="uint64"))
        uniq, inverse = np.unique(stats["cell"].to_numpy(dtype=str), return_inverse=True)
        geometry = gpd.GeoSeries(hex_polygons(uniq)[inverse], crs="EPSG:4326")
    result = gpd.GeoDataFrame(stats[STAT_COLUMNS], geometry=geometry.values, crs="EPSG:4326")
    result = result.to_crs(measurements.crs)
    result.attrs["unplaced"] = int(len(table) - len(placed))
    result.attrs["resolution"] = resolution
    return result
