"""The docstring examples of the probe's modules are true (every module with examples)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "lomsong.probe.budget",
    "lomsong.probe.carriers",
    "lomsong.probe.clock",
    "lomsong.probe.config",
    "lomsong.probe.cycle",
    "lomsong.probe.disk_reserve",
    "lomsong.probe.doctor",
    "lomsong.probe.importers",
    "lomsong.probe.location.fix",
    "lomsong.probe.location.fixed",
    "lomsong.probe.location.gpsd",
    "lomsong.probe.location.gpx",
    "lomsong.probe.location.gpx_match",
    "lomsong.probe.location.nmea",
    "lomsong.probe.netif",
    "lomsong.probe.pathrun",
    "lomsong.probe.plan",
    "lomsong.probe.radio.mmcli",
    "lomsong.probe.radio.quectel",
    "lomsong.probe.radio.reader",
    "lomsong.probe.radio.snapshot",
    "lomsong.probe.runners.adaptive",
    "lomsong.probe.runners.base",
    "lomsong.probe.runners.dns",
    "lomsong.probe.runners.early_stop",
    "lomsong.probe.runners.iperf3",
    "lomsong.probe.runners.iperf3_text",
    "lomsong.probe.pool_source",
    "lomsong.probe.retest",
    "lomsong.probe.runners.ping",
    "lomsong.probe.runners.pool",
    "lomsong.probe.runners.speedtest",
    "lomsong.probe.runners.speedtest_parse",
    "lomsong.probe.runners.tcp_acked",
    "lomsong.probe.runners.web",
    "lomsong.probe.scheduler",
    "lomsong.probe.servers",
    "lomsong.probe.spool",
    "lomsong.probe.uploader",
    "lomsong.probe.walk",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
