"""What a report (or a map) is made from: the analysis outputs of one survey.

Example
-------
>>> import geopandas as gpd
>>> empty = ReportInput.empty()
>>> len(empty.cells), empty.routes is None
(0, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from lomsong.analysis.thresholds import Thresholds, load_thresholds
from lomsong.maps.frames import COLUMNS, check_frame

__all__ = ["ReportInput"]


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
    sources: pd.DataFrame | None = None
    browser: gpd.GeoDataFrame | None = None

    def __post_init__(self) -> None:
        for kind in ("cells", "weak_areas", "scorecards", "proposals", "routes", "boundary",
                     "browser"):
            frame = getattr(self, kind)
            if frame is not None:
                object.__setattr__(self, kind, check_frame(frame, kind))

    @classmethod
    def empty(cls) -> ReportInput:
        """A survey with no rows at all (a period with no data)."""
        frames = {kind: gpd.GeoDataFrame({c: [] for c in COLUMNS[kind]}, geometry=[], crs=4326)
                  for kind in ("cells", "weak_areas", "scorecards", "proposals")}
        return cls(**frames)
