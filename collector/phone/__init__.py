"""The volunteers' phone page: enrolment links, the measurement page, its payloads and results.

`install_phone(app, settings)` adds the routes and the static script to the collector app.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI imports this package; FastAPI loads only when the app is built
    from fastapi import FastAPI

    from lomsong.collector.settings import Settings

__all__ = ["install_phone"]

_STATIC = Path(__file__).with_name("static")


def install_phone(app: FastAPI, settings: Settings) -> None:
    """Add the phone page to `app` (call before the app starts)."""
    from fastapi.staticfiles import StaticFiles

    from lomsong.analysis.thresholds import load_thresholds
    from lomsong.collector.phone import admin, links_admin, page, payload, results
    from lomsong.collector.phone.enrol import PhoneLimits
    from lomsong.collector.phone.prefixes import load_table

    app.state.phone_limits = PhoneLimits.from_settings(settings)
    app.state.phone_prefixes = load_table(settings.data_dir)
    app.state.phone_buffer = payload.make_buffer()
    app.state.phone_target_mbps = load_thresholds().access["4g"].down_mbps
    for module in (admin, links_admin, page, payload, results):
        app.include_router(module.router)
    app.mount("/static/phone", StaticFiles(directory=_STATIC), name="phone-static")
