"""Ward outlines projected for the city map: SVG paths for the page (no script, no tiles, escaped
by the template) and plain rings for the PDF.

The outlines are projected onto a plane (longitude scaled by the cosine of the mean latitude,
north up, y downwards) and fitted into a `width` wide box.

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

__all__ = ["Rings", "projected_rings", "ward_paths"]

Rings = list[list[tuple[float, float]]]  # one ward: its rings of (x, y) points


def _rings(shape: shapely.Geometry) -> list[shapely.LinearRing]:
    polygons = list(shape.geoms) if shape.geom_type == "MultiPolygon" else [shape]
    return [ring for p in polygons for ring in (p.exterior, *p.interiors)]


def projected_rings(wards: gpd.GeoDataFrame, *, width: float,
                    tolerance_deg: float = 0.0002) -> tuple[float, float, list[Rings]]:
    """Width, height and the rings of each row of `wards` (polygons), y growing downwards."""
    if wards.crs is None:
        raise ValueError("wards: GeoDataFrame has no CRS")
    geo = wards.to_crs(4326).geometry.simplify(tolerance_deg)
    min_x, min_y, max_x, max_y = geo.total_bounds
    kx = math.cos(math.radians((min_y + max_y) / 2))
    scale = width / max((max_x - min_x) * kx, 1e-9)
    height = math.ceil((max_y - min_y) * scale)
    out = [[[((x - min_x) * kx * scale, (max_y - y) * scale) for x, y in ring.coords]
            for ring in _rings(shape)] for shape in geo]
    return width, height, out


def ward_paths(wards: gpd.GeoDataFrame, *, width: float = 800) -> tuple[str, list[str]]:
    """The SVG ``viewBox`` and one path ``d`` per row of `wards` (polygons, in row order)."""
    w, h, wards_rings = projected_rings(wards, width=width)
    paths = [" ".join("M" + " L".join(f"{x:.1f} {y:.1f}" for x, y in ring) + " Z"
                      for ring in rings) for rings in wards_rings]
    return f"0 0 {math.ceil(w)} {math.ceil(h)}", paths
