"""Property tests: counts survive aggregation and splitting; an ok sample never makes a cell weaker."""

from __future__ import annotations

import h3
import pandas as pd
from analysis_builders import BASE, down, frame, local
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lomsong.analysis.cells import cell_stats
from lomsong.analysis.classify import SEVERITY, classify_cells
from lomsong.analysis.rollup import coarsen
from lomsong.analysis.thresholds import load_thresholds

THRESHOLDS = load_thresholds()
NEAR = sorted(h3.grid_disk(BASE, 3))

sample = st.tuples(
    st.sampled_from(NEAR),
    st.sampled_from(["viettel", "vnpt"]),
    st.one_of(st.none(), st.floats(min_value=0, max_value=200, allow_nan=False)),
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=0, max_value=23),
)


def _rows(samples):
    return [
        down(cell, mbps, local(day, hour), carrier=carrier,
             error="timeout" if mbps is None else None)
        for cell, carrier, mbps, day, hour in samples
    ]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(sample, min_size=1, max_size=50))
def test_aggregate_then_split_keeps_counts(samples):
    m = frame(_rows(samples))
    fine = cell_stats(m, resolution=10, thresholds=THRESHOLDS)
    cols = ["samples", "failed", "below", "judged"]
    keys = ["carrier", "access", "window"]
    # Up the hierarchy: parents hold exactly their children's counts.
    coarse = coarsen(fine, 8, thresholds=THRESHOLDS)
    summed = fine.assign(cell=[h3.cell_to_parent(c, 8) for c in fine["cell"]])
    summed = summed.groupby(["cell", *keys])[cols].sum().sort_index()
    pd.testing.assert_frame_equal(summed, coarse.set_index(["cell", *keys])[cols].sort_index(),
                                  check_dtype=False)
    # Split by carrier: each carrier alone gives exactly its rows of the joint computation.
    for carrier in set(m["carrier"]):
        alone = cell_stats(m[m["carrier"] == carrier], thresholds=THRESHOLDS)
        joint = fine[fine["carrier"] == carrier]
        pd.testing.assert_frame_equal(
            pd.DataFrame(alone).reset_index(drop=True), pd.DataFrame(joint).reset_index(drop=True)
        )
    # Split by time window: peak + off-peak = all; and every sample is counted once.
    by_window = fine.groupby(["cell", "carrier", "window"])["samples"].sum().unstack(fill_value=0)
    for col in ("peak", "offpeak"):
        if col not in by_window:
            by_window[col] = 0
    assert (by_window["all"] == by_window["peak"] + by_window["offpeak"]).all()
    assert fine[fine["window"] == "all"]["samples"].sum() == len(samples)
    assert coarse[coarse["window"] == "all"]["samples"].sum() == len(samples)


def _status(rows):
    stats = classify_cells(cell_stats(frame(rows), thresholds=THRESHOLDS), THRESHOLDS)
    return stats[(stats["window"] == "all")].iloc[0]["status"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.floats(min_value=0, max_value=120, allow_nan=False)),
                  st.integers(min_value=1, max_value=4), st.integers(min_value=0, max_value=23)),
        min_size=1, max_size=25,
    ),
    st.floats(min_value=40, max_value=500, allow_nan=False),
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=0, max_value=23),
)
def test_adding_ok_sample_never_makes_cell_weaker(tests, ok_mbps, day, hour):
    rows = [down(BASE, mbps, local(d, h), error="no_service" if mbps is None else None)
            for mbps, d, h in tests]
    before = _status(rows)
    after = _status([*rows, down(BASE, ok_mbps, local(day, hour))])
    if before != "insufficient_data":
        assert SEVERITY[after] <= SEVERITY[before], (before, after)
