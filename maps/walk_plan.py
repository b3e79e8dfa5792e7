"""A volunteer's walk, ready to show and to download: stops in order, what each needs, and when.

`plan_walk` takes the coverage gaps of a survey (`analysis.planner.coverage_gaps`), keeps one
carrier and technology if asked, orders the gap cells into a walk from a start point
(`analysis.planner.suggest_walk_route`: nearest neighbour, then 2-opt, straight-line distances)
and says for each stop what is missing in plain words (`maps.walk_text`). `WalkPlan.gpx` is the
same walk as a GPX 1.1 file for a phone; `WalkPlan.svg` is the map drawn on the page.

Example
-------
>>> plan = plan_walk(gaps, _, thresholds, start=Start(21.03, 105.85, "UBND"))  # doctest: +SKIP
>>> plan.gpx(name="Walk")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import h3

from lomsong.analysis.planner import suggest_walk_route
from lomsong.analysis.thresholds import Thresholds
from lomsong.maps.gpx import GpxPoint, walk_gpx
from lomsong.maps.i18n import Gettext
from lomsong.maps.labels import ACCESS_ORDER, CARRIER_ORDER
from lomsong.maps.routesvg import RouteSvg, route_svg
from lomsong.maps.walk_text import PEAK_GAPS, need_text, window_text

__all__ = ["MAX_STOPS", "Start", "Stop", "WalkPlan", "plan_walk"]

MAX_STOPS = 300


@dataclass(frozen=True)
class Start:
    """Where the walk begins (WGS 84) and what to call it."""

    lat: float
    lon: float
    name: str


@dataclass(frozen=True)
class Stop:
    order: int
    cell: str
    lat: float
    lon: float
    leg_m: float
    cumulative_m: float
    window: str                  # when to be there, in words
    peak: bool                   # the window is the evening peak
    needs: list[str]             # what is missing, one sentence per carrier x technology x gap


@dataclass(frozen=True)
class WalkPlan:
    stops: list[Stop]
    start: Start | None
    carriers: list[str]          # carriers with gaps (the page's choice)
    accesses: list[str]          # technologies with gaps
    cells_total: int             # gap cells before the `MAX_STOPS` cut
    svg: RouteSvg = field(repr=False)

    @property
    def length_m(self) -> float:
        return self.stops[-1].cumulative_m if self.stops else 0.0

    def gpx(self, *, name: str, desc: str = "") -> bytes:
        """The walk as GPX 1.1: the start and each stop as waypoints, and the route."""
        start = GpxPoint(self.start.lat, self.start.lon, self.start.name) if self.start else None
        stops = [GpxPoint(s.lat, s.lon, f"{s.order}", f"{s.window}. " + "; ".join(s.needs))
                 for s in self.stops]
        return walk_gpx(stops, name=name, start=start, desc=desc)


def _ordered(values: set[str], order: tuple[str, ...]) -> list[str]:
    return sorted(values, key=lambda v: (order.index(v) if v in order else len(order), v))


def plan_walk(gaps: gpd.GeoDataFrame, _: Gettext, thresholds: Thresholds, *,
              start: Start | None = None, carrier: str = "", access: str = "",
              boundary: gpd.GeoDataFrame | None = None) -> WalkPlan:
    """The walk through the cells of `gaps` (of `carrier` and `access` when given, "" = all).

    A gap of a missing carrier (access ``any``) counts for every technology. At most `MAX_STOPS`
    cells are visited: those with the most gaps (`WalkPlan.cells_total` tells how many there were).
    """
    carriers = _ordered(set(gaps["carrier"].astype(str)), CARRIER_ORDER)
    accesses = _ordered(set(gaps["access"].astype(str)) - {"any"}, ACCESS_ORDER)
    chosen = gaps
    if carrier:
        chosen = chosen[chosen["carrier"] == carrier]
    if access:
        chosen = chosen[chosen["access"].isin([access, "any"])]
    per_cell = chosen.groupby("cell").size()
    cells_total = len(per_cell)
    keep = per_cell.sort_values(ascending=False, kind="stable").index[:MAX_STOPS]
    chosen = chosen[chosen["cell"].isin(keep)]
    route = suggest_walk_route(chosen, start=(start.lat, start.lon) if start else None)
    rows = chosen.drop(columns=chosen.geometry.name).to_dict("records")
    by_cell: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_cell.setdefault(str(row["cell"]), []).append(row)
    stops = []
    for r in route.drop(columns=route.geometry.name).to_dict("records"):
        cell = str(r["cell"])
        lat, lon = h3.cell_to_latlng(cell)
        found = sorted(by_cell[cell], key=lambda g: (
            CARRIER_ORDER.index(str(g["carrier"])) if g["carrier"] in CARRIER_ORDER else 99,
            str(g["access"]), str(g["gap"])))
        codes = {str(g["gap"]) for g in found}
        stops.append(Stop(int(r["order"]), cell, lat, lon, float(r["leg_m"]),
                          float(r["cumulative_m"]), window_text(codes, _, thresholds),
                          bool(PEAK_GAPS & codes), [need_text(g, _, thresholds) for g in found]))
    svg = route_svg([(s.lat, s.lon) for s in stops],
                    start=(start.lat, start.lon) if start else None,
                    cells=[s.cell for s in stops], boundary=boundary)
    return WalkPlan(stops, start, carriers, accesses, cells_total, svg)
