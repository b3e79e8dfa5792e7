"""The officer's web map: cells by status or speed, weak areas, service points, routes, boundary.

Everything the page loads comes from `asset_base_url` (the vendored Leaflet files the collector
serves), or is inlined (`render_html(..., inline=True)`) for a file that works offline. No tile
layer is added unless `basemap_url` is given.

folium writes the map and its layers as an inline script; no text from outside goes into it. Cell
figures, popups, tooltips, legend and window switch are data in one JSON block
(`lomsong.maps.map_data`) that lomsong's static script ``lomsong/map.js`` reads. With
`script_nonce`, each inline script lomsong writes carries that nonce, for a CSP that allows no
other inline script.

Example
-------
>>> html = render_html(cells, lang="vi")          # doctest: +SKIP
>>> Path("map.html").write_text(render_html(cells, inline=True))  # doctest: +SKIP
"""

from __future__ import annotations

import re
from html import escape

import folium
import geopandas as gpd
import pandas as pd
from branca.element import Figure

from lomsong.maps.assets import asset_links, inline_assets
from lomsong.maps.browser_layer import add_browser_layer
from lomsong.maps.cells_layer import pack_cells
from lomsong.maps.controls import choice_data, legend_data
from lomsong.maps.frames import check_frame
from lomsong.maps.i18n import Gettext, check_language, format_number, translator
from lomsong.maps.labels import ACCESS_ORDER, CARRIER_ORDER, STATUS_ORDER, label
from lomsong.maps.map_data import MapData
from lomsong.maps.popups import service_point_popup, weak_area_popup
from lomsong.maps.style import MISSING_COLOUR, SPEED_COLOURS, SPEED_EDGES_MBPS, STATUS_COLOURS, speed_class

__all__ = ["MODES", "build_map", "render_html"]

MODES: tuple[str, ...] = ("status", "speed")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,}")
_WINDOWS: tuple[str, ...] = ("all", "peak", "offpeak")
_SITE_ICON_COLOURS = {"dead_spot": "black", "confirmed_weak": "red", "likely_weak": "orange",
                      "likely_ok": "lightgreen", "ok": "green", "insufficient_data": "gray"}


def _rank(order: tuple[str, ...], code: str) -> int:
    return order.index(code) if code in order else len(order)


def _cell_colours(cells: gpd.GeoDataFrame, mode: str) -> tuple[list[str], list[int]]:
    if mode == "status":
        colours = [STATUS_COLOURS[s] for s in STATUS_ORDER] + [MISSING_COLOUR]
        index = [STATUS_ORDER.index(s) if s in STATUS_ORDER else len(STATUS_ORDER)
                 for s in cells["status"]]
        return colours, index
    colours = [*SPEED_COLOURS, MISSING_COLOUR]
    speeds = pd.to_numeric(cells["down_median_mbps"], errors="coerce")
    return colours, [speed_class(v) % len(colours) for v in speeds]


def _legend(cells: gpd.GeoDataFrame, mode: str, _: Gettext, lang: str) -> dict[str, object]:
    if mode == "status":
        entries = [(STATUS_COLOURS[s], label("status", s, _)) for s in STATUS_ORDER]
    else:
        entries = []
        for i, colour in enumerate(SPEED_COLOURS):
            low, high = SPEED_EDGES_MBPS[i], SPEED_EDGES_MBPS[i + 1]
            text = (f"≥ {format_number(low, lang, decimals=0)} Mbps" if high == float("inf")
                    else f"{format_number(low, lang, decimals=0)}–"
                         f"{format_number(high, lang, decimals=0)} Mbps")
            entries.append((colour, text))
        entries.append((MISSING_COLOUR, _("No speed result")))
    targets = (cells[["access", "threshold_mbps"]].dropna().drop_duplicates("access")
               .sort_values("threshold_mbps"))
    # A fixed line's target depends on its plan (0.8 x plan speed): no single figure to show.
    parts = [f"{format_number(t, lang, decimals=0)} Mbps ({label('access', a, _)})"
             if a != "fixed" else
             f"{_('80% of the plan speed')} ({label('access', a, _)})"
             for a, t in zip(targets["access"], targets["threshold_mbps"], strict=True)]
    if not parts:
        parts = [f"40 Mbps ({label('access', '4g', _)})"]
    note = _("Download target: {targets}").format(targets=", ".join(parts))
    title = _("Cell status") if mode == "status" else _("Median download speed")
    return legend_data(title, entries, note)


