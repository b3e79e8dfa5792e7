"""The whole survey in one call: cells -> classification -> weak areas -> scorecards -> proposals.

Only the sources the ward counts (`Thresholds.sources`, see `analysis.sources`) enter the
statistics; every source is counted in `SurveyResult.sources` and the phones' results are kept as
their own layer (`SurveyResult.browser`).

Used by `lomsong analyze`, the maps/report and the dashboard, so all of them show the same numbers.

Example
-------
>>> result = run_survey(measurements, service_points)  # doctest: +SKIP
>>> write_geopackage("survey.gpkg", **result.layers())  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from lomsong.analysis._geo import WGS84, to_wgs84
from lomsong.analysis._samples import sample_table
from lomsong.analysis.areas import weak_areas
from lomsong.analysis.cells import cell_stats
from lomsong.analysis.classify import classify_cells
from lomsong.analysis.planner import coverage_gaps, suggest_walk_route
from lomsong.analysis.proposals import upgrade_proposals
from lomsong.analysis.sites import scorecards
from lomsong.analysis.sources import browser_points, counted, source_table
from lomsong.analysis.thresholds import Thresholds, load_thresholds

__all__ = ["SurveyConfig", "SurveyResult", "empty_service_points", "run_survey"]


@dataclass(frozen=True)
class SurveyConfig:
    """Settings of one survey run. `carriers`: mobile carriers expected in every cell (planner)."""

    thresholds: Thresholds = field(default_factory=load_thresholds)
    resolution: int = 10
    radius_m: float = 150.0
    carriers: tuple[str, ...] | None = None
    route_start: tuple[float, float] | None = None


@dataclass(frozen=True)
class SurveyResult:
    cells: gpd.GeoDataFrame
    classified: gpd.GeoDataFrame
    weak_areas: gpd.GeoDataFrame
    scorecards: gpd.GeoDataFrame
    proposals: gpd.GeoDataFrame
    gaps: gpd.GeoDataFrame
    route: gpd.GeoDataFrame
    sources: pd.DataFrame
    browser: gpd.GeoDataFrame

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """GeoPackage layers: classified cells, weak areas, service points, proposals, gaps, route,
        the phones' results and the count per source and method (``source_methods``, a table
        without geometry)."""
        return {
            "cells": self.classified,
            "weak_areas": self.weak_areas,
            "service_points": self.scorecards,
            "proposals": self.proposals,
            "gaps": self.gaps,
            "walk_route": self.route,
            "browser_points": self.browser,
            "source_methods": gpd.GeoDataFrame(self.sources, geometry=gpd.GeoSeries(
                [None] * len(self.sources), index=self.sources.index, crs=WGS84)),
        }


def empty_service_points(crs: object) -> gpd.GeoDataFrame:
    """A valid service-point frame with no rows (a ward that has not entered any yet)."""
    frame = pd.DataFrame({c: pd.Series(dtype=object)
                          for c in ("site_id", "name", "site_type", "address")})
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=WGS84)).to_crs(crs)


def run_survey(
    measurements: gpd.GeoDataFrame,
    service_points: gpd.GeoDataFrame | None = None,
    config: SurveyConfig | None = None,
) -> SurveyResult:
    """Run every analysis step on `measurements` (and the ward's service points, if any).

    Statistics use the sources in ``config.thresholds.sources.in_statistics`` only.
    """
    config = config or SurveyConfig()
    to_wgs84(measurements, "measurements")
    t = config.thresholds
    points = service_points if service_points is not None else empty_service_points(measurements.crs)
    chosen = counted(measurements, t.sources)
    if not chosen.index.is_unique:  # the sample table's subsets are taken by index
        chosen = chosen.reset_index(drop=True)
    # Normalised once (cell, local time, below target?); each step takes the rows it needs.
    samples = sample_table(chosen, t, config.resolution)
    cells = cell_stats(chosen, resolution=config.resolution, thresholds=t, samples=samples)
    classified = classify_cells(cells, t)
    areas = weak_areas(classified, chosen, thresholds=t, samples=samples)
    cards = scorecards(points, chosen, classified, radius_m=config.radius_m, thresholds=t,
                       samples=samples)
    proposals = upgrade_proposals(areas, cards, cause_rules=t.cause)
    gaps = coverage_gaps(classified, thresholds=t, carriers=config.carriers)
    route = suggest_walk_route(gaps, start=config.route_start)
    return SurveyResult(cells, classified, areas, cards, proposals, gaps, route,
                        source_table(measurements, t.sources), browser_points(measurements))
