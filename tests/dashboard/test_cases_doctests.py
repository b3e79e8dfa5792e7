"""The docstring examples of the case and re-test modules are true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "lomsong.analysis.retest",
    "lomsong.analysis.retest_plan",
    "lomsong.collector.caseflow",
    "lomsong.collector.dashboard.case_upload",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
