"""Map controls: the legend (with the target speeds) and the carrier, technology and window choice.

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

__all__ = ["choice_data", "legend_data"]

def legend_data(title: str, entries: list[tuple[str, str]], note: str) -> dict[str, Any]:
    """A bottom-right box listing colours and what they mean, and the target speeds."""
    return {"title": title, "entries": [[c, t] for c, t in entries], "note": note}


def choice_data(titles: dict[str, str], carriers: list[tuple[str, str]],
                accesses: list[tuple[str, str]], windows: list[tuple[str, str]],
                combos: list[str], start: str) -> dict[str, Any]:
    """Carrier and technology selectors and the time-window switch: what the map shows.

    `combos` lists the "carrier|access" pairs that have cells; `start` is the
    "carrier|access|window" shown first. ``weak`` ("carrier|access" to the FeatureGroup variable
    of its weak areas) is added by the map.
    """
    return {"titles": titles, "carriers": [list(o) for o in carriers],
            "accesses": [list(o) for o in accesses], "windows": [list(o) for o in windows],
            "combos": combos, "start": start, "weak": {}}
