"""The data of the web map as one JSON block, read by lomsong's static script (``lomsong/map.js``).

No text from outside is ever written into an inline script: probe fields, service-point names and
addresses, layer labels and popups all go into ``<script type="application/json">``, which the
browser never runs, escaped so that nothing in it can end the block (``<``, ``>``, ``&``, U+2028
and U+2029 become JSON escapes). The static script parses it and sets tooltips and labels as text;
popup HTML is built, escaped, by `lomsong.maps.popups`.

Example
-------
>>> script_json({"name": "</script><script>alert(1)</script>"})
'{"name":"\\\\u003c/script\\\\u003e\\\\u003cscript\\\\u003ealert(1)\\\\u003c/script\\\\u003e"}'
"""

from __future__ import annotations

import json
from typing import Any

from branca.element import MacroElement
from jinja2 import Template

__all__ = ["DATA_ID", "MapData", "script_json"]

DATA_ID = "lomsong-map-data"
_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
            "\u2029": "\\u2029"}


def script_json(value: Any) -> str:
    """`value` as JSON that is safe inside a ``<script type="application/json">`` element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escaped in _ESCAPES.items():
        text = text.replace(char, escaped)
    return text


class MapData(MacroElement):
    """The JSON block, and the style sheet of lomsong's legend, switch and popups.

    `data` is filled while the map is built: ``map`` (the map's JS variable), ``cells``,
    ``popups`` ([{layer, html, maxWidth}]), ``tooltips`` ([{layer, text}]), ``legend``,
    ``choice`` (carrier, technology, window), ``outlines`` (the ward boundary) and
    ``backdrop`` (the ward's own layers under the cells), layers that take no clicks. Layers
    are named by their folium variable, never by data.
    """

    _template = Template(
        """
{% macro header(this, kwargs) %}
<style>
.lomsong-legend { background: #fff; padding: 6px 8px; font: 12px/1.4 sans-serif;
  box-shadow: 0 0 4px rgba(0,0,0,.3); border-radius: 4px; }
.lomsong-legend i { display: inline-block; width: 14px; height: 14px; margin-right: 6px;
  vertical-align: middle; opacity: .8; }
.lomsong-legend summary { cursor: pointer; }
.lomsong-what { font-weight: 600; margin-top: 2px; }
.lomsong-choice { display: block; margin-bottom: 4px; }
.lomsong-choice b { display: block; }
.lomsong-choice select { font: inherit; max-width: 100%; }
.lomsong-popup th { padding-right: 8px; font-weight: 600; vertical-align: top; }
.lomsong-popup td, .lomsong-popup th { font-size: 12px; border-bottom: 1px solid #eee; }
</style>
{% endmacro %}
{% macro html(this, kwargs) %}
<script type="application/json" id="{{ this.data_id }}">{{ this.payload() }}</script>
{% endmacro %}
"""
    )

    def __init__(self, map_name: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "MapData"
        self.data_id = DATA_ID
        self.data: dict[str, Any] = {"map": map_name, "popups": [], "tooltips": []}

    def payload(self) -> str:
        return script_json(self.data)
