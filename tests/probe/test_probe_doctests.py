"""The docstring examples of the probe's core modules are true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "probe.clock",
    "probe.config",
    "probe.cycle",
    "probe.netif",
    "probe.runners.adaptive",
    "probe.runners.base",
    "probe.runners.early_stop",
    "probe.runners.iperf3",
    "probe.runners.iperf3_text",
    "probe.runners.tcp_acked",
    "probe.spool",
    "probe.uploader",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
