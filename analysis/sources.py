"""Sources of measurements kept apart: which count in the statistics, how many came from each.

Probes (iperf3, speedtest), imported files, synthetic demo data and the volunteers' phones
(``browser``: the collector's measurement page, parallel HTTP transfers) measure by different
methods. `Thresholds.sources.in_statistics` names the sources whose measurements count in cell
statistics, weak areas and scorecards (browser results only where the ward adds them); the
others are never mixed in silently, but still counted (`source_table`) and drawn as their own
layer (`browser_points`). A record without a source is a probe's (the record's default).

Example
-------
>>> from lomsong.analysis.load import measurements_frame
>>> from lomsong.analysis.thresholds import Sources
>>> m = measurements_frame([
...     {"probe_id": "p", "measured_at": "2026-11-02T03:00:00Z", "kind": "throughput_down",
...      "tool": "iperf3", "source": "probe", "download_mbps": 12.0},
...     {"probe_id": "web-1", "measured_at": "2026-11-02T03:00:00Z", "kind": "throughput_down",
...      "tool": "lomsong-web", "source": "browser", "download_mbps": 50.0}])
>>> len(counted(m, Sources()))
1
>>> source_table(m, Sources())[["source", "method", "count", "in_statistics"]].values.tolist()
[['probe', 'iperf3', 1, True], ['browser', 'lomsong-web', 1, False]]
"""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd

from lomsong.analysis._geo import WGS84, to_wgs84
from lomsong.analysis.thresholds import SOURCES, Sources

__all__ = [
    "BROWSER_COLUMNS",
    "BROWSER_POINTS_MAX",
    "SOURCE_COLUMNS",
    "browser_points",
    "counted",
    "per_source",
    "source_of",
    "source_table",
    "source_table_from_rows",
]

SOURCE_COLUMNS: tuple[str, ...] = ("source", "method", "count", "share", "in_statistics")
BROWSER_COLUMNS: tuple[str, ...] = (
    "measured_at", "kind", "carrier", "access", "download_mbps", "upload_mbps", "rtt_ms",
    "error_kind", "site_id",
)
_DEFAULT_SOURCE = "probe"
# The most phone results one map layer draws (the newest are kept).
BROWSER_POINTS_MAX = 20_000


def source_of(measurements: pd.DataFrame) -> np.ndarray:
    """The source of each row as strings (``probe`` where the frame has none)."""
    if "source" not in measurements.columns:
        return np.full(len(measurements), _DEFAULT_SOURCE, dtype=object)
    values = measurements["source"].astype(object).to_numpy(copy=True)
    values[pd.isna(values)] = _DEFAULT_SOURCE
    return np.array([str(getattr(v, "value", v)) for v in values], dtype=object)


def counted(measurements: gpd.GeoDataFrame, sources: Sources) -> gpd.GeoDataFrame:
    """The rows whose source counts in the statistics (the input itself when all do)."""
    keep = np.isin(source_of(measurements), list(sources.in_statistics))
    if keep.all():
        return measurements
    return measurements[keep]


def _ordered(table: pd.DataFrame, sources: Sources) -> pd.DataFrame:
    total = int(table["count"].sum())
    table = table.assign(
        share=table["count"] / total if total else np.nan,
        in_statistics=table["source"].isin(sources.in_statistics),
        _o=table["source"].map(lambda s: SOURCES.index(s) if s in SOURCES else len(SOURCES)),
    )
    table = table.sort_values(["_o", "source", "count", "method"],
                              ascending=[True, True, False, True])
    table = table.drop(columns="_o").reset_index(drop=True)
    table["count"] = table["count"].astype("int64")
    table["in_statistics"] = table["in_statistics"].astype(bool)
    return table[list(SOURCE_COLUMNS)]


def source_table(measurements: pd.DataFrame, sources: Sources) -> pd.DataFrame:
    """Measurements per source and method (the tool: iperf3, speedtest, lomsong-web...).

    Columns `SOURCE_COLUMNS`: ``count``, ``share`` of all measurements (0-1) and whether the
    source counts in the statistics; sources in `analysis.thresholds.SOURCES` order.
    """
    source = source_of(measurements)
    if "tool" in measurements.columns:
        method = measurements["tool"].astype(object).fillna("").astype(str).to_numpy()
    else:
        method = np.full(len(measurements), "", dtype=object)
    frame = pd.DataFrame({"source": source, "method": method})
    table = frame.groupby(["source", "method"], sort=False).size().rename("count").reset_index()
    return _ordered(table, sources)


def source_table_from_rows(rows: Iterable[tuple[str, str | None, int]],
                           sources: Sources) -> pd.DataFrame:
    """`source_table` from (source, method, count) rows counted elsewhere (in the database)."""
    table = pd.DataFrame([(str(s), m or "", int(n)) for s, m, n in rows],
                         columns=["source", "method", "count"])
    if table.empty:
        table["count"] = table["count"].astype("int64")
    return _ordered(table, sources)


def per_source(table: pd.DataFrame) -> dict[str, int]:
    """Measurements per source (methods added up) of a `source_table`, sources in name order."""
    totals = table.groupby("source", sort=True)["count"].sum()
    return {str(source): int(n) for source, n in totals.items()}


def browser_points(measurements: gpd.GeoDataFrame,
                   limit: int = BROWSER_POINTS_MAX) -> gpd.GeoDataFrame:
    """The phones' results with a position, as their own layer (EPSG:4326, `BROWSER_COLUMNS`):
    the newest `limit` of them."""
    frame = to_wgs84(measurements, "measurements")
    keep = (source_of(frame) == "browser")
    if len(frame):
        keep &= frame.geometry.notna().to_numpy() & ~frame.geometry.is_empty.to_numpy()
    if int(keep.sum()) > limit:
        times = pd.to_datetime(frame["measured_at"], utc=True).to_numpy()
        newest = np.flatnonzero(keep)[np.argsort(times[keep], kind="stable")[-limit:]]
        keep = np.zeros(len(frame), dtype=bool)
        keep[newest] = True
    columns = {c: (frame[c][keep].to_numpy() if c in frame.columns
                   else np.full(int(keep.sum()), None, dtype=object))
               for c in BROWSER_COLUMNS}
    return gpd.GeoDataFrame(columns, geometry=frame.geometry[keep].to_numpy(), crs=WGS84)
