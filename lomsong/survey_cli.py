"""`lomsong analyze` and `lomsong report`: the survey of a period, as a GeoPackage or a PDF.

Both read the collector's database by the one rule (`collector.cli`: ``--database-url``, else
``LOMSONG_DATABASE_URL``, else the embedded database; ``--demo`` for the demo's) and analyse it
exactly as the dashboard does (`collector.survey.compute_survey`: the measurements of the period,
the service points and the ward stored there). ``--input`` reads a file instead: measurements for
`analyze`, the GeoPackage `analyze` wrote for `report`.

The period has one meaning everywhere (`analysis.period`): ``--from``/``--to`` are local dates
(Asia/Ho_Chi_Minh), the ``--to`` day included, or exact ISO date-times with their offset.
Only argparse and the standard library are imported here; the handlers import the rest.

Example
-------
``lomsong analyze --from 2026-11-01 --to 2026-11-30 --out survey.gpkg``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lomsong.collector.cli import database_options
from lomsong.errors import UsageError
from lomsong.maps.cli import check_output, language_arg
from lomsong.maps.codes import REPORT_CARRIERS
from lomsong.probe.carriers import carrier_arg

__all__ = ["register"]



def _period_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--from", dest="start", metavar="WHEN",
                        help="đầu kỳ: ngày YYYY-MM-DD (giờ Việt Nam) hoặc ngày giờ ISO có múi giờ; "
                             "mặc định 30 ngày trước --to (start: local date, or ISO date-time "
                             "with offset; default 30 days before --to)")
    parent.add_argument("--to", dest="end", metavar="WHEN",
                        help="cuối kỳ, tính cả ngày này; mặc định hôm nay (end: this local day "
                             "included, or an exact ISO date-time; default today)")
    parent.add_argument("--ward-code", metavar="CODE", default=None,
                        help="mã phường/xã 5 số trong CSDL nhiều phường (the ward's 5-digit code "
                             "in a city database; default: the database's single ward)")
    return parent


def ward_scope(conn: Any, code: str | None) -> Any:
    """The `Scope` of ``--ward-code`` in the database of `conn`: that ward (which must exist when
    the database has wards), or with no code the database's one ward; several wards and no code
    is a usage error that lists them."""
    from lomsong.collector.storage.scope import Scope
    from lomsong.collector.storage.wards import list_wards

    wards = list_wards(conn, Scope.all_wards())
    listed = ", ".join(f"{w.code} ({w.name})" for w in wards[:20]) + (" ..." if len(wards) > 20 else "")
    if code is not None:
        if wards and code not in {w.code for w in wards}:
            raise UsageError(f"--ward-code {code}: không có phường/xã này trong CSDL; có: {listed} "
                             f"(no such ward in the database; it has: {listed})")
        return Scope.ward(code)
    if len(wards) > 1:
        raise UsageError(f"--ward-code: CSDL có {len(wards)} phường/xã, hãy chọn một: {listed} "
                         f"(the database holds {len(wards)} wards, choose one)")
    return Scope.ward(wards[0].code if wards else None)


def _no_database_with_input(args: argparse.Namespace) -> None:
    if args.input is not None and (args.database_url or args.demo is not None):
        raise UsageError("--input đọc tệp, không dùng cùng --database-url/--demo "
                         "(--input reads a file; do not combine it with --database-url/--demo)")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `analyze` and `report` to the `lomsong` command."""
    db_options, period = database_options(), _period_options()
    p = sub.add_parser(
        "analyze", parents=[db_options, period],
        help="phân tích khảo sát: ô yếu, vùng lõm, điểm phục vụ, đề xuất (analyse a survey)",
        description="Phân tích một kỳ từ CSDL (hoặc một tệp đo) như bảng điều khiển, ghi "
                    "GeoPackage cho QGIS, lomsong map và lomsong report. (Analyse a period from "
                    "the database, or a measurements file, as the dashboard does; write a "
                    "GeoPackage.)")
    p.add_argument("--input", type=Path, metavar="FILE",
                   help="tệp đo đã xuất thay cho CSDL; không có --from/--to thì lấy cả tệp "
                        "(measurements export instead of the database: geojson, gpkg, csv, "
                        "jsonl; the whole file without --from/--to)")
    p.add_argument("--sites", type=Path, metavar="FILE",
                   help="điểm phục vụ thay cho các điểm lưu trong CSDL (service points "
                        "geojson/csv, instead of those stored in the database)")
    p.add_argument("--resolution", type=int, default=10, help="độ phân giải H3 (default 10)")
    p.add_argument("--radius-m", type=float, default=150.0,
                   help="bán kính quanh điểm phục vụ, m (radius around service points)")
    p.add_argument("--thresholds", type=Path, metavar="TOML",
                   help="ngưỡng riêng của phường (ward threshold override)")
    p.add_argument("--out", type=Path, default=Path("survey.gpkg"),
                   help="tệp GeoPackage (GeoPackage output, default survey.gpkg)")
    p.add_argument("--aggregate-in-db", action="store_true",
                   help="thống kê ô trong CSDL, cho hàng triệu phép đo (cell statistics in SQL, "
                        "for millions of measurements; resolution 10)")
    p.set_defaults(handler=_analyze)

    r = sub.add_parser(
        "report", parents=[db_options, period],
        help="báo cáo PDF cho nhà mạng (PDF report for a carrier)",
        description="Phân tích kỳ --from..--to từ CSDL như bảng điều khiển và ghi báo cáo PDF, "
                    "kèm GeoPackage cùng tên. (Analyse the period from the database as the "
                    "dashboard does and write the PDF report, with its GeoPackage beside it.)")
    names = ", ".join(REPORT_CARRIERS)
    r.add_argument("--carrier", type=carrier_arg(REPORT_CARRIERS), required=True,
                   help=f"nhà mạng, viết thế nào cũng được, vd. Viettel, VinaPhone "
                        f"(carrier, any usual name): {names}")
    r.add_argument("--lang", type=language_arg, default="vi",
                   help="ngôn ngữ: vi hoặc en (language), mặc định vi")
    r.add_argument("--input", type=Path, default=None,
                   help="GeoPackage của lomsong analyze thay cho CSDL; kỳ chỉ là nhãn "
                        "(analysis GeoPackage instead of the database; the period is a label)")
    r.add_argument("--ward", default=None,
                   help="tên phường (ward name; default: the one stored in the database)")
    r.add_argument("--thresholds", type=Path, default=None, metavar="TOML",
                   help="ngưỡng riêng của phường (như khi chạy lomsong analyze), để phần phương "
                        "pháp nêu đúng (the ward's threshold override, as given to analyze)")
    r.add_argument("--export", type=Path, action="append", default=[],
                   help="tệp dữ liệu xuất đưa vào phụ lục, lặp lại được "
                        "(data export listed with its SHA-256; repeatable)")
    r.add_argument("--streets", type=Path, default=None, metavar="FILE",
                   help="lớp đường phố của phường (GeoJSON, GeoPackage, Shapefile nén zip), vd. "
                        "trích từ OpenStreetMap (the ward's streets, e.g. an OSM extract)")
    r.add_argument("--groups", type=Path, default=None, metavar="FILE",
                   help="ranh giới hoặc điểm các tổ dân phố, mỗi đối tượng có tên "
                        "(residential groups: named outlines or points)")
    r.add_argument("--letter", type=Path, default=None, metavar="TOML",
                   help="thông tin công văn của phường: cơ quan ban hành, số, nơi nhận, người "
                        "ký (the ward's letter settings; see lomsong.maps.letter)")
    r.add_argument("--tiles", default=None, metavar="URL",
                   help="máy chủ ảnh nền dạng https://.../{z}/{x}/{y}.png, tùy chọn (optional "
                        "raster tile server under the maps; needs --tiles-attribution)")
    r.add_argument("--tiles-attribution", default="", metavar="TEXT",
                   help="ghi nguồn ảnh nền theo giấy phép (the tiles' required attribution)")
    r.add_argument("--tiles-cache", type=Path, default=Path.home() / ".cache" / "lomsong" /
                   "tiles", metavar="DIR", help="thư mục lưu ảnh nền (tile cache folder)")
    r.add_argument("--out", type=Path, required=True, help="tệp PDF (PDF file)")
    r.set_defaults(handler=_report)


