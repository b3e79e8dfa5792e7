"""`lomsong map`: the web map of a survey GeoPackage as one offline HTML file.

`lomsong map` reads the GeoPackage written by ``lomsong analyze`` (layers cells, weak_areas,
service_points, proposals, and optionally walk_route and boundary); `read_survey` is shared with
``lomsong report --input``. Only argparse and the standard library are imported here; the
handlers import the rest.

Example
-------
``lomsong map --input survey.gpkg --out map.html``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lomsong.maps.codes import LANGUAGES

__all__ = ["InputError", "check_output", "language_arg", "read_survey", "register"]

# GeoPackage layer written by `lomsong analyze` (analysis.pipeline.SurveyResult.layers) -> the
# ReportInput field it fills.
_REQUIRED_LAYERS = {"cells": "cells", "weak_areas": "weak_areas", "service_points": "scorecards",
                    "proposals": "proposals"}
_OPTIONAL_LAYERS = {"walk_route": "routes", "boundary": "boundary", "browser_points": "browser"}


class InputError(Exception):
    """The input GeoPackage cannot be used; the message is bilingual."""


def check_output(path: Path, flag: str = "--out") -> Path:
    """`path` if its folder exists and it is no folder itself, else `InputError` naming `flag`."""
    if path.is_dir():
        raise InputError(f"{flag}: '{path}' là thư mục, cần tên tệp "
                         f"({flag}: '{path}' is a folder; give a file name)")
    if not path.parent.is_dir():
        raise InputError(f"{flag}: thư mục '{path.parent}' không tồn tại; tạo nó trước "
                         f"({flag}: folder '{path.parent}' does not exist; create it first)")
    return path


def language_arg(value: str) -> str:
    """An argparse ``type=`` for ``--lang``."""
    if value not in LANGUAGES:
        raise argparse.ArgumentTypeError(
            f"ngôn ngữ không hợp lệ '{value}'; chọn vi hoặc en "
            f"(unknown language '{value}'; choose vi or en)")
    return value


def read_survey(path: Path, thresholds: Path | None = None) -> Any:
    """Read the analysis GeoPackage into a `maps.report_input.ReportInput`; `thresholds` is the
    ward's override TOML that `lomsong analyze --thresholds` used (the method text states it)."""
    import pyogrio

    from lomsong.analysis.thresholds import load_thresholds
    from lomsong.maps.report_input import ReportInput, sources_from_layer

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
    if "source_methods" in layers:
        frames["source_table"] = pyogrio.read_dataframe(path, layer="source_methods",
                                                        read_geometry=False)
    try:
        sources = (sources_from_layer(pyogrio.read_dataframe(path, layer="sources"))
                   if "sources" in layers else {})
        return ReportInput(**frames, thresholds=rules, sources=sources)
    except ValueError as exc:
        raise InputError(f"'{path}': {exc}") from exc


def _map(args: argparse.Namespace) -> int:
    from lomsong.maps.browser_layer import browser_options
    from lomsong.maps.heatmap import render_html

    try:
        check_output(args.out)
        survey = read_survey(args.input)
    except InputError as exc:
        print(f"lomsong map: {exc}", file=sys.stderr)
        return 2
    html = render_html(survey.cells, survey.weak_areas, survey.scorecards, survey.routes,
                       survey.boundary, lang=args.lang, mode=args.mode,
                       basemap_url=args.basemap_url, inline=True, browser=survey.browser,
                       **browser_options(survey))
    args.out.write_text(html, encoding="utf-8")
    print(f"{args.out} ({len(html.encode('utf-8')) / 1e6:.1f} MB)")
    return 0


def register(subparsers: Any) -> None:
    """Add `map` to the `lomsong` command."""
    parser = subparsers.add_parser(
        "map", help="bản đồ HTML chạy không cần internet (offline HTML map)")
    parser.add_argument("--lang", type=language_arg, default="vi",
                        help="ngôn ngữ: vi hoặc en (language), mặc định vi")
    parser.add_argument("--input", type=Path, required=True,
                        help="GeoPackage của lomsong analyze (GeoPackage written by analyze)")
    parser.add_argument("--out", type=Path, required=True, help="tệp HTML (HTML file)")
    parser.add_argument("--mode", choices=("status", "speed"), default="status",
                        help="tô màu theo trạng thái hoặc tốc độ (colour by status or speed)")
    parser.add_argument("--basemap-url", default=None,
                        help="mẫu URL lớp nền tùy chọn (optional basemap tile URL template)")
    parser.set_defaults(handler=_map)
