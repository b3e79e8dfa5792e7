from __future__ import annotations

import pytest

from lomsong.analysis.thresholds import Thresholds, load_thresholds


@pytest.fixture
def thresholds() -> Thresholds:
    return load_thresholds()