def _analyze(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.analysis.export import write_geopackage
    from lomsong.analysis.load import read_measurements
    from lomsong.analysis.period import Period
    from lomsong.analysis.pipeline import SurveyConfig, run_survey
    from lomsong.analysis.sites import read_service_points
    from lomsong.analysis.thresholds import load_thresholds
    from lomsong.collector.cli import database_from_args
    from lomsong.collector.survey import compute_survey
    from lomsong.maps.report_input import sources_layer

    _no_database_with_input(args)
    if args.input is not None and args.aggregate_in_db:
        raise UsageError("--aggregate-in-db chỉ dùng với CSDL, không với --input "
                         "(--aggregate-in-db works on the database, not with --input)")
    whole_file = args.input is not None and args.start is None and args.end is None
    period = Period.parse(args.start, args.end)
    check_output(args.out)
    try:
        config = SurveyConfig(thresholds=load_thresholds(override=args.thresholds),
                              resolution=args.resolution, radius_m=args.radius_m)
        points = read_service_points(args.sites) if args.sites else None
        if args.input is not None:
            frame = read_measurements(args.input)
            times = frame["measured_at"]
            keep = times.notna() if whole_file else (
                (times >= period.start_utc) & (times < period.end_utc))
            frame = frame[keep].reset_index(drop=True)
            result, count = run_survey(frame, points, config), len(frame)
            layers = {**result.layers(), "sources": sources_layer(
                {str(k): int(v) for k, v in frame["source"].value_counts().items()})}
        else:
            with database_from_args(args) as url, psycopg.connect(url, connect_timeout=10) as conn:
                survey = compute_survey(conn, period, config=config, points=points,
                                        in_db=args.aggregate_in_db,
                                        scope=ward_scope(conn, args.ward_code))
            result, count, layers = survey.result, survey.measurements, survey.layers()
        args.out.unlink(missing_ok=True)
        write_geopackage(args.out, **layers)
    except ValueError as exc:
        print(f"lomsong analyze: lỗi dữ liệu (bad input): {exc}", file=sys.stderr)
        return 2
    where = "" if whole_file else f" {period.first:%d/%m/%Y}-{period.last:%d/%m/%Y},"
    print(_summary(args.out, where, count, result))
    print(_sources_line(result.sources))
    if count == 0:
        print("Không có phép đo nào trong kỳ; kiểm tra --from/--to và CSDL (--demo cho bản demo). "
              "(No measurements in the period; check --from/--to and the database.)")
    return 0


def _summary(out: Path, where: str, count: int, result: Any) -> str:
    """One line: cell x carrier pairs (the worst of the all-day and peak windows, not counted once
    per window), weak areas and, among them, dead spots."""
    from lomsong.analysis.areas import cell_status
    from lomsong.analysis.classify import WEAK
    from lomsong.maps.i18n import format_number

    pairs = cell_status(result.classified)
    weak = int(pairs["status"].isin(WEAK).sum())
    dead = int((result.weak_areas["status"] == "dead_spot").sum())
    areas, proposals, points = len(result.weak_areas), len(result.proposals), len(result.scorecards)
    return (
        f"Đã ghi {out}:{where} {format_number(count, 'vi', decimals=0)} phép đo, "
        f"{result.classified['cell'].nunique()} ô, {weak}/{len(pairs)} cặp (ô, nhà mạng) yếu, "
        f"{areas} vùng yếu (trong đó {dead} vùng lõm sóng), {proposals} đề xuất, "
        f"{points} điểm phục vụ. (Wrote {out}: {count} measurements; {weak} of {len(pairs)} "
        f"cell x carrier pairs weak; {areas} weak areas, {dead} of them dead spots; "
        f"{proposals} proposals; {points} service points.)"
    )


def _sources_line(sources: Any) -> str:
    """How many measurements came from each source and by which method (the same sentences as
    the report's method section), in Vietnamese then English."""
    from lomsong.maps.i18n import translator
    from lomsong.maps.report_text import source_sentence

    return (f"{source_sentence(sources, translator('vi'), 'vi')} "
            f"({source_sentence(sources, translator('en'), 'en')})")


def _report_layers(args: argparse.Namespace) -> dict[str, Any]:
    """The ward's streets, residential groups and letter settings named on the command line."""
    from lomsong.analysis.layers import LayerError, read_layer
    from lomsong.maps.letter import load_letter_config
    from lomsong.maps.tiles import TileError, TileSource

    layers: dict[str, Any] = {}
    for flag, kind in (("--streets", "streets"), ("--groups", "groups")):
        path = getattr(args, kind)
        if path is not None:
            try:
                layers[kind] = read_layer(path, kind)
            except LayerError as exc:
                raise UsageError(f"{flag}: không dùng được lớp bản đồ ({exc})") from exc
    if args.tiles is not None:
        try:
            layers["tiles"] = TileSource(args.tiles, args.tiles_attribution, args.tiles_cache)
        except TileError as exc:
            raise UsageError(f"--tiles: máy chủ ảnh nền không hợp lệ (bad tile server: "
                             f"{exc})") from exc
    if args.letter is not None:
        try:
            layers["letter"] = load_letter_config(args.letter)
        except ValueError as exc:
            raise UsageError(f"--letter: cấu hình công văn không hợp lệ (bad letter settings: "
                             f"{exc})") from exc
    return layers


def _report(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.analysis.export import write_geopackage
    from lomsong.analysis.period import Period
    from lomsong.analysis.pipeline import SurveyConfig
    from lomsong.analysis.thresholds import load_thresholds
    from lomsong.collector.cli import database_from_args
    from lomsong.collector.survey import compute_survey
    from lomsong.maps.cli import InputError, read_survey
    from lomsong.maps.report import build_report, check_period
    from lomsong.maps.tiles import TileError

    _no_database_with_input(args)
    if args.input is not None and (args.start is None or args.end is None):
        raise UsageError("--input cần --from và --to để ghi kỳ của báo cáo (--input needs --from "
                         "and --to: the analysis chose the data, the report names its period)")
    period = Period.parse(args.start, args.end)
    check_output(args.out)
    missing = [path for path in args.export if not path.is_file()]
    if missing:
        raise UsageError(f"--export: không tìm thấy tệp (file not found): "
                         f"{', '.join(map(str, missing))}")
    try:
        config = SurveyConfig(thresholds=load_thresholds(override=args.thresholds))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--thresholds: ngưỡng không hợp lệ (bad thresholds): {exc}") from exc
    survey: Any
    if args.input is not None:
        try:
            survey = read_survey(args.input, args.thresholds)
            ward, data_file = args.ward or "", args.input
        except InputError as exc:
            print(f"lomsong report: {exc}", file=sys.stderr)
            return 2
    else:
        with database_from_args(args) as url, psycopg.connect(url, connect_timeout=10) as conn:
            # Without --thresholds, the ward's own (stored) thresholds, as on the dashboard.
            stored = compute_survey(conn, period, config=config if args.thresholds else None,
                                    scope=ward_scope(conn, args.ward_code))
        data_file = args.out.with_suffix(".gpkg")
        data_file.unlink(missing_ok=True)
        write_geopackage(data_file, **stored.layers())
        survey, ward = stored.report_input, args.ward or stored.ward_name
    if not (ward or "").strip():
        raise UsageError("--ward: cần tên phường; dữ liệu không ghi tên phường (the ward's name "
                         "is needed: the data does not name it)")
    try:
        check_period(survey, period.first, period.last)
    except ValueError as exc:
        raise UsageError(f"--from/--to: kỳ báo cáo không có phép đo nào của dữ liệu; chọn kỳ "
                         f"đúng ({exc})") from exc
    layers = _report_layers(args)
    try:
        pdf = build_report(survey, carrier=None if args.carrier == "all" else args.carrier,
                           lang=args.lang, ward_name=ward, period_start=period.first,
                           period_end=period.last, exports=[data_file, *args.export], **layers)
    except TileError as exc:
        raise UsageError(f"--tiles: không tải được ảnh nền (cannot get the tiles: {exc})") from exc
    args.out.write_bytes(pdf)
    print(f"{args.out} ({len(pdf) / 1e3:.0f} kB)")
    return 0
