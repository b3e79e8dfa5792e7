"""The volunteers' phone results (source ``browser``) as their own map layer.

They are measured by another method (the collector's page: parallel HTTP transfers) and count in
the cell statistics only where the ward chooses (`analysis.sources`), so the officer sees them
apart: one toggleable layer of points, each with its own values. The points travel as data in a
``<script type="application/json">`` block (`maps.map_data.script_json`: nothing in it can end
the block); the layer's script, which holds no data, reads it and builds each popup with text
nodes, so no value ever becomes markup or code.

Example
-------
>>> from lomsong.maps.i18n import translator
>>> rows = browser_rows(gpd.GeoDataFrame({"measured_at": [None], "carrier": ["viettel"],
...     "access": ["4g"], "download_mbps": [52.0], "upload_mbps": [None], "rtt_ms": [None],
...     "site_id": ["ubnd"]}, geometry=gpd.points_from_xy([105.83], [21.02]), crs=4326),
...     {"4g": 40.0}, translator("en"), "en", {"ubnd": "UBND"})
>>> rows[0]["values"][-2:]
[['Download', '52.0 Mbps'], ['Service point', 'UBND (ubnd)']]
"""

from __future__ import annotations

import math
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
from branca.element import MacroElement
from jinja2 import Template

from lomsong.maps.i18n import Gettext, format_datetime, format_number
from lomsong.maps.labels import label
from lomsong.maps.map_data import script_json
from lomsong.maps.report_input import ReportInput

__all__ = ["BrowserLayer", "add_browser_layer", "browser_options", "browser_rows"]

# Colours of a phone's download result: failed, below the target of its access, at or above.
_COLOURS = {"failed": "#1a1a1a", "below": "#d7191c", "ok": "#1a9641", "none": "#7b3294"}


def browser_options(survey: ReportInput) -> dict[str, Any]:
    """`maps.heatmap.build_map`'s `browser_counted` and `targets_mbps` for `survey`: whether the
    analysis counted browser results (its `source_table`, else its thresholds) and the download
    target of each access."""
    counted = "browser" in survey.thresholds.sources.in_statistics
    if survey.source_table is not None:
        rows = survey.source_table[survey.source_table["source"] == "browser"]
        if len(rows):
            counted = bool(rows["in_statistics"].iloc[0])
    return {"browser_counted": counted,
            "targets_mbps": {name: float(t.down_mbps)
                             for name, t in survey.thresholds.access.items()
                             if t.down_mbps is not None}}


def _number(value: Any, lang: str, unit: str, decimals: int = 1) -> str | None:
    if value is None or pd.isna(value):
        return None
    number = float(value)
    if math.isnan(number):
        return None
    return f"{format_number(number, lang, decimals=decimals)} {unit}"


def _site(site_id: Any, names: dict[str, str]) -> str | None:
    if site_id is None or pd.isna(site_id):
        return None
    key = str(site_id)
    return f"{names[key]} ({key})" if key in names else key


def browser_rows(browser: gpd.GeoDataFrame, targets_mbps: dict[str, float], _: Gettext,
                 lang: str, site_names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One dict per point: position, colour and the popup's (label, value) pairs as plain text;
    a service point is named by `site_names` (site id -> name) when known."""
    names = site_names or {}
    rows = []
    times = pd.to_datetime(browser["measured_at"], utc=True)
    for (_i, row), when, point in zip(browser.iterrows(), times, browser.geometry, strict=True):
        down = row["download_mbps"]
        failed = pd.notna(row.get("error_kind"))
        target = targets_mbps.get(str(row["access"]))
        if failed:
            colour = _COLOURS["failed"]
        elif pd.isna(down) or target is None:
            colour = _COLOURS["none"]
        else:
            colour = _COLOURS["below"] if float(down) < target else _COLOURS["ok"]
        values = [
            (_("Carrier"), label("carrier", str(row["carrier"]), _)),
            (_("Access"), label("access", str(row["access"]), _)),
            (_("Measured at"), format_datetime(when.to_pydatetime(), lang) if pd.notna(when)
             else None),
            (_("Download"), _number(down, lang, "Mbps")),
            (_("Upload"), _number(row["upload_mbps"], lang, "Mbps")),
            (_("Latency"), _number(row["rtt_ms"], lang, "ms", 0)),
            (_("Failed test"), str(row["error_kind"]) if failed else None),
            (_("Service point"), _site(row.get("site_id"), names)),
        ]
        rows.append({"lat": round(point.y, 6), "lon": round(point.x, 6), "colour": colour,
                     "values": [[k, v] for k, v in values if v is not None]})
    return rows


class BrowserLayer(MacroElement):
    """Circle markers of the phone results drawn into one folium FeatureGroup."""

    _template = Template(
        """
{% macro html(this, kwargs) %}
<script type="application/json" id="{{ this.data_id }}">{{ this.payload }}</script>
{% endmacro %}
{% macro script(this, kwargs) %}
(function () {
  var node = document.getElementById({{ this.data_id|tojson }});
  var d = JSON.parse(node.textContent);
  d.points.forEach(function (p) {
    var marker = L.circleMarker([p.lat, p.lon], {radius: 6, color: "#ffffff", weight: 1.5,
      fillColor: p.colour, fillOpacity: 0.9});
    marker.bindPopup(function () {
      var box = document.createElement("div");
      var head = document.createElement("b");
      head.textContent = d.title;
      box.appendChild(head);
      var table = document.createElement("table");
      table.className = "lomsong-popup";
      p.values.forEach(function (pair) {
        var tr = document.createElement("tr");
        var th = document.createElement("th");
        var td = document.createElement("td");
        th.textContent = pair[0];
        td.textContent = pair[1];
        tr.appendChild(th);
        tr.appendChild(td);
        table.appendChild(tr);
      });
      box.appendChild(table);
      return box;
    });
    marker.addTo({{ this.group }});
  });
})();
{% endmacro %}
"""
    )

    def __init__(self, group: str, title: str, points: list[dict[str, Any]]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "BrowserLayer"
        self.group = group
        self.data_id = "lomsong-browser-points"
        self.payload = script_json({"title": title, "points": points})


def add_browser_layer(fmap: folium.Map, browser: gpd.GeoDataFrame,
                      targets_mbps: dict[str, float], counted: bool, _: Gettext,
                      lang: str, site_names: dict[str, str] | None = None) -> None:
    """Add the phone results as one layer, shown; nothing when there are none. `counted` says
    whether the ward counts them in the cell statistics (each popup states it)."""
    if browser.empty:
        return
    title = (_("Phone result (browser): counted in the cell statistics") if counted
             else _("Phone result (browser): not counted in the cell statistics"))
    group = folium.FeatureGroup(name=_("Phone results (browser)"), show=True).add_to(fmap)
    BrowserLayer(group.get_name(), title,
                 browser_rows(browser, targets_mbps, _, lang, site_names)).add_to(fmap)
