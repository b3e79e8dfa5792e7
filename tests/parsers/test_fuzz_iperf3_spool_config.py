"""Fuzzing what the probe reads: iperf3 output (real files, corrupted), spooled payloads (damaged
rows), and probe.toml. Each raises the project's own error or gives a flagged result; none
crashes the probe or blocks its spool."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lomsong.probe.config import parse_config
from lomsong.probe.errors import ConfigError, ParseError
from lomsong.probe.record import ClockState, Kind, Measurement
from lomsong.probe.runners.base import CommandResult, TestContext
from lomsong.probe.runners.iperf3 import Iperf3Runner, parse_iperf3
from lomsong.probe.spool import Spool

from .helpers import corrupted, real_files, real_text

IPERF3_FILES = [p.relative_to(p.parents[1]).as_posix() for p in real_files("iperf3/*.json")]
EXAMPLE_TOML = Path(__file__).resolve().parents[2] / "probe" / "probe.example.toml"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
        st.sampled_from(["start", "end", "intervals", "error", "sum", "sum_received", "sum_sent",
                         "streams", "bits_per_second", "bytes", "seconds", "version", "x"]),
        inner, max_size=6),
    max_leaves=30)


class Recorded:
    def __init__(self, stdout: str, returncode: int = 0) -> None:
        self.stdout, self.returncode = stdout, returncode

    def __call__(self, argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        return CommandResult(self.returncode, self.stdout, "", 1.0)


CTX = TestContext(probe_id="pi-fuzz", clock_state=lambda: ClockState.SYNCED,
                  boot_id=lambda: "b", monotonic_s=lambda: 1.0)


def _parse_or_own_error(text: str) -> None:
    try:
        parse_iperf3(text, source="fuzz")
    except ParseError as exc:
        assert "fuzz" in str(exc)


@pytest.mark.skipif(not IPERF3_FILES, reason="real iperf3 samples not available")
@pytest.mark.parametrize("name", IPERF3_FILES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_iperf3_corrupted_real_output(name: str, data: st.DataObject) -> None:
    text = data.draw(corrupted(real_text(name)))
    _parse_or_own_error(text)
    # Through the runner: always one Measurement, flagged when the output could not be used.
    (m,) = Iperf3Runner(host="h", reverse=True, command_runner=Recorded(text)).start_test(CTX)
    assert m.kind is Kind.THROUGHPUT_DOWN
    assert m.download_mbps is not None or m.error_kind is not None


@settings(max_examples=300, deadline=None)
@given(value=json_values)
def test_iperf3_arbitrary_json(value: object) -> None:
    _parse_or_own_error(json.dumps(value))
    (m,) = Iperf3Runner(host="h", command_runner=Recorded(json.dumps(value))).start_test(CTX)
    assert m.upload_mbps is not None or m.error_kind is not None


def _record(i: int) -> Measurement:
    return Measurement(probe_id="pi-fuzz", measured_at=datetime(2026, 11, 1, tzinfo=UTC),
                       kind=Kind.LATENCY, tool="ping", rtt_ms=10.0 + i)


@settings(max_examples=80, deadline=None)
@given(damage=st.lists(st.tuples(st.integers(0, 5), st.data()), min_size=1, max_size=3))
def test_damaged_spool_rows_are_quarantined_not_blocking(
        damage: list[tuple[int, st.DataObject]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spool.sqlite3"
        records = [_record(i) for i in range(6)]
        with Spool(path) as spool:
            spool.add_many(records)
        with sqlite3.connect(path) as db:
            for index, data in damage:
                text = data.draw(corrupted(records[index].model_dump_json()))
                db.execute("UPDATE pending SET payload = ? WHERE id = ?",
                           (text, str(records[index].id)))
            payloads = db.execute("SELECT id, payload FROM pending ORDER BY rowid").fetchall()
        valid, broken = [], set()
        for rid, payload in payloads:
            try:
                valid.append(Measurement.model_validate_json(payload).id)
            except ValueError:
                broken.add(rid)
        with Spool(path) as spool:
            assert [m.id for m in spool.batch(100)] == valid
            assert {r[0] for r in spool.rejected()} == broken
            assert spool.stats().pending == len(valid)
            assert spool.integrity_check() == "ok"


def test_config_example_parses() -> None:
    cfg = parse_config(EXAMPLE_TOML.read_text(encoding="utf-8"), source="probe.example.toml")
    assert cfg.paths


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_config_corrupted_example(data: st.DataObject) -> None:
    text = data.draw(corrupted(EXAMPLE_TOML.read_text(encoding="utf-8")))
    try:
        parse_config(text, source="probe.toml")
    except ConfigError as exc:
        assert str(exc).startswith("probe.toml: ")


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_config_arbitrary_text(text: str) -> None:
    try:
        parse_config(text, source="probe.toml")
    except ConfigError as exc:
        assert str(exc).startswith("probe.toml: ")
