"""Where a map popup's "measurements here" link goes, when the map is served by the dashboard.

The offline map file has no such page, so it has no link; the dashboard gives the path of its
drill-down page and the query every link keeps (period, language). Cell popups are built in the
browser (``lomsong/map.js``), which adds the cell, carrier, technology and window to the query;
weak-area and service-point popups get their whole link here, HTML-escaped where it is written.

Example
-------
>>> link = DrillLink("/measurements", {"from": "2026-11-01", "to": "2026-11-30"})
>>> link.href(target="area", id="viettel-4g-001")
'/measurements?from=2026-11-01&to=2026-11-30&target=area&id=viettel-4g-001'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

__all__ = ["DrillLink"]


@dataclass(frozen=True)
class DrillLink:
    """`url`: a path on the dashboard's own site; `query`: values every link keeps."""

    url: str
    query: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.url.startswith("/") or self.url.startswith("//"):
            raise ValueError(f"url: {self.url!r} must be a path on this site, e.g. /measurements")

    def href(self, **more: str) -> str:
        """The link with `more` added to the query."""
        return f"{self.url}?{urlencode({**self.query, **more})}"

    def data(self, text: str) -> dict[str, object]:
        """What ``map.js`` needs to build a cell's link: path, query and link text."""
        return {"url": self.url, "query": dict(self.query), "text": text}
