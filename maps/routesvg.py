"""A walk route drawn as SVG for the planner page: no script, no tiles, works offline.

The ward outline, the hexagons of the cells that need tests, the path from the start through the
stops and each stop's number are projected onto one plane (longitude scaled by the cosine of the
mean latitude, north up, y downwards, as `maps.citysvg`) fitted into a `width` wide box with a
margin. The page writes the numbers into SVG attributes through the template engine, so nothing
here is markup.

Example
-------
>>> svg = route_svg([(21.03, 105.85), (21.031, 105.851)], start=(21.029, 105.849))
>>> svg.view_box, len(svg.stops), svg.start is not None
('0 0 800 800', 2, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import h3
import shapely

__all__ = ["RouteSvg", "route_svg"]

LatLon = tuple[float, float]
XY = tuple[float, float]


@dataclass(frozen=True)
class RouteSvg:
    """Everything the template draws, in SVG user units."""

    view_box: str
    outline: str                 # path d of the ward boundary ("" when there is none)
    cells: list[str]             # path d of each cell hexagon
    path: str                    # polyline points: start (if any), then the stops in order
    stops: list[XY]
    start: XY | None
    scale_m: int                 # length of the scale bar in metres
    scale_px: float              # and in SVG units

    @property
    def size(self) -> float:
        """Width and height of the (square) drawing."""
        return float(self.view_box.split()[2])


def _nice_metres(target: float) -> int:
    for step in (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000):
        if step >= target:
            return step
    return 20_000


def route_svg(stops: Sequence[LatLon], *, start: LatLon | None = None,
              cells: Sequence[str] = (), boundary: gpd.GeoDataFrame | None = None,
              width: float = 800, margin: float = 24) -> RouteSvg:
    """Project the route (WGS 84 ``(lat, lon)``), its cells and the boundary into a square box."""
    shapes = [shapely.Polygon([(lon, lat) for lat, lon in h3.cell_to_boundary(c)])
              for c in cells]
    outline_geo = None
    if boundary is not None and not boundary.empty:
        outline_geo = boundary.to_crs(4326).geometry.union_all().simplify(0.00005)
    points = [*stops, *([start] if start is not None else [])]
    parts: list[shapely.Geometry] = [shapely.Point(lon, lat) for lat, lon in points] + shapes
    if outline_geo is not None:
        parts.append(outline_geo)
    if not parts:
        return RouteSvg(f"0 0 {width:g} {width:g}", "", [], "", [], None, 0, 0.0)
    min_x, min_y, max_x, max_y = shapely.GeometryCollection(parts).bounds
    kx = math.cos(math.radians((min_y + max_y) / 2))
    span = max((max_x - min_x) * kx, max_y - min_y, 1e-6)
    scale = (width - 2 * margin) / span
    off_x = margin + ((width - 2 * margin) - (max_x - min_x) * kx * scale) / 2
    off_y = margin + ((width - 2 * margin) - (max_y - min_y) * scale) / 2

    def xy(lon: float, lat: float) -> XY:
        return (round(off_x + (lon - min_x) * kx * scale, 1),
                round(off_y + (max_y - lat) * scale, 1))

    def ring_d(ring: shapely.LinearRing) -> str:
        return "M" + " L".join("{:g} {:g}".format(*xy(x, y)) for x, y in ring.coords) + " Z"

    outline = ""
    if outline_geo is not None:
        polygons = [g for g in getattr(outline_geo, "geoms", [outline_geo])
                    if g.geom_type == "Polygon"]
        outline = " ".join(ring_d(r) for p in polygons for r in (p.exterior, *p.interiors))
    stop_xy = [xy(lon, lat) for lat, lon in stops]
    start_xy = xy(start[1], start[0]) if start is not None else None
    path = " ".join(f"{x:g},{y:g}" for x, y in ([start_xy] if start_xy else []) + stop_xy)
    metres_per_unit = 111_320.0 / scale  # one degree of latitude, in SVG units
    scale_m = _nice_metres(metres_per_unit * width / 5)
    return RouteSvg(f"0 0 {width:g} {width:g}", outline, [ring_d(s.exterior) for s in shapes],
                    path, stop_xy, start_xy, scale_m, round(scale_m / metres_per_unit, 1))
