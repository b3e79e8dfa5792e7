"""Hostile text for every field a probe, an importer, an admin upload or a user can set.

Each payload, if it ran, would call ``alert`` (a dialog the browser tests fail on) or make a cell
a formula. Kept in a module of its own so map, dashboard and export tests share one list.
"""

from __future__ import annotations

PAYLOADS: tuple[str, ...] = (
    "${alert(1)}",
    "`;alert(1);`",
    "</script><script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "\"'><svg onload=alert(1)>",
    "=HYPERLINK(\"http://x\",\"y\")",
    "\u202ephương\u200b\u200dẾ\u2028\u2029",
)
LONG = "Đ" * 3000 + "${alert(1)}"


def tagged(field: str, index: int, limit: int | None = None) -> str:
    """Payload `index` (cyclic) for `field`, cut to `limit` characters if the field has one."""
    text = (*PAYLOADS, LONG)[index % (len(PAYLOADS) + 1)]
    return text if limit is None else text[:limit]