def _add_cells(data: MapData, cells: gpd.GeoDataFrame, mode: str, _: Gettext,
               lang: str) -> None:
    colours, colour_index = _cell_colours(cells, mode)
    status_index = [STATUS_ORDER.index(s) if s in STATUS_ORDER else len(STATUS_ORDER)
                    for s in cells["status"]]
    statuses = [label("status", s, _) for s in STATUS_ORDER] + [_("Unknown")]
    rings, ids, rows = pack_cells(cells, colour_index, status_index)
    order = sorted(rows, key=lambda k: (_rank(CARRIER_ORDER, k[0]), _rank(ACCESS_ORDER, k[1]),
                                        _rank(_WINDOWS, k[2]), k))
    heads = {"|".join(k): f"{label('carrier', k[0], _)} · {label('access', k[1], _)} · "
                          f"{label('window', k[2], _)}" for k in order}
    text = {
        "cell": _("Cell"), "status": _("Status"), "samples": _("Samples"), "failed": _("failed"),
        "median": _("Median download"), "p10": _("10th percentile"),
        "share": _("Share below {threshold} Mbps"), "rsrp": _("RSRP median"),
        "sinr": _("SINR median"), "decimal": format_number(0.5, lang)[1],
    }
    data.data["cells"] = {"rings": rings, "ids": ids,
                          "rows": {"|".join(k): v for k, v in rows.items()},
                          "heads": heads, "colours": colours, "statuses": statuses, "text": text}
    combos = list(dict.fromkeys(f"{c}|{a}" for c, a, _w in order))
    carriers = list(dict.fromkeys(c for c, _a, _w in order))
    accesses = list(dict.fromkeys(a for _c, a, _w in order))
    start = f"{combos[0]}|all" if combos else ""
    data.data["choice"] = choice_data(
        {"carrier": _("Carrier"), "access": _("Technology"), "window": _("Time window")},
        [(c, label("carrier", c, _)) for c in carriers],
        [(a, label("access", a, _)) for a in accesses],
        [(w, label("window", w, _)) for w in _WINDOWS], combos, start)


def _add_weak_areas(fmap: folium.Map, data: MapData, areas: gpd.GeoDataFrame, _: Gettext,
                    lang: str) -> None:
    """Each carrier x technology's weak areas in a layer of their own, shown with its cells.

    Drawn as outlines (lines): on the canvas, the inside of a polygon catches clicks even when
    unfilled, and would hide the cells underneath.
    """
    groups: dict[str, folium.FeatureGroup] = {}
    for _index, area in areas.iterrows():
        key = f"{area['carrier']}|{area['access']}"
        if key not in groups:
            groups[key] = folium.FeatureGroup(name=_("Weak areas"), show=False, control=False)
            groups[key].add_to(fmap)
        colour = STATUS_COLOURS.get(str(area["status"]), MISSING_COLOUR)
        layer = folium.GeoJson(
            area.geometry.boundary.__geo_interface__,
            style_function=lambda _f, c=colour: {"color": c, "weight": 3, "dashArray": "6 4"},
        )
        layer.add_to(groups[key])
        data.data["popups"].append({"layer": layer.get_name(), "maxWidth": 420,
                                    "html": weak_area_popup(area, _, lang)})
    data.data["choice"]["weak"] = {k: g.get_name() for k, g in groups.items()}


def _add_service_points(fmap: folium.Map, data: MapData, scorecards: gpd.GeoDataFrame,
                        _: Gettext, lang: str) -> None:
    group = folium.FeatureGroup(name=_("Service points"), show=True).add_to(fmap)
    for _site_id, site in scorecards.groupby("site_id", sort=True):
        verdicts = [v for v in STATUS_ORDER if v in set(site["verdict"])]
        worst = verdicts[0] if verdicts else "insufficient_data"
        point = site.geometry.iloc[0]
        marker = folium.Marker(
            [round(point.y, 6), round(point.x, 6)],
            icon=folium.Icon(color=_SITE_ICON_COLOURS[worst], icon="building", prefix="fa"),
        ).add_to(group)
        data.data["tooltips"].append({"layer": marker.get_name(),
                                      "text": str(site["name"].iloc[0])})
        data.data["popups"].append({"layer": marker.get_name(), "maxWidth": 640,
                                    "html": service_point_popup(site, _, lang)})


