"""The docstring examples of the probe's modules are true (every module with examples)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "probe.budget",
    "probe.clock",
    "probe.config",
    "probe.cycle",
    "probe.doctor",
    "probe.importers",
    "probe.location.fix",
    "probe.location.fixed",
    "probe.location.gpsd",
    "probe.location.gpx",
    "probe.location.gpx_match",
    "probe.location.nmea",
    "probe.netif",
    "probe.pathrun",
    "probe.plan",
    "probe.radio.mmcli",
    "probe.radio.quectel",
    "probe.radio.reader",
    "probe.radio.snapshot",
    "probe.runners.adaptive",
    "probe.runners.base",
    "probe.runners.dns",
    "probe.runners.early_stop",
    "probe.runners.iperf3",
    "probe.runners.iperf3_text",
    "probe.runners.ping",
    "probe.runners.speedtest",
    "probe.runners.speedtest_parse",
    "probe.runners.tcp_acked",
    "probe.runners.web",
    "probe.scheduler",
    "probe.spool",
    "probe.uploader",
    "probe.walk",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
