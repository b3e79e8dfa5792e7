"""The docstring examples of the phone page's modules are true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "lomsong.collector.phone.enrol",
    "lomsong.collector.phone.plausible",
    "lomsong.collector.phone.posters",
    "lomsong.collector.phone.prefixes",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
