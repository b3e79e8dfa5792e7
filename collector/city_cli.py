"""`lomsong city refresh`: recompute the city page's per-ward roll-ups (`collector.city_rollup`).

Argparse only at import time. Without options only the wards that are due are recomputed (new
measurements, changed service points or outline, never computed, or a new day); ``--all``
recomputes every ward, ``--ward`` only the wards named.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             db_options: argparse.ArgumentParser) -> None:
    """Add `city`; `db_options` is the shared ``--database-url``/``--demo`` parent parser."""
    parser = sub.add_parser("city", help="số liệu toàn thành phố (the city's figures)")
    cmds = parser.add_subparsers(dest="city_command", required=True)
    ref = cmds.add_parser(
        "refresh", parents=[db_options],
        help="tính lại số liệu tổng hợp theo phường (recompute the per-ward roll-ups)")
    ref.add_argument("--all", dest="every_ward", action="store_true",
                     help="tính lại mọi phường (recompute every ward, not only those due)")
    ref.add_argument("--ward", dest="wards", action="append", metavar="CODE",
                     help="chỉ phường này, lặp lại được (only this ward; repeatable)")
    ref.set_defaults(handler=_refresh)


def _refresh(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.collector.city_rollup import refresh
    from lomsong.collector.cli import database_from_args, settings_from_args
    from lomsong.collector.dashboard import snapshot_key, survey_config
    from lomsong.collector.storage.scope import Scope

    try:
        settings = settings_from_args(args)
        config = survey_config(settings)
    except ValueError as exc:
        print(f"lomsong: {exc}", file=sys.stderr)
        return 1
    # the analyses are kept for the dashboard when they are signed with the collector's key
    keep_key = snapshot_key(settings) if settings.survey_keep else ""
    with database_from_args(args) as url, psycopg.connect(url, autocommit=True) as conn:
        report = refresh(conn, Scope.all_wards(), config=config, every_ward=args.every_ward,
                         codes=args.wards, keep_key=keep_key)
    for code in report.refreshed:
        print(code)
    print(f"# {report}", file=sys.stderr)
    return 0
