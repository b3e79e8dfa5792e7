"""What a report (or a map) is made from: the analysis outputs of one survey.

Example
-------
>>> import geopandas as gpd
>>> empty = ReportInput.empty()
>>> len(empty.cells), empty.routes is None
(0, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd

from lomsong.maps.frames import COLUMNS, check_frame

__all__ = ["ReportInput"]


@dataclass(frozen=True)
class ReportInput:
    """The analysis outputs (GeoDataFrames, EPSG:4326) with the columns of `maps.frames.COLUMNS`.

    `min_samples`, `min_failed`, `weak_share` and the peak window are the sample rules and local
    peak hours the analysis used; the report's method section states them.
    """

    cells: gpd.GeoDataFrame
    weak_areas: gpd.GeoDataFrame
    scorecards: gpd.GeoDataFrame
    proposals: gpd.GeoDataFrame
    routes: gpd.GeoDataFrame | None = None
    boundary: gpd.GeoDataFrame | None = None
    min_samples: int = 5
    min_failed: int = 3
    weak_share: float = 0.5
    peak_start_hour: int = 19
    peak_end_hour: int = 22

    def __post_init__(self) -> None:
        for kind in ("cells", "weak_areas", "scorecards", "proposals", "routes", "boundary"):
            frame = getattr(self, kind)
            if frame is not None:
                object.__setattr__(self, kind, check_frame(frame, kind))

    @classmethod
    def empty(cls) -> ReportInput:
        """A survey with no rows at all (a period with no data)."""
        frames = {kind: gpd.GeoDataFrame({c: [] for c in COLUMNS[kind]}, geometry=[], crs=4326)
                  for kind in ("cells", "weak_areas", "scorecards", "proposals")}
        return cls(**frames)
