"""ASGI entry point for process managers: ``uvicorn --factory collector.asgi:app``.

Settings come from the ``LOMSONG_*`` environment (``LOMSONG_DATABASE_URL`` must be set); used by
``lomsong serve --workers N`` and the benchmarks.
"""

from __future__ import annotations

from fastapi import FastAPI

from lomsong.collector.app import create_app
from lomsong.collector.gctune import tune_gc
from lomsong.collector.settings import Settings

__all__ = ["app"]


def app() -> FastAPI:
    application = create_app(Settings())
    tune_gc()  # each worker is a server process of its own (see collector.gctune)
    return application
