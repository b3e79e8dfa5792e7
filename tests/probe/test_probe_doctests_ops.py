"""The docstring examples of the scheduling, budget, checks, radio, walk and doctor modules."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "probe.budget",
    "probe.doctor",
    "probe.location.gpx_match",
    "probe.pathrun",
    "probe.plan",
    "probe.radio.reader",
    "probe.runners.dns",
    "probe.runners.ping",
    "probe.runners.web",
    "probe.scheduler",
    "probe.walk",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
