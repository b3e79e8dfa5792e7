"""Labels on the static map that never overlap, and the ward's street and group layers under it.

`place_labels` places labels in order of importance (numbered weak-area markers, then service
points, then street and group names). Each label tries positions around its anchor, nearest first
(centred for a number, then 8 directions at growing distances, with a thin leader line when away
from the anchor); a position is taken only when its box lies inside the map and overlaps no box
placed before nor the legend. A weak-area number or service point that finds no place is listed
in a key under the map; a street or group name that finds none is left out (the layer is drawn).

Example
-------
>>> boxes, key = place_labels(ax, [Label("1", x, y, circled=True)], avoid=[])  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import geopandas as gpd
import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from lomsong.maps.i18n import Gettext

__all__ = ["Box", "Label", "draw_layers", "place_labels"]

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in display pixels, origin bottom-left

_DIRECTIONS = ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))
_RADII_PT = (5, 12, 22, 34)
_MAJOR = ("motorway", "trunk", "primary", "secondary", "tertiary")
_MAX_NAMED_STREETS = 12
_MAX_KEY = 110  # characters (one line beside the attribution) of the key of labels that did not fit


@dataclass(frozen=True)
class Label:
    """A label's text, its anchor (map units) and kind: ``circled`` numbers mark weak areas;
    ``optional`` labels (street and group names) are dropped when they do not fit."""

    text: str
    x: float
    y: float
    circled: bool = False
    optional: bool = False


def draw_layers(ax: mpl.axes.Axes, streets: gpd.GeoDataFrame | None,
                groups: gpd.GeoDataFrame | None, _: Gettext) -> list[Patch | Line2D]:
    """Draw streets (grey, major roads wider) and residential groups (brown outlines or squares)
    under the cells; return their legend entries. Frames are in the map's metric CRS."""
    handles: list[Patch | Line2D] = []
    if streets is not None:
        major = (streets["highway"].isin(_MAJOR) if "highway" in streets.columns
                 else streets.geometry.length < 0)
        streets[~major].plot(ax=ax, color="#b8b8b8", linewidth=0.6, zorder=1)
        if major.any():
            streets[major].plot(ax=ax, color="#8a8a8a", linewidth=1.4, zorder=1)
        handles.append(Line2D([], [], color="#8a8a8a", linewidth=1.2, label=_("Streets")))
    if groups is not None:
        polygons = groups[groups.geom_type != "Point"]
        points = groups[groups.geom_type == "Point"]
        if len(polygons):
            polygons.boundary.plot(ax=ax, color="#8c510a", linewidth=0.9, linestyle=":", zorder=1.5)
        if len(points):
            ax.scatter(points.geometry.x, points.geometry.y, marker="s", s=12, c="#8c510a",
                       zorder=1.5)
        handles.append(Line2D([], [], color="#8c510a", linewidth=0.9, linestyle=":",
                              label=_("Residential groups")))
    return handles


def layer_labels(streets: gpd.GeoDataFrame | None, groups: gpd.GeoDataFrame | None,
                 view: Bbox) -> list[Label]:
    """Optional labels: the longest named streets (one per name) and every group, inside
    `view` (map units)."""
    labels: list[Label] = []
    if streets is not None and len(streets):
        named = streets[streets["name"].fillna("") != ""]
        clipped = named.geometry.clip_by_rect(view.x0, view.y0, view.x1, view.y1)
        named = named.assign(_len=clipped.length, geometry=clipped)
        named = named[named["_len"] > 0].sort_values("_len", ascending=False)
        for _i, street in named.drop_duplicates("name").head(_MAX_NAMED_STREETS).iterrows():
            point = street.geometry.interpolate(0.5, normalized=True)
            labels.append(Label(str(street["name"]), point.x, point.y, optional=True))
    if groups is not None and len(groups):
        for _i, group in groups.iterrows():
            point = group.geometry.representative_point()
            if view.contains(point.x, point.y):
                labels.append(Label(str(group["name"]), point.x, point.y, optional=True))
    return labels


def _outer(text: Bbox, size_pt: float, dpi: float, circled: bool) -> Bbox:
    """The box of a label's frame around its text (pad 0.25 or 0.2 of the font size, plus the
    line), in pixels: a circle's is the square around it."""
    pad = (0.25 if circled else 0.2) * size_pt * dpi / 72 + 1.0
    if circled:
        half = max(text.width, text.height) / 2 * 1.42 + pad  # circle round the text's box
        cx, cy = (text.x0 + text.x1) / 2, (text.y0 + text.y1) / 2
        return Bbox([[cx - half, cy - half], [cx + half, cy + half]])
    return Bbox([[text.x0 - pad, text.y0 - pad], [text.x1 + pad, text.y1 + pad]])


def _free(box: Bbox, inside: Bbox, taken: list[Bbox]) -> bool:
    return (inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0
            and box.y1 <= inside.y1 and not any(box.overlaps(t) for t in taken))


def place_labels(ax: mpl.axes.Axes, labels: list[Label], key_title: str,
                 avoid: list[Bbox]) -> list[Box]:
    """Place `labels` without overlap (see the module docstring); draw the key of those that
    did not fit; return the boxes of the labels placed."""
    figure = ax.figure
    ax.apply_aspect()
    renderer = cast(FigureCanvasAgg, figure.canvas).get_renderer()  # type: ignore[no-untyped-call]  # untyped in the stubs
    inside = ax.get_window_extent(renderer)
    taken = list(avoid)
    boxes: list[Box] = []
    missed: list[str] = []
    for item in sorted(labels, key=lambda lab: (lab.optional, not lab.circled)):
        style = ({"boxstyle": "circle,pad=0.25", "fc": "white", "ec": "black", "lw": 0.8}
                 if item.circled else
                 {"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8}
                 if item.optional else
                 {"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#2166ac", "lw": 0.5})
        size = 6 if item.optional else 7
        offsets = ([(0.0, 0.0)] if item.circled else []) + [
            (dx * r, dy * r) for r in _RADII_PT for dx, dy in _DIRECTIONS]
        for dx, dy in offsets:
            far = abs(dx) > _RADII_PT[0] or abs(dy) > _RADII_PT[0]
            text = ax.annotate(
                item.text, (item.x, item.y), xytext=(dx, dy), textcoords="offset points",
                fontsize=size, zorder=9 if item.circled else 8,
                fontweight="bold" if item.circled else "normal",
                ha="center" if dx == 0 else "left" if dx > 0 else "right",
                va="center" if dy == 0 else "bottom" if dy > 0 else "top", bbox=style,
                arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "#333333"} if far else None)
            # the text's own box (an Annotation's would include its leader line)
            text.update_positions(renderer)
            box = _outer(Text.get_window_extent(text, renderer), size, figure.dpi, item.circled)
            if _free(box, inside, taken):
                taken.append(box)
                boxes.append((box.x0, box.y0, box.x1, box.y1))
                break
            text.remove()
        else:
            if not item.optional:
                missed.append(item.text)
    if missed:
        key = key_title + "; ".join(missed)
        figure.text(0.02, 0.004, key[:_MAX_KEY], fontsize=6, va="bottom")
    return boxes
