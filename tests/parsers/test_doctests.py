"""The docstring examples of the parser modules are true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "probe.runners.speedtest",
    "probe.runners.speedtest_parse",
    "probe.radio.snapshot",
    "probe.radio.mmcli",
    "probe.radio.quectel",
    "probe.location.fix",
    "probe.location.nmea",
    "probe.location.gpsd",
    "probe.location.gpx",
    "probe.location.fixed",
    "probe.importers",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
