"""The report's maps: one map per carrier (a carrier's areas are never drawn over another's), and
an inset map per ask, zoomed on its area, for the engineer who goes there.

Both draw the ward's streets and residential groups when given, and number weak areas as the
asks (`maps.asks.ask_order`), so a number on any map is the same ask in the letter and the annex.

Example
-------
>>> flow = carrier_maps(cells, areas, sites, boundary, numbers, styles, _, "vi")  # doctest: +SKIP
"""

from __future__ import annotations

import io

import geopandas as gpd
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Image, PageBreak

from lomsong.maps.i18n import Gettext
from lomsong.maps.labels import CARRIER_ORDER, label
from lomsong.maps.pdf_layout import Styles, para
from lomsong.maps.static import METRIC_CRS, render_static_map
from lomsong.maps.tiles import TileSource

__all__ = ["INSET_MARGIN_M", "MAX_INSETS", "carrier_maps", "inset_map"]

INSET_MARGIN_M = 120.0  # around the area: the streets that lead to it
MAX_INSETS = 20         # asks beyond it keep their coordinates, without an inset


def carrier_maps(cells: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, sites: gpd.GeoDataFrame,
                 boundary: gpd.GeoDataFrame | None, numbers: dict[str, int], styles: Styles,
                 _: Gettext, lang: str, *, streets: gpd.GeoDataFrame | None = None,
                 groups: gpd.GeoDataFrame | None = None,
                 tiles: TileSource | None = None) -> list[Flowable]:
    """A titled map page for each carrier present in `cells`, `areas` or `sites`."""
    present = set(cells["carrier"]) | set(areas["carrier"]) | set(sites["carrier"])
    carriers = [c for c in CARRIER_ORDER if c in present] + sorted(present - set(CARRIER_ORDER))
    flow: list[Flowable] = []
    for carrier in carriers:
        png = render_static_map(cells[cells["carrier"] == carrier],
                                areas[areas["carrier"] == carrier],
                                sites[sites["carrier"] == carrier], boundary, lang=lang, dpi=150,
                                streets=streets, groups=groups, numbers=numbers, tiles=tiles)
        flow += [PageBreak(),
                 para(_("Map: {carrier}").format(carrier=label("carrier", carrier, _)),
                      styles.h1),
                 Image(io.BytesIO(png), width=170 * mm, height=170 * mm),
                 para(_("Cells coloured by their worst status over the all-day and peak-hour "
                        "windows (the windows that decide weak areas); dashed outlines are weak "
                        "areas, numbered as the asks; stars are public service points."),
                      styles.small)]
    return flow


def inset_map(area: gpd.GeoDataFrame, number: int, cells: gpd.GeoDataFrame,
              sites: gpd.GeoDataFrame, lang: str, *, streets: gpd.GeoDataFrame | None = None,
              groups: gpd.GeoDataFrame | None = None, tiles: TileSource | None = None) -> Image:
    """A small map of one area (a one-row frame of the carrier's weak areas) and what lies within
    `INSET_MARGIN_M` of it: its carrier's cells, service points, streets and groups."""
    metric = area.to_crs(METRIC_CRS)
    reach = gpd.GeoDataFrame(geometry=metric.buffer(INSET_MARGIN_M), crs=METRIC_CRS).to_crs(4326)
    zone = reach.geometry.iloc[0]
    near_cells = cells[cells.intersects(zone)]
    near_sites = sites[sites.within(zone)]
    png = render_static_map(near_cells, area, near_sites, None, lang=lang, dpi=130,
                            size_in=(3.4, 3.4), streets=streets, groups=groups,
                            numbers={str(area["area_id"].iloc[0]): number}, legend=False,
                            tiles=tiles)
    return Image(io.BytesIO(png), width=62 * mm, height=62 * mm)
