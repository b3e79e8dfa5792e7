"""A live collector (uvicorn on a free loopback port, in a thread) and Chromium helpers for the
browser security tests (a module: test folders cannot import each other's conftest)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from livecollector import live_collector as serving

from lomsong.collector.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
_DATA = re.compile(r'id="lomsong-map-data">(.*?)</script>', re.DOTALL)


@contextmanager
def live_collector(database_url: str) -> Iterator[str]:
    """The collector's base URL while it runs."""
    settings = Settings(database_url=database_url, pool_min_size=1, pool_max_size=4,
                        secret_key="browser-security-" + "k" * 32)
    with serving(settings) as base:
        yield base


class Watch:
    """Records every dialog (dismissed at once) and every console error or page error."""

    def __init__(self, page: Any) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("console", lambda m: self.errors.append(f"{page.url}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"{page.url}: {e}"))



def open_map_items(page: Any, html: str) -> list[str]:
    """Open every popup and tooltip that the map page's JSON data names; their texts.

    `page` is a playwright Page, or the Frame of the dashboard's map iframe."""
    found = _DATA.search(html)
    if found is None:
        return []
    data = json.loads(found[1])
    shown: list[str] = []
    for item in data["popups"]:
        page.evaluate("name => { const l = window[name];"
                      " l.openPopup(l.getBounds ? l.getBounds().getCenter() : undefined); }",
                      item["layer"])
        shown.append(page.locator(".leaflet-popup-content").last.inner_text())
    for item in data["tooltips"]:
        page.evaluate("name => { window[name].openTooltip(); }", item["layer"])
        shown.append(page.locator(".leaflet-tooltip").last.inner_text())
    return shown