def _add_lines(fmap: folium.Map, data: MapData, routes: gpd.GeoDataFrame | None,
               boundary: gpd.GeoDataFrame | None, _: Gettext) -> None:
    if routes is not None and len(routes):
        group = folium.FeatureGroup(name=_("Walk routes"), show=True).add_to(fmap)
        for geometry in routes.geometry:
            lines = getattr(geometry, "geoms", [geometry])
            for line in lines:
                folium.PolyLine(  # type: ignore[no-untyped-call]
                    [(round(y, 6), round(x, 6)) for x, y in line.coords],
                    color="#2c7bb6", weight=2).add_to(group)
    if boundary is not None and len(boundary):
        group = folium.FeatureGroup(name=_("Ward boundary"), show=True).add_to(fmap)
        outline = folium.GeoJson(
            boundary.geometry.union_all().boundary.__geo_interface__,
            style_function=lambda _f: {"color": "#542788", "weight": 2},
        ).add_to(group)
        data.data.setdefault("outlines", []).append(outline.get_name())


def _add_backdrop(fmap: folium.Map, data: MapData, groups: gpd.GeoDataFrame | None,
                  streets: gpd.GeoDataFrame | None, _: Gettext) -> None:
    """The ward's own layers, streets and residential groups: thin lines under everything,
    never catching a click (``backdrop``), added before map.js draws the cells over them."""
    layers = []
    for frame, name, style in (
            (streets, _("Streets"), {"color": "#9a9a9a", "weight": 1.5, "opacity": 0.9}),
            (groups, _("Residential groups"), {"color": "#6d6d6d", "weight": 1,
                                               "dashArray": "2 3", "opacity": 0.8})):
        if frame is None or not len(frame):
            continue
        shapes = check_frame(frame, "boundary").geometry  # lines or polygons, no columns
        lines = shapes.boundary.where(shapes.geom_type.str.contains("Polygon"), shapes)
        group = folium.FeatureGroup(name=name, show=True).add_to(fmap)
        layer = folium.GeoJson(lines.union_all().__geo_interface__,
                               style_function=lambda _f, s=style: s).add_to(group)
        layers.append(layer.get_name())
    if layers:
        data.data["backdrop"] = layers


class _Page(Figure):
    """folium's page, with `nonce` on the two inline scripts its templates write.

    Those are the head's (folium's global switches, no data) and the one that makes the map and
    its layers. The body holds only the map's element and the JSON block, which is not a script.
    """

    def __init__(self, lang: str, nonce: str | None) -> None:
        super().__init__()
        self.lang, self.nonce = lang, nonce

    def render(self, **kwargs: object) -> str:
        for child in self._children.values():
            child.render(**kwargs)
        tag = f'<script nonce="{self.nonce}">' if self.nonce else "<script>"
        header = self.header.render(**kwargs).replace("<script>", tag)
        return (f'<!DOCTYPE html>\n<html lang="{self.lang}">\n<head>\n{header}\n</head>\n'
                f"<body>\n{self.html.render(**kwargs)}\n</body>\n"
                f"{tag}\n{self.script.render(**kwargs)}\n</script>\n</html>\n")


