"""The demo's deliverables from the database: survey GeoPackage, offline map, PDF reports.

The same steps a ward runs by hand (`lomsong analyze`, `lomsong map`, `lomsong report`), in one
call, on the sample ward's service points and boundary.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import psycopg
from shapely.geometry import Polygon

from analysis.export import write_geopackage
from analysis.load import measurements_frame
from analysis.pipeline import SurveyConfig, run_survey
from analysis.sites import read_service_points
from collector.storage.measurements import select_for_analysis
from lomsong import synthetic
from maps.cli import read_survey
from maps.heatmap import render_html
from maps.report import build_report

__all__ = ["write_outputs"]

REPORT_CARRIERS = (None, "viettel", "vnpt", "mobifone")


def _sample_points(path: Path) -> Path:
    """The sample ward's service points as GeoJSON (also uploadable to the dashboard)."""
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": list(p.lonlat)},
            "properties": {"site_id": p.site_id, "name": p.name, "type": p.site_type,
                           "address": p.address},
        }
        for p in synthetic.SERVICE_POINTS
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features},
                               ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_outputs(url: str, out_dir: Path, *, ward: str, days: int = 30,
                  say: Callable[[str], None] = print) -> list[Path]:
    """Analyse the last `days` of measurements in `url`; return the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    end = datetime.now(UTC)
    start = end - timedelta(days=days)
    with psycopg.connect(url, connect_timeout=10) as conn:
        rows = select_for_analysis(conn, start=start, end=end)
    measurements = measurements_frame(rows)
    points_file = _sample_points(out_dir / "service_points.geojson")
    result = run_survey(measurements, read_service_points(points_file), SurveyConfig())
    boundary = gpd.GeoDataFrame({"name": [ward]}, geometry=[Polygon(synthetic.ward_boundary())],
                                crs=4326)
    gpkg = out_dir / "survey.gpkg"
    gpkg.unlink(missing_ok=True)
    write_geopackage(gpkg, **result.layers(), boundary=boundary)
    cells = result.classified[result.classified["window"] == "all"]
    weak = int(cells["status"].isin(["dead_spot", "confirmed_weak"]).sum())
    say(f"  {len(measurements)} phép đo, {len(cells)} ô x nhà mạng, {weak} yếu/lõm đã xác nhận,"
        f" {len(result.weak_areas)} vùng yếu, {len(result.proposals)} đề xuất ({len(measurements)}"
        f" measurements, cell x carrier rows, confirmed weak, weak areas, proposals)")
    survey = read_survey(gpkg)
    written = [points_file, gpkg]
    html_path = out_dir / "map.html"
    html_path.write_text(render_html(survey.cells, survey.weak_areas, survey.scorecards,
                                     survey.routes, survey.boundary, lang="vi", inline=True),
                         encoding="utf-8")
    written.append(html_path)
    for carrier in REPORT_CARRIERS:
        pdf = build_report(survey, carrier=carrier, lang="vi", ward_name=ward,
                           period_start=start.date(), period_end=end.date(), exports=[gpkg])
        path = out_dir / f"report-{carrier or 'ward'}.pdf"
        path.write_bytes(pdf)
        written.append(path)
    return written
