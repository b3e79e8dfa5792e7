"""Ward outlines as SVG paths for the city map: no script, no tiles, escaped by the template.

The outlines are projected onto a plane (longitude scaled by the cosine of the mean latitude,
north up) and fitted into a `width` wide view box.

Example
-------
>>> import geopandas as gpd, shapely
>>> frame = gpd.GeoDataFrame(geometry=[shapely.box(105.8, 20.9, 105.9, 21.0)], crs=4326)
>>> box, paths = ward_paths(frame, width=100)
>>> box, paths[0].split(" L")[0]
('0 0 100 108', 'M100.0 107.1')
"""

from __future__ import annotations

import math

import geopandas as gpd
import shapely

__all__ = ["ward_paths"]


def _rings(shape: shapely.Geometry) -> list[shapely.LinearRing]:
    polygons = list(shape.geoms) if shape.geom_type == "MultiPolygon" else [shape]
    return [ring for p in polygons for ring in (p.exterior, *p.interiors)]


def ward_paths(wards: gpd.GeoDataFrame, *, width: float = 800,
               tolerance_deg: float = 0.0002) -> tuple[str, list[str]]:
    """The SVG ``viewBox`` and one path ``d`` per row of `wards` (polygons, in row order)."""
    if wards.crs is None:
        raise ValueError("wards: GeoDataFrame has no CRS")
    geo = wards.to_crs(4326).geometry.simplify(tolerance_deg)
    min_x, min_y, max_x, max_y = geo.total_bounds
    kx = math.cos(math.radians((min_y + max_y) / 2))
    span = max((max_x - min_x) * kx, 1e-9)
    scale = width / span
    height = math.ceil((max_y - min_y) * scale)
    paths = []
    for shape in geo:
        parts = []
        for ring in _rings(shape):
            pts = [f"{(x - min_x) * kx * scale:.1f} {(max_y - y) * scale:.1f}"
                   for x, y in ring.coords]
            parts.append("M" + " L".join(pts) + " Z")
        paths.append(" ".join(parts))
    return f"0 0 {math.ceil(width)} {height}", paths
