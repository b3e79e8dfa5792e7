"""The measurements behind a cell, a weak area or a service point of a survey, read in pages.

`resolve` turns what the page was asked (`Ask`) into a storage `Selection` by the analysis's own
rules (`analysis.behind`), from the survey the page shows (a weak area's cells and outline, a
service point's position). `Reader` reads a page newest first in keyset batches, each on a
connection of its own from the pool, and keeps only the rows inside a dead spot's outline where
one applies; `export` reads the whole selection in one pass (a server-side cursor).

Limits: a page holds `PAGE_SIZE` rows; one page request reads at most `SCAN_MAX_ROWS` rows through
an outline (then the page is shorter and its "next" link goes on from the last row read); an
export holds at most `EXPORT_MAX_ROWS` rows (the newest); the counts above a page read at most
`COUNT_SCAN_MAX_ROWS` rows through an outline.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely.geometry
from psycopg_pool import ConnectionPool
from shapely.geometry.base import BaseGeometry

from lomsong.analysis.behind import (
    WINDOWS,
    cell_number,
    cells_around,
    cells_of_list,
    inside_outline,
    site_circle,
    window_hours,
)
from lomsong.analysis.dbcells import RESOLUTION
from lomsong.analysis.pipeline import SurveyConfig
from lomsong.collector.dashboard.survey import Survey
from lomsong.collector.storage.behind import (
    OUTCOMES,
    Circle,
    Counts,
    Selection,
    count_behind,
    select_behind,
    stream_behind,
)
from lomsong.collector.storage.scope import Scope

__all__ = ["COUNT_SCAN_MAX_ROWS", "EXPORT_MAX_ROWS", "PAGE_SIZE", "SCAN_MAX_ROWS", "TARGETS",
           "Ask", "NotFound", "Reader", "Target", "counts", "export", "page", "resolve"]

TARGETS: tuple[str, ...] = ("cell", "area", "site")
PAGE_SIZE = 100
SCAN_MAX_ROWS = 50_000
EXPORT_MAX_ROWS = 100_000
COUNT_SCAN_MAX_ROWS = 200_000
_BATCH = 2_000


class NotFound(LookupError):
    """The weak area or service point is not in this survey (another period, or ward)."""


@dataclass(frozen=True)
class Ask:
    """What the page was asked for: the target and the filters (None: the target's own)."""

    target: str
    ident: str
    carrier: str | None = None
    access: str | None = None
    window: str | None = None
    outcome: str = "all"

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"target: {self.target!r} is not one of {', '.join(TARGETS)}")
        if self.window is not None and self.window not in WINDOWS:
            raise ValueError(f"window: {self.window!r} is not one of {', '.join(WINDOWS)}")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome: {self.outcome!r} is not one of {', '.join(OUTCOMES)}")


@dataclass(frozen=True)
class Target:
    """A resolved ask: the effective filters, the storage selection, a dead spot's outline,
    the area's or point's row (empty for a cell), and the carriers/technologies to offer."""

    ask: Ask
    selection: Selection
    outline: BaseGeometry | None = None
    row: dict[str, Any] = field(default_factory=dict)
    carriers: tuple[str, ...] = ()
    accesses: tuple[str, ...] = ()

    @property
    def fixed(self) -> bool:
        """A weak area is one carrier's and technology's: those filters do not apply."""
        return self.ask.target == "area"


def _clean(row: pd.Series) -> dict[str, Any]:
    return {k: (None if not isinstance(v, list | tuple) and pd.isna(v) else v)
            for k, v in row.items()}


def _options(frame: pd.DataFrame, column: str) -> tuple[str, ...]:
    if frame.empty or column not in frame.columns:
        return ()
    return tuple(sorted({str(v) for v in frame[column].dropna()}))


def resolve(survey: Survey, ask: Ask) -> Target:
    """The selection behind `ask` in `survey` (its period, its ward's thresholds).

    Raises
    ------
    ValueError
        A cell id that is not an H3 cell of the stored resolution.
    NotFound
        A weak area or service point the survey does not have.
    """
    result = survey.result
    row: dict[str, Any] = {}
    outline = None
    place: dict[str, Any]
    if ask.target == "cell":
        cell = cell_number(ask.ident, RESOLUTION)
        here = result.classified[result.classified["cell"] == h3.int_to_str(cell)]
        place = {"cells": (cell,)}
        carriers, accesses = _options(here, "carrier"), _options(here, "access")
    elif ask.target == "area":
        area, row = _area(result.weak_areas, ask.ident)
        cells = cells_of_list(str(area["cell_list"] or ""), RESOLUTION)
        hexes = (shapely.geometry.shape(h3.cells_to_geo([h3.int_to_str(c) for c in cells]))
                 if cells else None)
        # A dead spot's outline follows its failed tests, not its cells' hexagons.
        if hexes is None or not area.geometry.equals(hexes):
            outline = area.geometry
        carrier, access = str(area["carrier"]), str(area["access"])
        ask = replace(ask, carrier=carrier, access=access,
                      window=ask.window or str(row.get("deciding_window") or "all"))
        place = {"cells": cells} if cells else {"site_id": ""}  # no cells: nothing inside
        carriers, accesses = (carrier,), (access,)
    else:
        point = _site(result.scorecards, ask.ident)
        row = _clean(point.iloc[0][["site_id", "name", "address", "site_type"]])
        lat, lon = float(point.geometry.iloc[0].y), float(point.geometry.iloc[0].x)
        radius_m = SurveyConfig.radius_m
        row.update(lat=lat, lon=lon, radius_m=radius_m)
        place = {"site_id": ask.ident,
                 "circle": Circle(lat, lon, radius_m, *site_circle(lat),
                                  cells_around(lat, lon, radius_m, RESOLUTION))}
        carriers, accesses = _options(point, "carrier"), _options(point, "access")
    thresholds = survey.report_input.thresholds
    ask = replace(ask, window=ask.window or "all")
    selection = Selection(
        **place, start=survey.period.start_utc, end=survey.period.end_utc,
        carriers=(ask.carrier,) if ask.carrier else (),
        accesses=(ask.access,) if ask.access else (),
        local_hours=window_hours(ask.window or "all", thresholds),
        timezone=thresholds.windows.timezone, sources=tuple(thresholds.sources.in_statistics),
        outcome=ask.outcome)
    return Target(ask, selection, outline, row, carriers, accesses)


