"""Map controls: the legend (with the target speeds) and the peak/off-peak switch.

Both are small Leaflet controls written into folium's script; every word in them comes in
already translated and HTML-escaped.

Example
-------
>>> legend = Legend("Chú thích", [("#1a1a1a", "Lõm sóng")], "Ngưỡng: 40 Mbps (4G)")
>>> "Lõm sóng" in legend.body
True
"""

from __future__ import annotations

from html import escape

from branca.element import MacroElement
from jinja2 import Template

__all__ = ["Legend", "WindowSwitch"]


class Legend(MacroElement):
    """A bottom-right box listing colours and what they mean, and the target speeds."""

    _template = Template(
        """
{% macro header(this, kwargs) %}
<style>
.lomsong-legend { background: #fff; padding: 6px 8px; font: 12px/1.4 sans-serif;
  box-shadow: 0 0 4px rgba(0,0,0,.3); border-radius: 4px; }
.lomsong-legend i { display: inline-block; width: 14px; height: 14px; margin-right: 6px;
  vertical-align: middle; opacity: .8; }
.lomsong-popup th { padding-right: 8px; font-weight: 600; vertical-align: top; }
.lomsong-popup td, .lomsong-popup th { font-size: 12px; border-bottom: 1px solid #eee; }
</style>
{% endmacro %}
{% macro script(this, kwargs) %}
(function () {
  var legend = L.control({position: "bottomright"});
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "lomsong-legend");
    div.innerHTML = {{ this.body|tojson }};
    return div;
  };
  legend.addTo({{ this._parent.get_name() }});
})();
{% endmacro %}
"""
    )

    def __init__(self, title: str, entries: list[tuple[str, str]], note: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Legend"
        lines = [f"<b>{escape(title)}</b>"]
        lines += [f'<div><i style="background:{colour}"></i>{escape(text)}</div>'
                  for colour, text in entries]
        lines.append(f"<div>{escape(note)}</div>")
        self.body = "".join(lines)


class WindowSwitch(MacroElement):
    """Radio buttons "all day / peak / off-peak": each visible carrier x access layer is swapped
    for its layer of the chosen time window.

    `layers` maps "carrier|access" to {window: FeatureGroup JS variable name}.
    """

    _template = Template(
        """
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var layers = { {% for combo, windows in this.layers.items() %}{{ combo|tojson }}: {
    {% for window, name in windows.items() %}{{ window|tojson }}: {{ name }},{% endfor %} },{% endfor %} };
  var control = L.control({position: "bottomleft"});
  control.onAdd = function () {
    var div = L.DomUtil.create("div", "lomsong-legend lomsong-window");
    div.innerHTML = "<b>" + {{ this.title|tojson }} + "</b>" + {{ this.options|tojson }}.map(
      function (o, i) { return "<label style='display:block'><input type='radio' " +
        "name='lomsong-window' value='" + o[0] + "'" + (i === 0 ? " checked" : "") + "> " +
        o[1] + "</label>"; }).join("");
    L.DomEvent.disableClickPropagation(div);
    div.addEventListener("change", function (e) {
      var chosen = e.target.value;
      Object.keys(layers).forEach(function (combo) {
        var byWindow = layers[combo], shown = false;
        Object.keys(byWindow).forEach(function (w) {
          if (map.hasLayer(byWindow[w])) { shown = true; map.removeLayer(byWindow[w]); } });
        if (shown && byWindow[chosen]) { map.addLayer(byWindow[chosen]); }
      });
    });
    return div;
  };
  control.addTo(map);
})();
{% endmacro %}
"""
    )

    def __init__(
        self, title: str, options: list[tuple[str, str]], layers: dict[str, dict[str, str]]
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "WindowSwitch"
        self.title = escape(title)
        self.options = [(code, escape(text)) for code, text in options]
        self.layers = layers
