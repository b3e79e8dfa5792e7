"""The stored columns of `measurements`, derived from the wire record so they cannot drift."""

from __future__ import annotations

from typing import Final

from lomsong.probe.record import Measurement

__all__ = ["ANALYSIS_COLUMNS", "COLUMNS", "RECORD_COLUMNS", "SERVER_COLUMNS"]

# Columns the collector adds or rewrites; `measured_at` is stored as `probe_time`.
SERVER_COLUMNS: Final = ("time", "probe_time", "received_at", "h3_r10")
RECORD_COLUMNS: Final = tuple(f for f in Measurement.model_fields if f != "measured_at")
COLUMNS: Final = SERVER_COLUMNS + RECORD_COLUMNS
# Everything but the raw tool output, which only audits need.
ANALYSIS_COLUMNS: Final = tuple(c for c in COLUMNS if c != "raw")
