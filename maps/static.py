"""Static map for the PDF, drawn with matplotlib (Agg) and no basemap: nothing is downloaded.

Cells are coloured by status (the worst carrier's status when several carriers are drawn), weak
areas outlined, service points labelled; the ward boundary, a scale bar and a north arrow frame
the map. Drawing happens in UTM zone 48N (EPSG:32648, metres), so the scale bar is exact; grid
north there differs from true north by under 1 degree in Vietnam's zone-48 provinces.

Example
-------
>>> png = render_static_map(cells, weak_areas, scorecards, boundary, lang="vi")  # doctest: +SKIP
>>> png[:4]                                                                       # doctest: +SKIP
b'\\x89PNG'
"""

from __future__ import annotations

import io
from typing import cast

import geopandas as gpd
import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import Bbox
from shapely.geometry import box

from lomsong.maps.frames import check_frame
from lomsong.maps.i18n import Gettext, format_number, translator
from lomsong.maps.labels import STATUS_ORDER, label
from lomsong.maps.placement import Box, Label, draw_layers, layer_labels, place_labels
from lomsong.maps.style import MISSING_COLOUR, STATUS_COLOURS
from lomsong.maps.tiles import TileSource, draw_tiles

__all__ = ["METRIC_CRS", "nice_scale_length_m", "render_static_map", "render_static_map_boxes",
           "worst_status_per_cell"]

METRIC_CRS = 32648  # WGS 84 / UTM zone 48N: Hanoi and most of Vietnam
_NICE_M = (10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000)


def nice_scale_length_m(width_m: float) -> int:
    """The largest round length not longer than a fifth of the map width, in metres.

    >>> nice_scale_length_m(2300)
    250
    """
    target = width_m / 5
    fitting = [length for length in _NICE_M if length <= target]
    return fitting[-1] if fitting else _NICE_M[0]


