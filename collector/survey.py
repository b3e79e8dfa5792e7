"""The survey of a period: the one service the dashboard, `lomsong analyze`, `report` and the demo use.

`compute_survey` reads the period's measurements, the service points and the ward stored in the
database and runs the analysis (in memory, or with the cell statistics grouped in SQL for
millions of rows, `collector.survey_db`), so every surface shows the same answer for the same
data. The dashboard keeps results in memory (`collector.dashboard.survey.SurveyCache`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import geopandas as gpd
import psycopg
import shapely.geometry

from lomsong.analysis.load import measurements_frame
from lomsong.analysis.period import Period
from lomsong.analysis.pipeline import SurveyConfig, SurveyResult, run_survey
from lomsong.analysis.sources import per_source
from lomsong.analysis.thresholds import Thresholds, load_thresholds
from lomsong.collector.storage.fleet import DataVersion, data_version
from lomsong.collector.storage.measurements import select_for_analysis
from lomsong.collector.storage.scope import SINGLE_WARD, Scope
from lomsong.collector.storage.sites import StoredServicePoint, get_ward, list_sites
from lomsong.collector.survey_db import run_survey_db
from lomsong.maps.report_input import ReportInput, sources_layer

T = TypeVar("T")

__all__ = ["Survey", "boundary_frame", "compute_survey", "points_frame"]


def points_frame(sites: list[StoredServicePoint]) -> gpd.GeoDataFrame:
    """Service points from the database in the shape `analysis.sites` reads."""
    return gpd.GeoDataFrame(
        {"site_id": [s.site_id for s in sites], "name": [s.name for s in sites],
         "site_type": [s.site_type for s in sites], "address": [s.address for s in sites]},
        geometry=gpd.points_from_xy([s.lon for s in sites], [s.lat for s in sites]), crs=4326)


def boundary_frame(boundary_json: str | None, name: str) -> gpd.GeoDataFrame | None:
    if not boundary_json:
        return None
    data = json.loads(boundary_json)
    features = data.get("features") if data.get("type") == "FeatureCollection" else [data]
    shapes = [shapely.geometry.shape(f.get("geometry", f)) for f in features]
    return gpd.GeoDataFrame({"name": [name] * len(shapes)}, geometry=shapes, crs=4326)


@dataclass
class Survey:
    """One period's analysis plus the pages already rendered from it."""

    period: Period
    version: DataVersion
    ward_name: str
    measurements: int
    result: SurveyResult
    report_input: ReportInput
    boundary: gpd.GeoDataFrame | None
    rendered: dict[tuple[str, ...], Any] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def of(cls, period: Period, version: DataVersion, ward_name: str, measurements: int,
           result: SurveyResult, thresholds: Thresholds, boundary: gpd.GeoDataFrame | None,
           rendered: dict[tuple[str, ...], Any] | None = None) -> Survey:
        """The survey of an analysis `result` (its report input built from it)."""
        report_input = ReportInput(cells=result.classified, weak_areas=result.weak_areas,
                                   scorecards=result.scorecards, proposals=result.proposals,
                                   routes=result.route, boundary=boundary, thresholds=thresholds,
                                   sources=per_source(result.sources))
        return cls(period, version, ward_name, measurements, result, report_input, boundary,
                   rendered=rendered or {})

    def render_once(self, key: tuple[str, ...], build: Callable[[], T]) -> T:
        """`build()` the first time `key` is asked for, then the same object (a map, a PDF, the
        GeoPackage) for as long as this survey is cached. Builds are serialised by `lock`
        (re-entrant: a PDF's build asks for the GeoPackage)."""
        with self.lock:
            if key not in self.rendered:
                self.rendered[key] = build()
            value: T = self.rendered[key]
            return value

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """GeoPackage layers: the analysis layers plus the ward boundary when there is one."""
        layers = self.result.layers()
        if self.boundary is not None:
            layers["boundary"] = self.boundary
        layers["sources"] = sources_layer(self.report_input.sources)
        return layers


def compute_survey(conn: psycopg.Connection[Any], period: Period,
                   version: DataVersion | None = None, *, config: SurveyConfig | None = None,
                   points: gpd.GeoDataFrame | None = None, in_db: bool = False,
                   scope: Scope = SINGLE_WARD) -> Survey:
    """Analyse `period` of one ward (`scope`) from the database: measurements, service points
    and the ward.

    `points` replaces the stored service points (``lomsong analyze --sites``); `in_db` groups
    the cell statistics in SQL (`collector.survey_db.run_survey_db`, for millions of rows).
    Both read every source; the statistics count those of ``config.thresholds.sources``.
    """
    version = version if version is not None else data_version(conn, period.start_utc,
                                                               period.end_utc, scope)
    ward = get_ward(conn, scope)
    ward_name = ward.name if ward else ""
    boundary = boundary_frame(ward.boundary_json if ward else None, ward_name)
    points = points if points is not None else points_frame(list_sites(conn, scope))
    if config is None:  # the ward's own thresholds when it overrides them
        override = ward.thresholds_toml if ward else None
        config = SurveyConfig(thresholds=load_thresholds(override_text=override)) if override \
            else SurveyConfig()
    if in_db:
        result = run_survey_db(conn, points, config, start=period.start_utc, end=period.end_utc,
                               scope=scope)
    else:
        rows = select_for_analysis(conn, start=period.start_utc, end=period.end_utc,
                                   scope=scope)
        result = run_survey(measurements_frame(rows), points, config)
        del rows
    # Every measurement of the period, whichever sources the statistics count.
    count = int(result.sources["count"].sum())
    return Survey.of(period, version, ward_name, count, result, config.thresholds, boundary)
