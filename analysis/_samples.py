"""Private: one row per measurement with what the statistics need (cell, local time, below?)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from lomsong.analysis._geo import cells_of, require_columns, to_wgs84
from lomsong.analysis.sources import counted
from lomsong.analysis.thresholds import Thresholds

__all__ = ["NETWORK_FAILURES", "NO_SERVICE_FAILURES", "sample_table", "samples_of", "wilson"]

# Failures that say something about the network. Others (tool missing, budget exhausted, parse
# error, server busy, ...) are about our own kit and are left out of the statistics.
NETWORK_FAILURES = frozenset(
    {"no_service", "attach_failed", "timeout", "network_unreachable", "dns_failure"}
)
# Failures that mean "no usable service here": the evidence of a dead spot.
NO_SERVICE_FAILURES = frozenset({"no_service", "attach_failed", "timeout"})

REQUIRED = ("measured_at", "kind", "carrier", "access", "download_mbps", "error_kind")


def wilson(below: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of below/n (NaN where n == 0)."""
    below = np.asarray(below, dtype="float64")
    n = np.asarray(n, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        p = below / n
        z2 = z * z
        denom = 1 + z2 / n
        centre = (p + z2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
        lo = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
        hi = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return lo, hi


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name in frame.columns:
        values: np.ndarray = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype="float64")
        return values
    return np.full(len(frame), np.nan)


def samples_of(samples: pd.DataFrame | None, rows: pd.DataFrame, thresholds: Thresholds,
               resolution: int | None) -> pd.DataFrame:
    """The sample table of `rows`: the rows of `samples` (the table of a frame `rows` was
    selected from, made once by `analysis.pipeline.run_survey`) whose index is in `rows`, in
    their order; or, without `samples`, `sample_table(rows, thresholds, resolution)`.

    The two are the same table row for row (categories aside: those of `samples` may hold more
    values, which the statistics group with ``observed=True``)."""
    if samples is None:
        return sample_table(rows, thresholds, resolution)
    return samples[samples.index.isin(rows.index)]


def sample_table(
    measurements: gpd.GeoDataFrame, thresholds: Thresholds, resolution: int | None
) -> pd.DataFrame:
    """Per-measurement table; `cell` is 0 for rows without a position (or when resolution None)."""
    frame = to_wgs84(measurements, "measurements")
    require_columns(frame, REQUIRED, "measurements")
    if "clock" in frame.columns:
        # A probe that says its clock was wrong gives times we cannot put in windows or slots.
        frame = frame[frame["clock"].astype(object) != "unsynced"]
    # Only the sources the ward counts (`analysis.sources`): never browser results by default.
    frame = counted(frame, thresholds.sources)
    times = pd.to_datetime(frame["measured_at"], utc=True)
    local = times.dt.tz_convert(thresholds.windows.timezone)
    hour = local.dt.hour.to_numpy(dtype="float64")
    day = (local.dt.tz_localize(None).dt.floor("D") - pd.Timestamp("1970-01-01")).dt.days
    day_arr = day.to_numpy(dtype="float64")
    rules = thresholds.rules
    slot = day_arr * (24 // rules.slot_hours + 1) + np.floor(hour / rules.slot_hours)

    kind = frame["kind"].astype(object).to_numpy()
    access = frame["access"].astype(object).fillna("unknown").to_numpy()
    error = frame["error_kind"].astype(object).to_numpy()
    failed_any = pd.notna(error)
    net_fail = np.isin(error, list(NETWORK_FAILURES))
    ns_fail = np.isin(error, list(NO_SERVICE_FAILURES))
    down = _col(frame, "download_mbps")
    is_down = kind == "throughput_down"
    success = is_down & ~failed_any & np.isfinite(down)
    down_test = success | (is_down & net_fail)

    thr = np.full(len(frame), np.nan)
    floor = np.full(len(frame), np.nan)
    plan = _col(frame, "plan_down_mbps")
    for name, target in thresholds.access.items():
        mask = access == name
        if target.down_mbps is not None:
            thr[mask] = target.down_mbps
        if target.plan_fraction is not None:
            thr[mask] = target.plan_fraction * plan[mask]
        if target.floor_mbps is not None:
            floor[mask] = target.floor_mbps
    known = down_test & np.isfinite(thr)
    with np.errstate(invalid="ignore"):
        below = known & (net_fail | (down < thr))
        below_floor = down_test & np.isfinite(floor) & (net_fail | (down < floor))

    if "geometry" in frame.columns:
        geom = frame.geometry
        has = (geom.notna() & ~geom.is_empty).to_numpy()
        lat = np.where(has, geom.y.where(has), np.nan) if has.any() else np.full(len(frame), np.nan)
        lon = np.where(has, geom.x.where(has), np.nan) if has.any() else np.full(len(frame), np.nan)
    else:
        lat = lon = np.full(len(frame), np.nan)
    cell = cells_of(lat, lon, resolution) if resolution is not None else np.zeros(len(frame), "u8")
    up = _col(frame, "upload_mbps")
    up_ok = (kind == "throughput_up") & ~failed_any
    table = pd.DataFrame(
        {
            "cell": cell,
            "lat": lat,
            "lon": lon,
            "carrier": pd.Categorical(frame["carrier"].astype(object).fillna("unknown")),
            "access": pd.Categorical(access),
            "measured_at": times.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]"),
            "hour": hour,
            "day": np.where(down_test, day_arr, np.nan),
            "slot": np.where(down_test, slot, np.nan),
            "down_hour": np.where(down_test, hour, np.nan),
            "peak": np.array([thresholds.windows.is_peak_hour(h) for h in range(24)])[
                np.nan_to_num(hour).astype("int64")
            ],
            "down_test": down_test,
            "failed": is_down & net_fail,
            "failed_no_service": is_down & ns_fail,
            "judged": known,
            "below": below,
            "below_floor": below_floor,
            "down": np.where(success, down, np.nan),
            "threshold": np.where(down_test, thr, np.nan),
            "up": np.where(up_ok, up, np.nan),
            "rtt": np.where(failed_any, np.nan, _col(frame, "rtt_ms")),
            "loss": np.where(failed_any, np.nan, _col(frame, "loss_pct")),
            "rsrp": _col(frame, "rsrp_dbm"),
            "sinr": _col(frame, "sinr_db"),
            "pci": _col(frame, "pci"),
            "cell_id": _col(frame, "cell_id"),
            **{
                name: pd.Categorical(frame[name].astype(object)) if name in frame else None
                for name in ("band", "probe_id", "site_id")
            },
        },
        index=frame.index,
    )
    return table