def build_map(
    cells: gpd.GeoDataFrame,
    weak_areas: gpd.GeoDataFrame | None = None,
    scorecards: gpd.GeoDataFrame | None = None,
    routes: gpd.GeoDataFrame | None = None,
    boundary: gpd.GeoDataFrame | None = None,
    *,
    lang: str = "vi",
    mode: str = "status",
    asset_base_url: str = "/static/vendor",
    basemap_url: str | None = None,
    basemap_attribution: str = "",
    groups: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    browser: gpd.GeoDataFrame | None = None,
    browser_counted: bool = False,
    targets_mbps: dict[str, float] | None = None,
) -> folium.Map:
    """Build the folium map from the analysis outputs (EPSG:4326 GeoDataFrames).

    `mode` colours cells by "status" (classification) or "speed" (median download). The map
    shows one carrier x technology x time window at a time, chosen beside the legend (first
    carrier's first technology, all day, at start), with that carrier's weak areas.
    `browser` (the phones' results, `analysis.sources.browser_points`) is its own layer, its
    points coloured against `targets_mbps` (download target per access); `browser_counted` says
    whether the ward counts them in the cell statistics. `streets` (lines) and `groups` (the
    ward's residential groups, polygons) are drawn as thin lines under the cells, never catching
    a click; `basemap_attribution` is shown as text (escaped here: Leaflet writes it as HTML).
    """
    _ = translator(lang)
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose status or speed")
    cells = check_frame(cells, "cells")
    frames = [cells]
    fmap = folium.Map(tiles=None, prefer_canvas=True, control_scale=False, zoom_start=15,
                      location=[21.0285, 105.8542])
    fmap.default_js, fmap.default_css = asset_links(asset_base_url)
    if basemap_url:
        folium.TileLayer(basemap_url, attr=escape(basemap_attribution or basemap_url),
                         name=_("Basemap"), max_zoom=19, overlay=True,
                         show=True).add_to(fmap)

    if boundary is not None:
        boundary = check_frame(boundary, "boundary")
        frames.append(boundary)
    data = MapData(fmap.get_name())
    _add_backdrop(fmap, data, groups, streets, _)
    _add_cells(data, cells, mode, _, lang)
    if weak_areas is not None and len(weak_areas):
        _add_weak_areas(fmap, data, check_frame(weak_areas, "weak_areas"), _, lang)
    if scorecards is not None and len(scorecards):
        scorecards = check_frame(scorecards, "scorecards")
        frames.append(scorecards)
        _add_service_points(fmap, data, scorecards, _, lang)
    _add_lines(fmap, data, None if routes is None else check_frame(routes, "routes"), boundary, _)
    if browser is not None and len(browser):
        browser = check_frame(browser, "browser")
        frames.append(browser)
        names = ({} if scorecards is None or not len(scorecards) else
                 dict(zip(scorecards["site_id"].astype(str), scorecards["name"].astype(str),
                          strict=True)))
        add_browser_layer(fmap, browser, targets_mbps or {}, browser_counted, _, lang, names)
    data.data["legend"] = _legend(cells, mode, _, lang)
    data.add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    bounds = [f.total_bounds for f in frames if len(f)]
    if bounds:
        fmap.fit_bounds([[min(b[1] for b in bounds), min(b[0] for b in bounds)],
                         [max(b[3] for b in bounds), max(b[2] for b in bounds)]])
    return fmap


def render_html(
    cells: gpd.GeoDataFrame,
    weak_areas: gpd.GeoDataFrame | None = None,
    scorecards: gpd.GeoDataFrame | None = None,
    routes: gpd.GeoDataFrame | None = None,
    boundary: gpd.GeoDataFrame | None = None,
    *,
    lang: str = "vi",
    mode: str = "status",
    asset_base_url: str = "/static/vendor",
    basemap_url: str | None = None,
    basemap_attribution: str = "",
    groups: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    inline: bool = False,
    script_nonce: str | None = None,
    browser: gpd.GeoDataFrame | None = None,
    browser_counted: bool = False,
    targets_mbps: dict[str, float] | None = None,
) -> str:
    """The map as a complete HTML page; with `inline`, a standalone file with every asset in it.

    `script_nonce` (letters, digits, ``-_``) goes on each inline script lomsong writes.
    """
    check_language(lang)
    if script_nonce is not None and not _NONCE.fullmatch(script_nonce):
        raise ValueError("script_nonce: letters, digits, '-' and '_' only")
    fmap = build_map(cells, weak_areas, scorecards, routes, boundary, lang=lang, mode=mode,
                     asset_base_url=asset_base_url, basemap_url=basemap_url,
                     basemap_attribution=basemap_attribution, groups=groups, streets=streets,
                     browser=browser,
                     browser_counted=browser_counted, targets_mbps=targets_mbps)
    page = _Page(lang, script_nonce)
    page.add_child(fmap)
    html = page.render()
    return inline_assets(html, asset_base_url) if inline else html
