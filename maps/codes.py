"""Codes the command line accepts, kept free of imports so `maps.cli` stays light.

Example
-------
>>> "viettel" in REPORT_CARRIERS
True
"""

from __future__ import annotations

__all__ = ["LANGUAGES", "REPORT_CARRIERS"]

LANGUAGES: tuple[str, ...] = ("vi", "en")

# Carriers a report can be made for (`all`: the ward leadership's summary of every carrier).
REPORT_CARRIERS: tuple[str, ...] = (
    "viettel", "vnpt", "mobifone", "vietnamobile", "gmobile", "itel", "fpt", "cmc", "sctv", "all",
)
