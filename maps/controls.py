"""Map controls: the legend (with the target speeds) and the peak/off-peak switch.

Both are drawn by lomsong's static map script from the map's JSON data (`lomsong.maps.map_data`);
here they are only data: translated words as plain text (the script sets them as text, so nothing
is HTML-escaped here) and the folium variable names of the layers the switch swaps.

Example
-------
>>> legend_data("Chú thích", [("#1a1a1a", "Lõm sóng")], "Ngưỡng: 40 Mbps (4G)")["entries"]
[['#1a1a1a', 'Lõm sóng']]
"""

from __future__ import annotations

from typing import Any

__all__ = ["legend_data", "window_switch_data"]

def legend_data(title: str, entries: list[tuple[str, str]], note: str) -> dict[str, Any]:
    """A bottom-right box listing colours and what they mean, and the target speeds."""
    return {"title": title, "entries": [[c, t] for c, t in entries], "note": note}


def window_switch_data(title: str, options: list[tuple[str, str]],
                       layers: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Radio buttons "all day / peak / off-peak": each visible carrier x access layer is swapped
    for its layer of the chosen time window.

    `layers` maps "carrier|access" to {window: FeatureGroup JS variable name}.
    """
    return {"title": title, "options": [[code, text] for code, text in options],
            "layers": layers}
