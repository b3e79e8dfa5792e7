"""Builders for constructed measurement sets with known answers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3

from lomsong.analysis.load import measurements_frame

REALDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata"

# A base cell in central Hanoi (Hoan Kiem) at resolution 10.
BASE = h3.latlng_to_cell(21.0285, 105.8542, 10)


def centre(cell: str) -> tuple[float, float]:
    return h3.cell_to_latlng(cell)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC time for a local (UTC+7) day of November 2026 and hour."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=7)


def down(
    cell: str,
    mbps: float | None,
    when: datetime,
    *,
    carrier: str = "viettel",
    access: str = "4g",
    error: str | None = None,
    rsrp: float | None = None,
    sinr: float | None = None,
    pci: int | None = None,
    band: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    lat, lon = centre(cell)
    return {
        "probe_id": "walk-1",
        "measured_at": when.isoformat(),
        "kind": "throughput_down",
        "tool": "iperf3",
        "carrier": carrier,
        "access": access,
        "download_mbps": mbps,
        "error_kind": error,
        "rsrp_dbm": rsrp,
        "sinr_db": sinr,
        "pci": pci,
        "band": band,
        "lat": lat,
        "lon": lon,
        "position_source": "gps",
        "source": "synthetic",
        **extra,
    }


def spread(cell: str, speeds: Iterable[float | None], **kw: Any) -> list[dict[str, Any]]:
    """One test per value, on alternating days at 09:00 and 15:00 local (distinct 4 h slots)."""
    rows = []
    for i, mbps in enumerate(speeds):
        when = local(2 + i // 2, 9 if i % 2 == 0 else 15, i % 60)
        rows.append(down(cell, mbps, when, **kw))
    return rows


def frame(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    return measurements_frame(rows)
