"""Smoke test of benchmarks/dashboard.py at 2,000 measurements (the benchmark itself is run by
hand at 1M and more): it loads, serves every page, sees a stale page and then the fresh one."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import analysis_db, dashboard  # noqa: E402


def test_dashboard_benchmark_runs_small(pg_plain) -> None:  # type: ignore[no-untyped-def]
    with pg_plain.scratch_database("lomsong_dashbench_") as url:
        analysis_db.load(url, 2_000)
        dashboard.prepare(url)
        result = dashboard.measure(url)
    pages = result["pages"]
    assert set(pages) == set(dashboard.PAGES)
    for row in pages.values():
        assert set(row) == {"never_answer_s", "never_s", "first_s", "warm_s", "stale_s", "fresh_ready_s",
                            "fresh_s"}
        assert all(value >= 0 for value in row.values())
    assert result["analysis_s"] > 0 and result["background_analysis_s"] > 0
    text = dashboard.table(result, 2.0)
    assert "map frame" in text and "goal <= 2 s" in text
