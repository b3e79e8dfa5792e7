"""`lomsong phone prefixes`, `lomsong enrol ...` and `lomsong posters`: the volunteers' phone page.

Only argparse is imported here; psycopg and the rest load inside the handlers.
"""

from __future__ import annotations

import argparse
import sys

from lomsong.collector.cli import settings_from_args

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    phone = sub.add_parser("phone", help="trang đo bằng điện thoại (the volunteers' phone page)")
    cmds = phone.add_subparsers(dest="phone_command", required=True)
    prefixes = cmds.add_parser(
        "prefixes", help="rebuild the carrier-from-address table from announced-prefix files")
    prefixes.add_argument("asn_dir", help="folder of as<N> aggregated.json files (ipverse format)")
    prefixes.set_defaults(handler=_prefixes)


def _prefixes(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime
    from pathlib import Path

    from lomsong.collector.phone.prefixes import TABLE_NAME, PrefixTableError, build_table

    settings = settings_from_args(args)
    try:
        table = build_table(Path(args.asn_dir), built_on=datetime.now(UTC).date())
    except PrefixTableError as exc:
        print(f"lomsong: {exc}", file=sys.stderr)
        return 1
    target = settings.data_dir / TABLE_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_text(table.dump(), "utf-8")
    partial.replace(target)
    print(f"{len(table)} prefixes -> {target} (restart the collector to use it)")
    return 0
