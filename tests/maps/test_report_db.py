"""`lomsong report` without --input: the period is analysed from the collector's database."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from lomsong import synthetic
from lomsong.cli import main
from lomsong.collector.storage.ingest import StoredRecord, ingest
from lomsong.collector.storage.migrate import migrate
from lomsong.outputs import store_sample_ward

pytestmark = pytest.mark.db


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_report_from_database_filters_the_period(db_url: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    migrate(db_url)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    records = [StoredRecord(m, m.measured_at, m.clock) for m in synthetic.survey(start, days=7)]
    with psycopg.connect(db_url, autocommit=True) as conn:
        ingest(conn, records, start + timedelta(days=8))
        store_sample_ward(conn)
    monkeypatch.setenv("LOMSONG_DATABASE_URL", db_url)

    with_data = tmp_path / "viettel.pdf"
    assert main(["report", "--carrier", "viettel", "--from", "2026-10-01", "--to", "2026-10-07",
                 "--out", str(with_data)]) == 0
    text = subprocess.run(["pdftotext", str(with_data), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert synthetic.SAMPLE_WARD.split(" (")[0] in text and "Viettel" in text
    assert "01/10/2026" in text and "Không có dữ liệu đo trong kỳ này" not in text
    assert with_data.with_suffix(".gpkg").stat().st_size > 0  # listed in the annex
    assert "viettel.gpkg" in text
    # issue 14: the demo's data is synthetic, and every page says so
    pages = text.split("\f")[:-1]
    assert all("DỮ LIỆU TỔNG HỢP, KHÔNG PHẢI PHÉP ĐO THẬT (100% số phép đo)" in p for p in pages)
    assert "Phép đo theo nguồn: Dữ liệu tổng hợp (mô phỏng) 100%" in " ".join(text.split())

    empty = tmp_path / "empty.pdf"
    assert main(["report", "--carrier", "viettel", "--from", "2026-11-01", "--to", "2026-11-07",
                 "--out", str(empty)]) == 0
    text = subprocess.run(["pdftotext", str(empty), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Không có dữ liệu đo trong kỳ này" in text
