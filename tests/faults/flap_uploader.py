"""Drain a spool to a collector until it is empty, retrying through a flapping link.

Run inside the client network namespace by `test_fault_netns.py`:
``python flap_uploader.py SPOOL URL TOKEN``; prints the total `UploadReport` as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import httpx

from lomsong.probe.spool import Spool
from lomsong.probe.uploader import Backoff, CollectorClient, UploadReport, upload_pending

DEADLINE_S = 120.0


def main(spool_path: str, url: str, token: str) -> int:
    total = UploadReport()
    deadline = time.monotonic() + DEADLINE_S
    timeout = httpx.Timeout(connect=2.0, read=5.0, write=5.0, pool=2.0)
    with Spool(Path(spool_path), max_rows=None) as spool, \
            CollectorClient(url, token, timeout=timeout) as client:
        while spool.stats().pending and time.monotonic() < deadline:
            report = upload_pending(spool, client, batch_size=200, max_retries=5,
                                    backoff=Backoff(base_s=0.05, cap_s=0.5))
            for name in ("batches", "acked", "stored", "duplicates", "rejected", "retries"):
                setattr(total, name, getattr(total, name) + getattr(report, name))
            total.stopped, total.message = report.stopped, report.message
        pending = spool.stats().pending
    print(json.dumps({**dataclasses.asdict(total), "pending": pending}))
    return 0 if pending == 0 else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
