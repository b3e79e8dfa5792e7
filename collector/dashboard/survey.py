"""The survey the dashboard shows: the analysis of one period, cached per (period, data version).

Reading rows and running `analysis.pipeline.run_survey` take seconds for a month of a ward's
data, so results are kept in memory (a few periods, least recently used dropped) and computed in
a worker thread. The cache key includes `collector.storage.fleet.data_version`, so new
measurements or edited service points give a new analysis on the next page load.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import geopandas as gpd
import psycopg
import shapely.geometry
from psycopg_pool import ConnectionPool

from lomsong.analysis.load import measurements_frame
from lomsong.analysis.pipeline import SurveyConfig, SurveyResult, run_survey
from lomsong.collector.storage.fleet import DataVersion, data_version
from lomsong.collector.storage.measurements import select_for_analysis
from lomsong.collector.storage.sites import StoredServicePoint, get_ward, list_sites
from lomsong.maps.report_input import ReportInput

T = TypeVar("T")

__all__ = ["DEFAULT_DAYS", "Period", "Survey", "SurveyCache", "boundary_frame", "compute_survey",
           "points_frame"]

DEFAULT_DAYS = 30
EARLIEST_DAY = date(2010, 1, 1)
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


def _day(name: str, value: str, today: date) -> date:
    """A query date, within 2010-01-01 .. a year from `today` (beyond: no survey, and no date
    arithmetic that could overflow)."""
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {value[:40]!r} is not a date (YYYY-MM-DD)") from exc
    latest = today + timedelta(days=366)
    if not EARLIEST_DAY <= day <= latest:
        raise ValueError(f"{name}: {day} is outside {EARLIEST_DAY} to {latest}")
    return day


@dataclass(frozen=True)
class Period:
    """Whole local days, `first` to `last` inclusive."""

    first: date
    last: date

    @classmethod
    def parse(cls, first: str | None, last: str | None, today: date | None = None) -> Period:
        """From ``YYYY-MM-DD`` query values; missing ones give the last 30 days to today."""
        today = today or datetime.now(LOCAL).date()
        end = _day("to", last, today) if last else today
        start = (_day("from", first, today) if first
                 else max(EARLIEST_DAY, end - timedelta(days=DEFAULT_DAYS - 1)))
        if end < start:
            raise ValueError(f"period ends ({end}) before it starts ({start})")
        if (end - start).days > 366:
            raise ValueError("period longer than a year; choose a shorter one")
        return cls(start, end)

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(self.first, time(), LOCAL).astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), LOCAL).astimezone(UTC)


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
        return layers


def compute_survey(conn: psycopg.Connection[Any], period: Period,
                   version: DataVersion | None = None) -> Survey:
    """Analyse `period` from the database: measurements, service points and the ward."""
    version = version if version is not None else data_version(conn, period.start_utc,
                                                               period.end_utc)
    rows = select_for_analysis(conn, start=period.start_utc, end=period.end_utc)
    sites = list_sites(conn)
    ward = get_ward(conn)
    ward_name = ward.name if ward else ""
    boundary = boundary_frame(ward.boundary_json if ward else None, ward_name)
    frame = measurements_frame(rows)
    result = run_survey(frame, points_frame(sites), SurveyConfig())
    report_input = ReportInput(cells=result.classified, weak_areas=result.weak_areas,
                               scorecards=result.scorecards, proposals=result.proposals,
                               routes=result.route, boundary=boundary)
    return Survey(period, version, ward_name, len(rows), result, report_input, boundary)


class SurveyCache:
    """Surveys by (period, data version); `get` is blocking: call it in a worker thread."""

    def __init__(self, max_entries: int = 4) -> None:
        self._max = max_entries
        self._entries: OrderedDict[tuple[Period, DataVersion], Survey] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[tuple[Period, DataVersion], threading.Lock] = {}

    def get(self, pool: ConnectionPool, period: Period) -> Survey:
        with pool.connection() as conn:
            version = data_version(conn, period.start_utc, period.end_utc)
        key = (period, version)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:  # one computation per key; others wait for it
            with self._lock:
                if key in self._entries:
                    return self._entries[key]
            with pool.connection() as conn:
                survey = compute_survey(conn, period, version)
            with self._lock:
                self._entries[key] = survey
                self._computing.pop(key, None)
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
        return survey
