"""`lomsong analyze`: from measurements (file or database) to a GeoPackage for QGIS and the report.

Only argparse and the standard library are imported here; GeoPandas and psycopg load in the handler.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import geopandas as gpd

    from lomsong.analysis.pipeline import SurveyConfig, SurveyResult

__all__ = ["register"]


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"không phải ngày giờ ISO 8601 (not an ISO 8601 date/time): {text!r}"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "analyze",
        help="phân tích khảo sát: ô yếu, vùng lõm, điểm phục vụ, đề xuất (analyse a survey)",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", metavar="FILE",
                        help="tệp đo đã xuất (measurements export: geojson, gpkg, csv, jsonl)")
    source.add_argument("--database-url", metavar="URL", help="PostgreSQL URL of the collector")
    p.add_argument("--from", dest="start", type=_when, help="từ thời điểm (start, ISO 8601, UTC)")
    p.add_argument("--to", dest="end", type=_when, help="đến thời điểm (end, exclusive)")
    p.add_argument("--sites", metavar="FILE", help="điểm phục vụ (service points: geojson/csv)")
    p.add_argument("--resolution", type=int, default=10, help="H3 resolution (default 10)")
    p.add_argument("--radius-m", type=float, default=150.0,
                   help="bán kính quanh điểm phục vụ (radius around service points, m)")
    p.add_argument("--thresholds", metavar="TOML", help="ngưỡng riêng của phường (ward override)")
    p.add_argument("--out", default="survey.gpkg", help="GeoPackage output (default survey.gpkg)")
    p.add_argument("--aggregate-in-db", action="store_true",
                   help="thống kê ô trong cơ sở dữ liệu, cho hàng triệu phép đo "
                        "(cell statistics in SQL; needs --database-url, resolution 10)")
    p.set_defaults(handler=_analyze)


def _load(args: argparse.Namespace) -> gpd.GeoDataFrame:
    from lomsong.analysis.load import measurements_frame, read_measurements

    if args.input:
        frame = read_measurements(args.input)
        times = frame["measured_at"]
        keep = times.notna()
        if args.start is not None:
            keep &= times >= args.start
        if args.end is not None:
            keep &= times < args.end
        return frame[keep].reset_index(drop=True)
    import psycopg

    from lomsong.collector.storage.measurements import select_for_analysis

    with psycopg.connect(args.database_url, connect_timeout=10) as conn:
        rows = select_for_analysis(conn, start=args.start, end=args.end)
    return measurements_frame(rows)


def _in_db(
    args: argparse.Namespace, points: gpd.GeoDataFrame | None, config: SurveyConfig
) -> SurveyResult:
    import psycopg

    from lomsong.analysis.dbsurvey import run_survey_db

    with psycopg.connect(args.database_url, connect_timeout=10) as conn:
        return run_survey_db(conn, points, config, start=args.start, end=args.end)


def _analyze(args: argparse.Namespace) -> int:
    from lomsong.analysis.export import write_geopackage
    from lomsong.analysis.pipeline import SurveyConfig, run_survey
    from lomsong.analysis.sites import read_service_points
    from lomsong.analysis.thresholds import load_thresholds

    if args.aggregate_in_db and not args.database_url:
        print("--aggregate-in-db cần --database-url (needs --database-url)", file=sys.stderr)
        return 2
    try:
        thresholds = load_thresholds(override=args.thresholds)
        points = read_service_points(args.sites) if args.sites else None
        config = SurveyConfig(thresholds=thresholds, resolution=args.resolution,
                              radius_m=args.radius_m)
        if args.aggregate_in_db:
            result = _in_db(args, points, config)
            count = int(result.cells.attrs["measurements"])
        else:
            measurements = _load(args)
            result = run_survey(measurements, points, config)
            count = len(measurements)
        write_geopackage(args.out, **result.layers())
    except ValueError as exc:
        print(f"lỗi dữ liệu (bad input): {exc}", file=sys.stderr)
        return 2
    print(_summary(args.out, count, result))
    return 0


def _summary(out: str, count: int, result: SurveyResult) -> str:
    """One line: cell x carrier pairs (worst of the all-day and peak windows, not counted once
    per window), weak areas and, among them, dead spots."""
    from lomsong.analysis.areas import cell_status
    from lomsong.analysis.classify import WEAK

    pairs = cell_status(result.classified)
    weak = int(pairs["status"].isin(WEAK).sum())
    dead = int((result.weak_areas["status"] == "dead_spot").sum())
    return (
        f"Đã ghi {out}: {count} phép đo, {result.classified['cell'].nunique()} ô, "
        f"{weak}/{len(pairs)} cặp (ô, nhà mạng) yếu, {len(result.weak_areas)} vùng yếu "
        f"(trong đó {dead} vùng lõm sóng), {len(result.proposals)} đề xuất. "
        f"(Wrote {out}: {count} measurements; {weak} of {len(pairs)} cell x carrier pairs weak; "
        f"{len(result.weak_areas)} weak areas, {dead} of them dead spots; "
        f"{len(result.proposals)} proposals.)"
    )
