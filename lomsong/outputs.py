"""The survey deliverables from the database: GeoPackage, offline map and PDF reports.

The same analysis the dashboard shows (`collector.survey.compute_survey`: measurements,
service points and the ward from the database), written to files. Used by `lomsong demo`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from lomsong import synthetic
from lomsong.analysis.export import write_geopackage
from lomsong.analysis.period import LOCAL, Period
from lomsong.collector.storage.scope import SINGLE_WARD, Scope
from lomsong.collector.storage.sites import ServicePoint, replace_sites, set_ward
from lomsong.collector.survey import compute_survey
from lomsong.maps.heatmap import render_html
from lomsong.maps.i18n import format_number
from lomsong.maps.report import build_report

__all__ = ["REPORT_CARRIERS", "store_sample_ward", "write_outputs"]

REPORT_CARRIERS = (None, "viettel", "vnpt", "mobifone")


def store_sample_ward(conn: psycopg.Connection[Any]) -> int:
    """Put the synthetic sample ward's name, boundary and service points in the database."""
    boundary = {"type": "Polygon", "coordinates": [[list(p) for p in synthetic.ward_boundary()]]}
    set_ward(conn, synthetic.SAMPLE_WARD, json.dumps(boundary))
    points = [ServicePoint(p.site_id, p.name, p.site_type, p.address, p.lonlat[1], p.lonlat[0])
              for p in synthetic.SERVICE_POINTS]
    return replace_sites(conn, points)


def write_outputs(url: str, out_dir: Path, *, days: int = 30,
                  say: Callable[[str], None] = print, scope: Scope = SINGLE_WARD) -> list[Path]:
    """Analyse the last `days` (local days, today included) of the ward `scope`; return the files
    written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    today = datetime.now(LOCAL).date()
    period = Period.days(today - timedelta(days=days - 1), today)
    with psycopg.connect(url, connect_timeout=10) as conn:
        survey = compute_survey(conn, period, scope=scope)
    result = survey.result
    cells = result.classified[result.classified["window"] == "all"]
    weak = int(cells["status"].isin(["dead_spot", "confirmed_weak"]).sum())
    count = format_number(survey.measurements, "vi", decimals=0)
    say(f"  {count} phép đo, {len(cells)} ô x nhà mạng, {weak} yếu/lõm đã xác nhận,"
        f" {len(result.weak_areas)} vùng yếu, {len(result.proposals)} đề xuất (measurements,"
        f" cell x carrier rows, confirmed weak, weak areas, proposals)")
    gpkg = out_dir / "survey.gpkg"
    gpkg.unlink(missing_ok=True)
    write_geopackage(gpkg, **survey.layers())
    report = survey.report_input
    html_path = out_dir / "map.html"
    html_path.write_text(render_html(report.cells, report.weak_areas, report.scorecards,
                                     report.routes, report.boundary, lang="vi", inline=True),
                         encoding="utf-8")
    written = [gpkg, html_path]
    for carrier in REPORT_CARRIERS:
        pdf = build_report(report, carrier=carrier, lang="vi", ward_name=survey.ward_name,
                           period_start=period.first, period_end=period.last, exports=[gpkg])
        path = out_dir / f"report-{carrier or 'ward'}.pdf"
        path.write_bytes(pdf)
        written.append(path)
    return written
