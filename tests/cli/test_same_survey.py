"""`lomsong analyze` and the dashboard give the same survey: same rows, service points and ward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from lomsong import synthetic
from lomsong.cli import main
from lomsong.collector.dashboard.survey import SurveyCache, parse_period
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.collector.storage.migrate import migrate
from lomsong.collector.storage.scope import SINGLE_WARD
from lomsong.outputs import store_sample_ward

pytestmark = pytest.mark.db

KEY = ["site_id", "carrier", "access"]
COMPARED = ["samples", "failed", "down_median_mbps", "share_below", "verdict", "cell_status"]


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_cli_and_dashboard_give_the_same_scorecards(db_url: str, tmp_path: Path) -> None:
    migrate(db_url)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    records = [StoredRecord(m, m.measured_at, m.clock)
               for m in synthetic.survey(start, days=3, walks=1, pi_interval_min=120)]
    with psycopg.connect(db_url, autocommit=True) as conn:
        ingest(conn, records, start + timedelta(days=4))
        store_sample_ward(conn)

    out = tmp_path / "survey.gpkg"
    assert main(["analyze", "--database-url", db_url, "--from", "2026-10-01",
                 "--to", "2026-10-03", "--out", str(out)]) == 0
    cli = gpd.read_file(out, layer="service_points")
    assert set(cli["site_id"]) == {p.site_id for p in synthetic.SERVICE_POINTS}
    assert gpd.read_file(out, layer="boundary")["name"].iloc[0] == synthetic.SAMPLE_WARD

    with ConnectionPool(db_url, min_size=1, max_size=2, open=True) as pool:
        shown = SurveyCache().get(pool, parse_period("2026-10-01", "2026-10-03"), SINGLE_WARD)
    dashboard = pd.DataFrame(shown.result.scorecards.drop(columns="geometry"))
    left = cli[KEY + COMPARED].sort_values(KEY).reset_index(drop=True)
    right = dashboard[KEY + COMPARED].sort_values(KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right, check_dtype=False)
    assert 0 < shown.measurements < len(records)  # the last local day ends at 17:00 UTC
