"""A volunteer's walk as a GPX 1.1 file: one waypoint per stop and the route through them.

Phone apps (OsmAnd, Organic Maps, GPSLogger's viewers) open a GPX file with waypoints (``wpt``,
shown as pins with their name and description) and a route (``rte``, the line from stop to
stop). Elements follow the order the GPX 1.1 schema requires; names and descriptions are text
nodes written by `xml.etree.ElementTree`, so ``<``, ``&`` and quotes in a service point's name
are escaped. Coordinates are WGS 84 with 6 decimals (about 0.1 m).

Example
-------
>>> data = walk_gpx([GpxPoint(21.0285, 105.8542, "1", "Viettel 4G")], name="Route")
>>> data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
True
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["GPX_NS", "GpxPoint", "walk_gpx"]

GPX_NS = "http://www.topografix.com/GPX/1/1"
_MAX_TEXT = 2000


@dataclass(frozen=True)
class GpxPoint:
    """A stop (or the start): WGS 84 position, a short name, a longer description."""

    lat: float
    lon: float
    name: str
    desc: str = ""

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon < 180.0):
            raise ValueError(f"GPX point {self.name!r}: lat {self.lat}, lon {self.lon} "
                             "outside WGS 84 ranges")


# Characters XML 1.0 cannot hold at all (escaping does not help): C0 controls but tab, newline and
# carriage return, lone surrogates, U+FFFE and U+FFFF. A name with them would make an unreadable file.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> str:
    """`value` cut to `_MAX_TEXT` characters, without characters XML cannot hold."""
    return _NOT_XML.sub("", value)[:_MAX_TEXT]


def _point(parent: ET.Element, tag: str, p: GpxPoint, kind: str) -> None:
    element = ET.SubElement(parent, f"{{{GPX_NS}}}{tag}",
                            {"lat": f"{p.lat:.6f}", "lon": f"{p.lon:.6f}"})
    ET.SubElement(element, f"{{{GPX_NS}}}name").text = _text(p.name)
    if p.desc:
        ET.SubElement(element, f"{{{GPX_NS}}}desc").text = _text(p.desc)
    ET.SubElement(element, f"{{{GPX_NS}}}type").text = kind


def walk_gpx(stops: Sequence[GpxPoint], *, name: str, start: GpxPoint | None = None,
             desc: str = "", made_at: datetime | None = None) -> bytes:
    """The GPX 1.1 document (UTF-8 bytes) of a walk from `start` (if any) through `stops`."""
    ET.register_namespace("", GPX_NS)
    root = ET.Element(f"{{{GPX_NS}}}gpx", {"version": "1.1", "creator": "lomsong"})
    meta = ET.SubElement(root, f"{{{GPX_NS}}}metadata")
    ET.SubElement(meta, f"{{{GPX_NS}}}name").text = _text(name)
    if desc:
        ET.SubElement(meta, f"{{{GPX_NS}}}desc").text = _text(desc)
    stamp = (made_at or datetime.now(UTC)).astimezone(UTC)
    ET.SubElement(meta, f"{{{GPX_NS}}}time").text = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    walk = ([(start, "start")] if start is not None else []) + [(s, "stop") for s in stops]
    for p, kind in walk:
        _point(root, "wpt", p, kind)
    route = ET.SubElement(root, f"{{{GPX_NS}}}rte")
    ET.SubElement(route, f"{{{GPX_NS}}}name").text = _text(name)
    for p, kind in walk:
        _point(route, "rtept", p, kind)
    out = io.BytesIO()
    ET.ElementTree(root).write(out, encoding="UTF-8", xml_declaration=True)
    return out.getvalue()
