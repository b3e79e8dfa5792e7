"""What a report (or a map) is made from: the analysis outputs of one survey.

Example
-------
>>> import geopandas as gpd
>>> empty = ReportInput.empty()
>>> len(empty.cells), empty.routes is None
(0, True)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from lomsong.analysis.thresholds import Thresholds, load_thresholds
from lomsong.maps.frames import COLUMNS, check_frame

__all__ = ["ReportInput", "sources_from_layer", "sources_layer"]

_SOURCE_LIMIT = 50  # distinct sources read back from a file (there are four)


def sources_layer(sources: dict[str, int]) -> gpd.GeoDataFrame:
    """The GeoPackage layer ``sources`` (no geometry): measurements per source."""
    return gpd.GeoDataFrame({"source": list(sources), "measurements": list(sources.values())},
                            geometry=gpd.GeoSeries([None] * len(sources), crs=4326))


def sources_from_layer(frame: pd.DataFrame) -> dict[str, int]:
    """Read back `sources_layer`; ``ValueError`` naming the layer when it is malformed."""
    if not {"source", "measurements"} <= set(frame.columns) or len(frame) > _SOURCE_LIMIT:
        raise ValueError(f"sources: expected columns source, measurements and at most "
                         f"{_SOURCE_LIMIT} rows")
    counts = pd.to_numeric(frame["measurements"], errors="coerce")
    if counts.isna().any() or (counts < 0).any():
        raise ValueError("sources: measurements must be counts (whole numbers, 0 or more)")
    return {str(s): int(n) for s, n in zip(frame["source"], counts, strict=True)}


def _local(values: pd.Series, tz: str) -> pd.Series:
    """Naive local timestamps of dates or aware times (unreadable values dropped)."""
    stamps = pd.to_datetime(values, errors="coerce", utc=values.map(
        lambda v: getattr(v, "tzinfo", None) is not None).any())
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_convert(tz).dt.tz_localize(None)
    return stamps.dropna()


@dataclass(frozen=True)
class ReportInput:
    """The analysis outputs (GeoDataFrames, EPSG:4326) with the columns of `maps.frames.COLUMNS`.

    `thresholds` are the targets, sample rules, peak hours and cause rules the analysis used
    (`analysis/thresholds.toml` with the ward's override); the report's method section is written
    from them, so it cannot state other numbers than the code applied.

    `sources` (optional) counts the measurements per source and method (`analysis.sources`:
    source, method, count, share, in_statistics), so a report can state them; `browser` holds
    the phones' results with a position, drawn as their own map layer.
    """

    cells: gpd.GeoDataFrame
    weak_areas: gpd.GeoDataFrame
    scorecards: gpd.GeoDataFrame
    proposals: gpd.GeoDataFrame
    routes: gpd.GeoDataFrame | None = None
    boundary: gpd.GeoDataFrame | None = None
    thresholds: Thresholds = field(default_factory=load_thresholds)
    sources: dict[str, int] = field(default_factory=dict)
    """Measurements per source (``probe``, ``import``, ``synthetic``, ``browser``); empty when
    the input does not record it (the report then says the sources are unknown)."""
    source_table: pd.DataFrame | None = None
    """Measurements per source and method (`analysis.sources.source_table`: source, method, count,
    share, in_statistics), when the analysis gave it."""
    browser: gpd.GeoDataFrame | None = None
    """The phones' results with a position, drawn as their own map layer."""

    def __post_init__(self) -> None:
        for kind in ("cells", "weak_areas", "scorecards", "proposals", "routes", "boundary",
                     "browser"):
            frame = getattr(self, kind)
            if frame is not None:
                object.__setattr__(self, kind, check_frame(frame, kind))

    def data_dates(self) -> tuple[dt.date, dt.date] | None:
        """First and last local test dates the data shows (weak areas' test dates, service
        points' last measurement); None when no row carries a date."""
        tz = self.thresholds.windows.timezone
        stamps = [_local(self.weak_areas[c], tz) for c in ("first_date", "last_date")]
        stamps.append(_local(self.scorecards["last_measured_at"], tz))
        dates = pd.concat(stamps).dropna()
        if not len(dates):
            return None
        return dates.min().date(), dates.max().date()

    @classmethod
    def empty(cls) -> ReportInput:
        """A survey with no rows at all (a period with no data)."""
        frames = {kind: gpd.GeoDataFrame({c: [] for c in COLUMNS[kind]}, geometry=[], crs=4326)
                  for kind in ("cells", "weak_areas", "scorecards", "proposals")}
        return cls(**frames)