def worst_status_per_cell(cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One row per H3 cell holding its worst status across carriers over the all-day and peak
    windows: the windows whose classification decides weak areas (`analysis.areas`), so a cell
    of an area decided at peak hours is coloured as weak, not by its all-day status.

    "Not enough data" only wins where no carrier has a verdict.
    """
    deciding = cells["window"].isin(["all", "peak"])
    rows = cells[deciding] if deciding.any() else cells
    rank = rows["status"].map({s: i for i, s in enumerate(STATUS_ORDER)}).fillna(len(STATUS_ORDER))
    ordered = rows.assign(_rank=rank).sort_values(["cell", "_rank"])
    return ordered.drop_duplicates("cell").drop(columns="_rank")


def _scale_bar(ax: mpl.axes.Axes, lang: str) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = nice_scale_length_m(x1 - x0)
    left, bottom, height = x0 + 0.04 * (x1 - x0), y0 + 0.04 * (y1 - y0), 0.012 * (y1 - y0)
    for i in range(2):
        ax.add_patch(Rectangle((left + i * length / 2, bottom), length / 2, height,
                               facecolor="black" if i == 0 else "white", edgecolor="black",
                               linewidth=0.8, zorder=10))
    text = (f"{format_number(length / 1000, lang, decimals=1 if length % 1000 else 0)} km"
            if length >= 1000 else f"{length} m")
    ax.text(left, bottom + 1.6 * height, "0", fontsize=7, ha="center", zorder=10)
    ax.text(left + length, bottom + 1.6 * height, text, fontsize=7, ha="center", zorder=10)


def _north_arrow(ax: mpl.axes.Axes, _: Gettext) -> None:
    ax.annotate(_("N"), xy=(0.94, 0.95), xytext=(0.94, 0.84), xycoords="axes fraction",
                ha="center", va="center", fontsize=11, fontweight="bold", zorder=10,
                arrowprops={"facecolor": "black", "width": 4, "headwidth": 11})


def _view(metric: dict[str, gpd.GeoDataFrame]) -> Bbox:
    """The map's extent: the survey's frames (not the ward's street layer, which may cover a
    whole district) with 6% margins."""
    x0, y0, x1, y1 = gpd.GeoSeries(
        [box(*frame.total_bounds) for frame in metric.values()], crs=METRIC_CRS).total_bounds
    pad = 0.06 * max(x1 - x0, y1 - y0, 100.0)
    return Bbox([[x0 - pad, y0 - pad], [x1 + pad, y1 + pad]])


def _empty(ax: mpl.axes.Axes, _: Gettext) -> None:
    ax.text(0.5, 0.5, _("No measurement data in this period"), ha="center", va="center",
            fontsize=12, transform=ax.transAxes)


def render_static_map(
    cells: gpd.GeoDataFrame,
    weak_areas: gpd.GeoDataFrame | None = None,
    scorecards: gpd.GeoDataFrame | None = None,
    boundary: gpd.GeoDataFrame | None = None,
    *,
    lang: str = "vi",
    dpi: int = 150,
    size_in: tuple[float, float] = (7.0, 7.0),
    title: str | None = None,
    streets: gpd.GeoDataFrame | None = None,
    groups: gpd.GeoDataFrame | None = None,
    numbers: dict[str, int] | None = None,
    legend: bool = True,
    tiles: TileSource | None = None,
) -> bytes:
    """Draw the map and return it as PNG bytes at `dpi` (see `render_static_map_boxes`)."""
    return render_static_map_boxes(cells, weak_areas, scorecards, boundary, lang=lang, dpi=dpi,
                                   size_in=size_in, title=title, streets=streets, groups=groups,
                                   numbers=numbers, legend=legend, tiles=tiles)[0]


def render_static_map_boxes(
    cells: gpd.GeoDataFrame,
    weak_areas: gpd.GeoDataFrame | None = None,
    scorecards: gpd.GeoDataFrame | None = None,
    boundary: gpd.GeoDataFrame | None = None,
    *,
    lang: str = "vi",
    dpi: int = 150,
    size_in: tuple[float, float] = (7.0, 7.0),
    title: str | None = None,
    streets: gpd.GeoDataFrame | None = None,
    groups: gpd.GeoDataFrame | None = None,
    numbers: dict[str, int] | None = None,
    legend: bool = True,
    tiles: TileSource | None = None,
) -> tuple[bytes, list[Box]]:
    """Draw the map; return the PNG and the pixel boxes (x0, y0, x1, y1, origin bottom-left) of
    every label placed, which never overlap (`maps.placement`).

    Frames are the analysis outputs (any CRS with the contract's columns); pass them already
    filtered to one carrier for a carrier's report. `streets` and `groups` (the ward's layers,
    `analysis.layers`) are drawn under the cells; weak areas are labelled with `numbers` (area
    id -> ask number) in circles, or their ids when no numbers are given. `tiles` draws raster
    tiles under everything, with their attribution (`maps.tiles`; raises `TileError`).
    """
    _ = translator(lang)
    cells = check_frame(cells, "cells")
    layers = {"cells": cells, "weak_areas": weak_areas, "scorecards": scorecards,
              "boundary": boundary}
    metric = {kind: check_frame(frame, kind).to_crs(METRIC_CRS)
              for kind, frame in layers.items() if frame is not None and len(frame)}
    extra = {kind: frame.to_crs(METRIC_CRS) for kind, frame in
             (("streets", streets), ("groups", groups)) if frame is not None and len(frame)}
    with mpl.rc_context({"font.family": "DejaVu Sans", "font.size": 8}):
        figure = Figure(figsize=size_in, dpi=dpi)
        FigureCanvasAgg(figure)
        ax = figure.add_axes((0.02, 0.02, 0.96, 0.90 if title else 0.96))
        ax.set_axis_off()
        if title:
            figure.suptitle(title, fontsize=11)
        if "cells" not in metric and "boundary" not in metric:
            _empty(ax, _)
            return _png(figure, dpi), []
        handles: list[Patch | Line2D] = []
        labels: list[Label] = []
        handles += draw_layers(ax, extra.get("streets"), extra.get("groups"), _)
        if "boundary" in metric:
            metric["boundary"].boundary.plot(ax=ax, color="#542788", linewidth=1.5, zorder=2)
            handles.append(Line2D([], [], color="#542788", linewidth=1.5,
                                  label=_("Ward boundary")))
        if "cells" in metric:
            worst = worst_status_per_cell(metric["cells"])
            colours = [STATUS_COLOURS.get(s, MISSING_COLOUR) for s in worst["status"]]
            alpha = 0.55 if "streets" in extra else 0.75  # the streets show through
            worst.plot(ax=ax, color=colours, alpha=alpha, edgecolor="white", linewidth=0.2,
                       zorder=3)
            present = set(worst["status"])
            handles += [Patch(facecolor=STATUS_COLOURS[s], alpha=alpha, label=label("status", s, _))
                        for s in STATUS_ORDER if s in present]
        if "weak_areas" in metric:
            areas = metric["weak_areas"]
            areas.boundary.plot(ax=ax, color=[STATUS_COLOURS.get(s, MISSING_COLOUR)
                                              for s in areas["status"]],
                                linewidth=2.0, linestyle="--", zorder=4)
            for _i, area in areas.iterrows():
                point = area.geometry.representative_point()
                number = (numbers or {}).get(str(area["area_id"]))
                labels.append(Label(str(number) if number else str(area["area_id"]),
                                    point.x, point.y, circled=number is not None))
            if (areas["status"] == "dead_spot").any():
                handles.append(Line2D([], [], color=STATUS_COLOURS["dead_spot"], linestyle="--",
                                      linewidth=2, label=label("status", "dead_spot", _)))
            handles.append(Line2D([], [], color="black", linestyle="--", linewidth=2,
                                  label=_("Weak area (number of the ask)")))
        if "scorecards" in metric:
            sites = metric["scorecards"].drop_duplicates("site_id")
            ax.scatter(sites.geometry.x, sites.geometry.y, marker="*", s=140, c="#2166ac",
                       edgecolors="white", linewidths=0.8, zorder=7)
            labels += [Label(str(site["name"]), site.geometry.x, site.geometry.y)
                       for _i, site in sites.iterrows()]
            handles.append(Line2D([], [], marker="*", color="#2166ac", linestyle="none",
                                  markersize=10, label=_("Service point")))
        ax.set_aspect("equal")
        view = _view(metric)
        if tiles is not None:
            draw_tiles(ax, view, METRIC_CRS, tiles)
        ax.set_xlim(view.x0, view.x1)
        ax.set_ylim(view.y0, view.y1)
        labels += layer_labels(extra.get("streets"), extra.get("groups"), view)
        _scale_bar(ax, lang)
        _north_arrow(ax, _)
        figure.canvas.draw()  # lays out the scale bar and north arrow: labels keep off them
        renderer = cast(FigureCanvasAgg, figure.canvas).get_renderer()  # type: ignore[no-untyped-call]  # untyped in the stubs
        arrows = [a for t in ax.texts if (a := getattr(t, "arrow_patch", None)) is not None]
        avoid = [artist.get_window_extent(renderer) for artist in [*ax.texts, *ax.patches]]
        avoid += [arrow.get_window_extent(renderer) for arrow in arrows]
        if legend:
            key = ax.legend(handles=handles, loc="upper left", fontsize=7, framealpha=0.9,
                            title=_("Legend"), title_fontsize=8)
            avoid.append(key.get_window_extent(renderer))
        boxes = place_labels(ax, labels, _("Labels that did not fit: "), avoid=avoid)
        credits = [tiles.attribution] if tiles is not None else []
        if "streets" in extra and "highway" in extra["streets"].columns:  # OSM tags: ODbL
            credits.append(_("Streets © OpenStreetMap contributors (ODbL)"))
        if credits:
            figure.text(0.98, 0.925 if title else 0.985, " · ".join(credits), fontsize=6,
                        ha="right", va="top")
        return _png(figure, dpi), boxes


def _png(figure: Figure, dpi: int) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
