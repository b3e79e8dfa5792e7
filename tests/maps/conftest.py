"""Fixtures for the map tests: one constructed survey (built by `mapkit`), the artifacts folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from mapkit import (
    ARTIFACTS,
    hexes,
    make_boundary,
    make_cells,
    make_proposals,
    make_routes,
    make_scorecards,
    make_weak_areas,
)

from lomsong.maps.report_input import ReportInput


@pytest.fixture(scope="session")
def survey() -> ReportInput:
    cells = hexes(120)
    return ReportInput(cells=make_cells(cells), weak_areas=make_weak_areas(cells),
                       scorecards=make_scorecards(), proposals=make_proposals(),
                       routes=make_routes(), boundary=make_boundary(cells))


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
