"""`benchmarks/city.py` at a few thousand rows and three wards: it loads, refreshes, serves the
city page (from the roll-ups), the PDF and a ward page, and refreshes one ward incrementally."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import DbServer

ROOT = Path(__file__).resolve().parents[2]


def test_the_city_benchmark_runs_small(pg_plain: DbServer) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "city.py"), "3000", "--wards", "3",
         "--admin-url", pg_plain.admin_url, "--pool-sizes", "", "--settle-s", "0", "--json"],
        capture_output=True, text=True, timeout=600, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.splitlines()[0])
    m = figures["measure"]
    assert figures["load"]["wards"] == 3 and m["measurements"] == 3000
    assert m["full_refresh_wards"] == 3 and m["city_page_wards"] == 3
    assert len(m["incremental_refresh_wards"]) == 1
    assert "| city page /city |" in done.stdout
