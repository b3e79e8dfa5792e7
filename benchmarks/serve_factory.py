"""`uvicorn --factory benchmarks.serve_factory:app`: the collector from LOMSONG_* settings."""

from __future__ import annotations

from fastapi import FastAPI

from collector.app import create_app
from collector.settings import Settings


def app() -> FastAPI:
    return create_app(Settings(migrate_on_start=False))
