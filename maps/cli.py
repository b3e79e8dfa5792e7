"""`lomsong map` and `lomsong report`: the web map as one offline HTML file, and the PDF report.

`lomsong map` reads the GeoPackage written by ``lomsong analyze`` (layers cells, weak_areas,
service_points, proposals, and optionally walk_route and boundary). `lomsong report` reads such a
GeoPackage with ``--input`` (the period is then only a label: the analysis already chose the data),
or, without it, analyses exactly the period ``--from``..``--to`` (local days) from the collector's
database (``LOMSONG_DATABASE_URL``, else the embedded one), with the ward and service points stored
there, and writes that survey's GeoPackage beside the PDF so the annex can list its checksum.
Only argparse and the standard library are imported here; the handlers import the rest.

Example
-------
``lomsong report --carrier viettel --from 2026-11-01 --to 2026-11-30 --out viettel.pdf``
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from lomsong.maps.codes import LANGUAGES, REPORT_CARRIERS

__all__ = ["register"]

# GeoPackage layer written by `lomsong analyze` (analysis.pipeline.SurveyResult.layers) -> the
# ReportInput field it fills.
_REQUIRED_LAYERS = {"cells": "cells", "weak_areas": "weak_areas", "service_points": "scorecards",
                    "proposals": "proposals"}
_OPTIONAL_LAYERS = {"walk_route": "routes", "boundary": "boundary"}


class InputError(Exception):
    """The input GeoPackage cannot be used; the message is bilingual."""


def _language(value: str) -> str:
    if value not in LANGUAGES:
        raise argparse.ArgumentTypeError(
            f"ngôn ngữ không hợp lệ '{value}'; chọn vi hoặc en "
            f"(unknown language '{value}'; choose vi or en)")
    return value


def _carrier(value: str) -> str:
    if value not in REPORT_CARRIERS:
        names = ", ".join(REPORT_CARRIERS)
        raise argparse.ArgumentTypeError(
            f"nhà mạng không hợp lệ '{value}'; chọn một trong: {names} "
            f"(unknown carrier '{value}'; choose one of: {names})")
    return value


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"ngày không hợp lệ '{value}'; dùng dạng YYYY-MM-DD "
            f"(invalid date '{value}'; use YYYY-MM-DD)") from None


def read_survey(path: Path, thresholds: Path | None = None) -> Any:
    """Read the analysis GeoPackage into a `maps.report_input.ReportInput`; `thresholds` is the
    ward's override TOML that `lomsong analyze --thresholds` used (the method text states it)."""
    import pyogrio

    from lomsong.analysis.thresholds import load_thresholds
    from lomsong.maps.report_input import ReportInput

    try:
        rules = load_thresholds(override=thresholds)
    except (OSError, ValueError) as exc:
        raise InputError(f"ngưỡng không hợp lệ (bad thresholds): {exc}") from exc

    if not path.is_file():
        raise InputError(f"không tìm thấy tệp '{path}' (file not found: '{path}')")
    try:
        layers = {str(name) for name, _geometry in pyogrio.list_layers(path)}
    except pyogrio.errors.DataSourceError as exc:
        raise InputError(f"không đọc được GeoPackage '{path}' (cannot read GeoPackage "
                         f"'{path}'): {exc}") from exc
    missing = [name for name in _REQUIRED_LAYERS if name not in layers]
    if missing:
        raise InputError(f"'{path}' thiếu lớp {', '.join(missing)} "
                         f"('{path}' lacks layers {', '.join(missing)}); run lomsong analyze")
    frames = {field: pyogrio.read_dataframe(path, layer=name)
              for name, field in (_REQUIRED_LAYERS | _OPTIONAL_LAYERS).items() if name in layers}
    try:
        return ReportInput(**frames, thresholds=rules)
    except ValueError as exc:
        raise InputError(f"'{path}': {exc}") from exc


def _map(args: argparse.Namespace) -> int:
    from lomsong.maps.heatmap import render_html

    try:
        survey = read_survey(args.input)
    except InputError as exc:
        print(f"lomsong map: {exc}", file=sys.stderr)
        return 2
    html = render_html(survey.cells, survey.weak_areas, survey.scorecards, survey.routes,
                       survey.boundary, lang=args.lang, mode=args.mode,
                       basemap_url=args.basemap_url, inline=True)
    args.out.write_text(html, encoding="utf-8")
    print(f"{args.out} ({len(html.encode('utf-8')) / 1e6:.1f} MB)")
    return 0


