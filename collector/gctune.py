"""Garbage-collector settings for a collector server process, which holds big batches in memory.

Why: validating a 5,000-record batch leaves about 25,000 container objects alive (the models,
their dicts, ids), and its COPY rows 5,000 more, until the batch is committed. With CPython's
default thresholds (700, 10, 10) every one of them survives a young collection and is promoted,
so a full collection runs every one or two batches, and each walks every object of the process:
about 196,000 after the imports, 100-200 ms on a 2-core machine. Under the ingest benchmark
(2 workers, 200,000 records) collections took 1.9-2.5 of the 3.7-4.2 CPU-seconds each worker
spent on requests: the largest single cost of ingest, larger than validating the JSON.

What `tune_gc` does, once per server process after start-up:

1. `gc.freeze()` what start-up built (modules, the app), so that full collections skip it;
2. lets the young generation grow to `GC_THRESHOLDS[0]` net allocations, more than several
   batches in flight make, so a batch's objects are freed by reference counting before any
   collection scans them.

Reference counting still frees at once everything that is not part of a cycle, so memory use is
the same; only cyclic garbage waits longer. The settings are process-wide: call `tune_gc` from a
server entry point (`collector.asgi`, `lomsong serve`), never from library code or tests.

Example
-------
>>> GC_THRESHOLDS[0] > 6 * 5_000  # several 5,000-record batches (6 objects a record) in flight
True
"""

from __future__ import annotations

import gc
from typing import Final

__all__ = ["GC_THRESHOLDS", "tune_gc"]

GC_THRESHOLDS: Final = (100_000, 10, 10)


def tune_gc() -> None:
    """Freeze the start-up heap and raise the young-generation threshold (process-wide)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