def _area(areas: gpd.GeoDataFrame, area_id: str) -> tuple[pd.Series, dict[str, Any]]:
    match = areas[areas["area_id"].astype(str) == area_id] if len(areas) else areas
    if match.empty:
        raise NotFound(f"weak area {area_id!r}")
    area = match.to_crs(4326).iloc[0]
    return area, _clean(area.drop(labels=[match.geometry.name]))


def _site(cards: gpd.GeoDataFrame, site_id: str) -> gpd.GeoDataFrame:
    match = cards[cards["site_id"].astype(str) == site_id] if len(cards) else cards
    if match.empty:
        raise NotFound(f"service point {site_id!r}")
    return match.to_crs(4326)


class Reader:
    """The target's rows newest first, after `after` (time, id), read in batches."""

    def __init__(self, pool: ConnectionPool, target: Target, scope: Scope,
                 after: tuple[datetime, uuid.UUID] | None = None) -> None:
        self._pool, self._target, self._scope = pool, target, scope
        self.last_read = after
        self.exhausted = False
        self.read = 0

    def rows(self, *, scan_max: int, batch: int = _BATCH,
             columns: tuple[str, ...] | None = None) -> Iterator[dict[str, Any]]:
        """Kept rows until the selection ends or `scan_max` rows were read."""
        outline = self._target.outline
        extra = {} if columns is None else {"columns": columns}
        while not self.exhausted and self.read < scan_max:
            size = min(batch, scan_max - self.read)
            with self._pool.connection() as conn:
                rows = select_behind(conn, self._target.selection, scope=self._scope,
                                     limit=size, after=self.last_read, **extra)
            self.read += len(rows)
            if len(rows) < size:
                self.exhausted = True
            if not rows:
                return
            self.last_read = (rows[-1]["time"], rows[-1]["id"])
            if outline is not None:
                lat = np.array([np.nan if r["lat"] is None else r["lat"] for r in rows])
                lon = np.array([np.nan if r["lon"] is None else r["lon"] for r in rows])
                keep = inside_outline(outline, lat, lon)
                rows = [r for r, k in zip(rows, keep, strict=True) if k]
            yield from rows


def page(pool: ConnectionPool, target: Target, scope: Scope,
         after: tuple[datetime, uuid.UUID] | None) -> tuple[list[dict[str, Any]],
                                                            tuple[datetime, uuid.UUID] | None]:
    """One page of `PAGE_SIZE` rows and where the next one starts (None: no more)."""
    reader = Reader(pool, target, scope, after)
    batch = PAGE_SIZE + 1 if target.outline is None else _BATCH
    rows: list[dict[str, Any]] = []
    for row in reader.rows(scan_max=SCAN_MAX_ROWS, batch=batch):
        rows.append(row)
        if len(rows) > PAGE_SIZE:
            break
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        return rows, (rows[-1]["time"], rows[-1]["id"])
    return rows, None if reader.exhausted else reader.last_read


def export(pool: ConnectionPool, target: Target, scope: Scope,
           write: Callable[[Iterator[dict[str, Any]]], None]) -> bool:
    """Hand `write` the target's rows, newest first, of the first `EXPORT_MAX_ROWS` read, in one
    pass on one connection; True when the selection held more (the file is cut)."""
    outline = target.outline
    more = False

    def rows(source: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        nonlocal more
        for read, row in enumerate(source):
            if read == EXPORT_MAX_ROWS:
                more = True
                return
            if outline is None or _inside(outline, row):
                yield row

    with pool.connection() as conn, closing(stream_behind(
            conn, target.selection, scope=scope, limit=EXPORT_MAX_ROWS + 1)) as source:
        write(rows(source))
    return more


def _inside(outline: BaseGeometry, row: dict[str, Any]) -> bool:
    if row["lat"] is None or row["lon"] is None:
        return False
    return bool(inside_outline(outline, np.array([row["lat"]]), np.array([row["lon"]]))[0])


def counts(pool: ConnectionPool, target: Target, scope: Scope) -> tuple[Counts, bool]:
    """How many rows the target holds (all, downloads, failed), and whether the count stopped
    at `COUNT_SCAN_MAX_ROWS` (through an outline only)."""
    if target.outline is None:
        with pool.connection() as conn:
            return count_behind(conn, target.selection, scope=scope), False
    reader = Reader(pool, target, scope)
    rows = downloads = failed = 0
    for row in reader.rows(scan_max=COUNT_SCAN_MAX_ROWS, batch=5_000,
                           columns=("time", "id", "lat", "lon", "kind", "error_kind")):
        rows += 1
        downloads += row["kind"] == "throughput_down"
        failed += row["error_kind"] is not None
    return Counts(rows, downloads, failed), not reader.exhausted