def _survey_from_database(args: argparse.Namespace) -> tuple[Any, str, Path]:
    """Analyse the period from the collector's database; write its GeoPackage beside --out."""
    import psycopg

    from lomsong.analysis.export import write_geopackage
    from lomsong.collector.cli import database
    from lomsong.collector.dashboard.survey import Period, compute_survey
    from lomsong.collector.settings import Settings

    with database(Settings()) as url, psycopg.connect(url, connect_timeout=10) as conn:
        survey = compute_survey(conn, Period(args.from_date, args.to_date))
    data_file = args.out.with_suffix(".gpkg")
    data_file.unlink(missing_ok=True)
    write_geopackage(data_file, **survey.layers())
    return survey.report_input, args.ward or survey.ward_name, data_file


def _report(args: argparse.Namespace) -> int:
    from lomsong.maps.report import build_report

    if args.to_date < args.from_date:
        print(f"lomsong report: --to ({args.to_date}) trước --from ({args.from_date}) "
              f"(--to is before --from)", file=sys.stderr)
        return 2
    if args.thresholds is not None and args.input is None:
        print("lomsong report: --thresholds cần --input, GeoPackage đã phân tích với ngưỡng đó "
              "(--thresholds needs --input, the GeoPackage analysed with them)", file=sys.stderr)
        return 2
    missing = [path for path in args.export if not path.is_file()]
    if missing:
        print(f"lomsong report: không tìm thấy tệp xuất (export file not found): "
              f"{', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    try:
        if args.input is not None:
            survey = read_survey(args.input, args.thresholds)
            ward, data_file = args.ward or "", args.input
        else:
            survey, ward, data_file = _survey_from_database(args)
    except InputError as exc:
        print(f"lomsong report: {exc}", file=sys.stderr)
        return 2
    pdf = build_report(survey, carrier=None if args.carrier == "all" else args.carrier,
                       lang=args.lang, ward_name=ward or "\N{EN DASH}",
                       period_start=args.from_date, period_end=args.to_date,
                       exports=[data_file, *args.export])
    args.out.write_bytes(pdf)
    print(f"{args.out} ({len(pdf) / 1e3:.0f} kB)")
    return 0


def register(subparsers: Any) -> None:
    """Add `map` and `report` to the `lomsong` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lang", type=_language, default="vi",
                        help="ngôn ngữ: vi hoặc en (language), mặc định vi")
    parser = subparsers.add_parser(
        "map", parents=[common],
        help="bản đồ HTML chạy không cần internet (offline HTML map)")
    parser.add_argument("--input", type=Path, required=True,
                        help="GeoPackage của lomsong analyze (GeoPackage written by analyze)")
    parser.add_argument("--out", type=Path, required=True, help="tệp HTML (HTML file)")
    parser.add_argument("--mode", choices=("status", "speed"), default="status",
                        help="tô màu theo trạng thái hoặc tốc độ (colour by status or speed)")
    parser.add_argument("--basemap-url", default=None,
                        help="mẫu URL lớp nền tùy chọn (optional basemap tile URL template)")
    parser.set_defaults(handler=_map)
    parser = subparsers.add_parser(
        "report", parents=[common], help="báo cáo PDF cho nhà mạng (PDF report for a carrier)")
    parser.add_argument("--carrier", type=_carrier, required=True,
                        help=f"nhà mạng (carrier): {', '.join(REPORT_CARRIERS)}")
    parser.add_argument("--from", dest="from_date", type=_date, required=True,
                        help="ngày bắt đầu YYYY-MM-DD (period start)")
    parser.add_argument("--to", dest="to_date", type=_date, required=True,
                        help="ngày kết thúc YYYY-MM-DD (period end)")
    parser.add_argument("--input", type=Path, default=None,
                        help="GeoPackage của lomsong analyze; bỏ trống để phân tích từ CSDL "
                             "(analysis GeoPackage; omit to analyse the period from the database)")
    parser.add_argument("--ward", default=None,
                        help="tên phường (ward name; default: the one stored in the database)")
    parser.add_argument("--thresholds", type=Path, default=None, metavar="TOML",
                        help="ngưỡng riêng của phường đã dùng khi phân tích, để phần phương pháp "
                             "nêu đúng (the ward override given to lomsong analyze)")
    parser.add_argument("--export", type=Path, action="append", default=[],
                        help="tệp dữ liệu xuất đưa vào phụ lục, lặp lại được "
                             "(data export listed with its SHA-256; repeatable)")
    parser.add_argument("--out", type=Path, required=True, help="tệp PDF (PDF file)")
    parser.set_defaults(handler=_report)
