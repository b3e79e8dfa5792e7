"""`lomsong wards add|import|list|groups|streets|indicator|adopt`: the wards one collector serves.

Argparse only at import time.

A ward's official code, name and province come from the national list of the 2025 units
(``--units``, e.g. ``vn_2025_34_provinces_3321_wards_codes_names.json``); its outline from a
boundary GeoJSON. ``adopt`` makes the single ward of a database made before wards were records
one ward of a city database: every unassigned row gets its code, nothing is moved or lost.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             db_options: argparse.ArgumentParser) -> None:
    """Add `wards`; `db_options` is the shared ``--database-url``/``--demo`` parent parser."""
    parser = sub.add_parser("wards", help="các phường/xã của máy chủ (the wards served)")
    cmds = parser.add_subparsers(dest="wards_command", required=True)
    units_help = ("danh sách đơn vị hành chính 2025 (JSON) "
                  "(the official list of 2025 units, JSON)")
    add = cmds.add_parser("add", parents=[db_options],
                          help="thêm hoặc cập nhật một phường/xã theo mã (add or update a ward)")
    add.add_argument("code", help="mã 5 số (the 5-digit official code)")
    add.add_argument("--units", type=Path, required=True, help=units_help)
    add.add_argument("--boundary", type=Path, help="ranh giới GeoJSON (boundary GeoJSON)")
    add.add_argument("--thresholds", type=Path,
                     help="ngưỡng riêng của phường, TOML (the ward's threshold override, TOML)")
    add.set_defaults(handler=_add)
    imp = cmds.add_parser("import", parents=[db_options],
                          help="thêm phường/xã từ các tệp ranh giới (add wards from boundaries)")
    imp.add_argument("files", type=Path, nargs="+", help="ranh giới GeoJSON (boundary files)")
    imp.add_argument("--units", type=Path, required=True, help=units_help)
    imp.set_defaults(handler=_import)
    cmds.add_parser("list", parents=[db_options], help="liệt kê phường/xã (list wards)"
                    ).set_defaults(handler=_list)
    groups = cmds.add_parser(
        "groups", parents=[db_options],
        help="nạp tổ dân phố/thôn của phường (load a ward's residential groups: GeoJSON, "
             "GeoPackage or zipped Shapefile)")
    groups.add_argument("code", help="mã 5 số (the 5-digit official code)")
    groups.add_argument("file", type=Path)
    groups.add_argument("--point-radius-m", type=float, default=150.0,
                        help="bán kính cho nhóm chỉ có một điểm (radius of a group given as a "
                             "point, default 150 m)")
    groups.set_defaults(handler=_groups)
    streets = cmds.add_parser(
        "streets", parents=[db_options],
        help="nạp đường phố của phường, vẽ dưới các ô trên bản đồ (load a ward's streets, drawn "
             "under the map's cells: GeoJSON, GeoPackage or zipped Shapefile of lines)")
    streets.add_argument("code", help="mã 5 số (the 5-digit official code)")
    streets.add_argument("file", type=Path)
    streets.set_defaults(handler=_streets)
    ind = cmds.add_parser(
        "indicator", parents=[db_options],
        help="tỷ lệ tổ dân phố/thôn lõm sóng đã được phủ sóng (the residential-group indicator)")
    ind.add_argument("code", help="mã 5 số (the 5-digit official code)")
    ind.add_argument("--baseline-from", required=True, help="đầu kỳ gốc (baseline start day)")
    ind.add_argument("--baseline-to", required=True, help="cuối kỳ gốc (baseline last day)")
    ind.add_argument("--from", dest="first", required=True,
                     help="đầu kỳ hiện tại, sau khi khắc phục (current period start)")
    ind.add_argument("--to", dest="last", required=True, help="cuối kỳ hiện tại (last day)")
    ind.set_defaults(handler=_indicator)
    adopt = cmds.add_parser(
        "adopt", parents=[db_options],
        help="gán dữ liệu của CSDL một phường cho phường này (make the one-ward data this ward's)")
    adopt.add_argument("code", help="mã 5 số (the 5-digit official code)")
    adopt.set_defaults(handler=_adopt)


def _fail(message: str) -> int:
    print(f"lomsong: {message}", file=sys.stderr)
    return 1


def _save(args: argparse.Namespace, entries: list[tuple[str, str | None, str | None]]) -> int:
    """Save (code, boundary GeoJSON, thresholds TOML) entries named in the official list."""
    import psycopg

    from lomsong.collector.cli import database_from_args
    from lomsong.collector.errors import StorageError
    from lomsong.collector.storage.migrate import migrate
    from lomsong.collector.storage.wards import save_ward
    from lomsong.collector.ward_catalog import WardFileError, read_official_units

    try:
        units = read_official_units(args.units)
    except WardFileError as exc:
        return _fail(str(exc))
    unknown = [code for code, _, _ in entries if code not in units]
    if unknown:
        return _fail(f"mã không có trong danh sách chính thức (codes not in the official list "
                     f"{args.units}): {', '.join(unknown)}")
    with database_from_args(args, schema=False) as url:
        migrate(url)
        with psycopg.connect(url) as conn:
            try:
                for code, boundary, thresholds in entries:
                    u = units[code]
                    save_ward(conn, code, u.name, u.province_code, u.province_name, boundary,
                              thresholds)
            except StorageError as exc:
                conn.rollback()
                return _fail(str(exc))
    for code, _, _ in entries:
        print(f"{code}\t{units[code].name}\t{units[code].province_name}")
    return 0


def _add(args: argparse.Namespace) -> int:
    from lomsong.analysis.thresholds import load_thresholds
    from lomsong.collector.ward_catalog import WardFileError, read_ward_boundary

    boundary = None
    if args.boundary is not None:
        try:
            found = read_ward_boundary(args.boundary)
        except WardFileError as exc:
            return _fail(str(exc))
        if found.code != args.code:
            return _fail(f"{args.boundary}: ranh giới của mã {found.code}, không phải "
                         f"{args.code} (the boundary is of ward {found.code}, not {args.code})")
        boundary = found.geojson
    thresholds = None
    if args.thresholds is not None:
        try:
            thresholds = args.thresholds.read_text("utf-8")
            load_thresholds(override_text=thresholds)
        except (ValueError, OSError) as exc:
            return _fail(str(exc))
    return _save(args, [(args.code, boundary, thresholds)])


def _import(args: argparse.Namespace) -> int:
    from lomsong.collector.ward_catalog import WardFileError, read_ward_boundary

    entries: list[tuple[str, str | None, str | None]] = []
    for path in args.files:
        try:
            found = read_ward_boundary(path)
        except WardFileError as exc:
            return _fail(str(exc))
        entries.append((found.code, found.geojson, None))
    return _save(args, entries)


def _list(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.collector.cli import database_from_args
    from lomsong.collector.storage.scope import Scope
    from lomsong.collector.storage.wards import list_wards

    with database_from_args(args) as url, psycopg.connect(url, autocommit=True) as conn:
        wards = list_wards(conn, Scope.all_wards())
    for w in wards:
        outline = "boundary" if w.boundary_json else "no boundary"
        print(f"{w.code}\t{w.name}\t{w.province_name}\t{outline}")
    return 0


def _adopt(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.collector.cli import database_from_args
    from lomsong.collector.errors import StorageError
    from lomsong.collector.storage.wards import adopt_single_ward

    with database_from_args(args) as url, psycopg.connect(url, autocommit=True) as conn:
        try:
            counts = adopt_single_ward(conn, args.code)
        except StorageError as exc:
            return _fail(str(exc))
    for table, n in counts.items():
        print(f"{table}\t{n}")
    return 0


def _streets(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.analysis.layers import LayerError, read_layer
    from lomsong.collector.cli import database_from_args
    from lomsong.collector.errors import StorageError
    from lomsong.collector.storage.scope import Scope
    from lomsong.collector.storage.streets import replace_streets

    try:
        frame = read_layer(args.file, "streets")
    except LayerError as exc:
        return _fail(str(exc))
    text = frame[["name", "geometry"]].to_json(drop_id=True)
    with database_from_args(args) as url, psycopg.connect(url, autocommit=True) as conn:
        try:
            replace_streets(conn, Scope.ward(args.code, write=True), text)
        except StorageError as exc:
            return _fail(str(exc))
    print(f"{args.code}\t{len(frame)} đường phố (streets)")
    return 0


def _groups(args: argparse.Namespace) -> int:
    import json

    import psycopg
    import shapely.geometry

    from lomsong.analysis.groups import read_groups
    from lomsong.collector.cli import database_from_args
    from lomsong.collector.errors import StorageError
    from lomsong.collector.storage.groups import replace_groups
    from lomsong.collector.storage.scope import Scope

    if not 1 <= args.point_radius_m <= 2_000:
        return _fail("--point-radius-m: 1-2000")
    try:
        frame = read_groups(args.file, point_radius_m=args.point_radius_m)
    except ValueError as exc:
        return _fail(str(exc))
    rows = [(str(g), str(n), json.dumps(shapely.geometry.mapping(s)))
            for g, n, s in zip(frame["group_id"], frame["name"], frame.geometry, strict=True)]
    with database_from_args(args) as url, psycopg.connect(url, autocommit=True) as conn:
        try:
            count = replace_groups(conn, Scope.ward(args.code, write=True), rows)
        except StorageError as exc:
            return _fail(str(exc))
    print(f"{args.code}\t{count} tổ dân phố/thôn (residential groups)")
    return 0


def _indicator(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.analysis.period import Period
    from lomsong.collector.cli import database_from_args
    from lomsong.collector.indicator import ward_indicator
    from lomsong.collector.storage.scope import Scope

    baseline = Period.parse(args.baseline_from, args.baseline_to,
                            flags=("--baseline-from", "--baseline-to"))
    current = Period.parse(args.first, args.last)
    with database_from_args(args) as url, psycopg.connect(url, autocommit=True) as conn:
        found = ward_indicator(conn, Scope.ward(args.code), baseline, current)
    print(f"# {found.groups} tổ dân phố/thôn (residential groups); kỳ gốc (baseline) "
          f"{baseline.first}..{baseline.last}, hiện tại (current) {current.first}..{current.last}")
    print("carrier\tdead_at_start\tcovered\tstill_dead\tweak\tnot_proven\tshare")
    for r in found.result.itertuples(index=False):
        share = "-" if r.share is None else f"{r.share:.0%}"
        print(f"{r.carrier}\t{r.dead_at_start}\t{r.covered}\t{r.still_dead}\t{r.weak}\t"
              f"{r.not_proven}\t{share}")
    return 0
