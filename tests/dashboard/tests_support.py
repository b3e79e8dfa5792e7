"""Helpers for dashboard tests that need one tier only."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def plain_only(pg_plain: Any) -> Any:
    """The case tables are plain SQL, the same on every tier: their tests run on plain only."""
    return pg_plain
