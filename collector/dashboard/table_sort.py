"""Server-side carrier filter and sorting of the dashboard's tables (no script needed).

A table page takes ``carrier``, ``sort`` and ``order`` query values (a second table on the page
sorts by its own pair, e.g. ``proposal_sort`` and ``proposal_order``); each column heading is a
link that sorts by it (ascending first, descending on a second click) and keeps the page's other
query values. Missing values sort last either way; statuses and verdicts sort by severity
(`analysis.classify.SEVERITY`), worst last when ascending; other ordered codes by their own scale.

Example
-------
>>> rows = [{"m": 3.0}, {"m": None}, {"m": 1.0}]
>>> [r["m"] for r in sort_rows(rows, lambda r: r["m"], descending=True)]
[3.0, 1.0, None]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from lomsong.analysis.classify import SEVERITY
from lomsong.maps.popups import missing

__all__ = ["Sorting", "by_column", "by_severity", "filter_carrier", "sort_rows"]

Key = Callable[[dict[str, Any]], Any]


def by_column(column: str) -> Key:
    return lambda row: row.get(column)


def by_severity(column: str, scale: Mapping[str, int] = SEVERITY) -> Key:
    """Sort `column`'s codes by their place on `scale` (unknown codes count as missing)."""
    return lambda row: scale.get(str(row.get(column)))


def sort_rows(rows: list[dict[str, Any]], key: Key, *, descending: bool) -> list[dict[str, Any]]:
    """`rows` sorted by `key` (stable), missing values last in both directions."""
    present = [r for r in rows if not missing(key(r))]
    absent = [r for r in rows if missing(key(r))]
    return sorted(present, key=key, reverse=descending) + absent


def filter_carrier(rows: list[dict[str, Any]], carrier: str | None) -> list[dict[str, Any]]:
    return rows if not carrier else [r for r in rows if r.get("carrier") == carrier]


@dataclass(frozen=True)
class Sorting:
    """A table's current sort and the links of its headings: `query` keeps the rest of the page's
    state (period, carrier, other tables' sorts); `names` are the query values of this sort."""

    key: str | None
    descending: bool
    query: Mapping[str, str | None]
    names: tuple[str, str] = ("sort", "order")

    def href(self, key: str) -> str:
        order = "desc" if key == self.key and not self.descending else "asc"
        values = {**self.query, self.names[0]: key, self.names[1]: order}
        return "?" + urlencode({k: v for k, v in values.items() if v})

    def apply(self, rows: list[dict[str, Any]], keys: Mapping[str, Key]) -> list[dict[str, Any]]:
        if self.key is None or self.key not in keys:
            return rows
        return sort_rows(rows, keys[self.key], descending=self.descending)
