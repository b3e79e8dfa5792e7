"""Fixtures for fault tests: one tier (plain unless a test asks), a real collector, the table.

Every scenario adds a row (made, stored, lost, duplicated) to a session-wide table written to
``test-artifacts/faults.md`` when the session ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from faultkit import PROBE, REPO_ROOT, CollectorProcess, Ledger, ScenarioRow

from lomsong.collector.storage.tokens import create_token

ARTIFACT = REPO_ROOT / "test-artifacts" / "faults.md"


@pytest.fixture
def db_server(request: pytest.FixtureRequest) -> Any:
    """Fault tests run on the plain tier unless parametrised indirectly with another tier."""
    return request.getfixturevalue(f"pg_{getattr(request, 'param', 'plain')}")


@pytest.fixture(scope="session")
def fault_table() -> Iterator[list[ScenarioRow]]:
    rows: list[ScenarioRow] = []
    yield rows
    if not rows:
        return
    lines = [
        "# Fault scenarios: what the probe made and what the collector's database holds",
        "",
        "Written by `tests/faults` (conftest `fault_table`). Goal: 0 lost, 0 duplicated.",
        "`dropped (policy)` counts records a full spool dropped on purpose, counted by reason.",
        "",
        "| scenario | made | stored | lost | duplicated | dropped (policy) | note |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    lines += [f"| {r.scenario} | {r.made} | {r.stored} | {r.lost} | {r.duplicated} | "
              f"{r.dropped_by_policy} | {r.note} |" for r in rows]
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def probe_token(migrated_url: str) -> str:
    with psycopg.connect(migrated_url, autocommit=True) as conn:
        return create_token(conn, PROBE, "probe")


@pytest.fixture
def ledger(migrated_url: str) -> Ledger:
    return Ledger(migrated_url)


@pytest.fixture
def collector(migrated_url: str, probe_token: str, tmp_path: Path) -> Iterator[CollectorProcess]:
    """A collector subprocess on loopback (not started: the test decides when).

    Afterwards its whole log (startup, 503s, kills) must not contain the probe's token."""
    proc = CollectorProcess(migrated_url, tmp_path / "collector.log")
    try:
        yield proc
    finally:
        proc.stop()
    log = proc.log_path.read_text(errors="replace") if proc.log_path.exists() else ""
    assert probe_token not in log
