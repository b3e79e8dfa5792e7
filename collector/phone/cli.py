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

    enrol = sub.add_parser("enrol", help="liên kết đăng ký tình nguyện viên (enrolment links)")
    enrol_cmds = enrol.add_subparsers(dest="enrol_command", required=True)
    issue = enrol_cmds.add_parser("issue", help="make a signed, expiring link (printed)")
    issue.add_argument("--ward", required=True, help="the ward's name, as on the admin page")
    issue.add_argument("--site", help="a service point's id (the link then measures there)")
    issue.add_argument("--days", type=int, default=90, help="valid for this many days (90)")
    issue.add_argument("--label", default="", help="a note for the list (e.g. the campaign)")
    issue.add_argument("--base-url", help="the collector's public address (default host:port)")
    issue.set_defaults(handler=_enrol_issue)
    enrol_cmds.add_parser("list", help="list links").set_defaults(handler=_enrol_list)
    revoke = enrol_cmds.add_parser("revoke", help="revoke a link by its id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(handler=_enrol_revoke)

    posters = sub.add_parser("posters", help="áp phích mã QR cho mỗi điểm phục vụ (QR posters)")
    posters.add_argument("--ward", required=True, help="the ward's name, as on the admin page")
    posters.add_argument("--out", default=".", help="folder for the PDFs (default: here)")
    posters.add_argument("--days", type=int, default=365, help="links valid this long (365)")
    posters.add_argument("--base-url", help="the collector's public address (default host:port)")
    posters.add_argument("--lang", choices=("vi", "en"), default="vi")
    posters.set_defaults(handler=_posters)


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


def link_url(base_url: str, token: str) -> str:
    """The address a volunteer opens (the QR code's content)."""
    return f"{base_url.rstrip('/')}/do?t={token}"


def _enrol_issue(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    import psycopg

    from lomsong.collector.cli import database
    from lomsong.collector.errors import StorageError
    from lomsong.collector.phone.enrol import sign_token
    from lomsong.collector.storage.enrolments import create_enrolment
    from lomsong.collector.storage.migrate import migrate

    if not 1 <= args.days <= 3660:
        print("lomsong: --days must be between 1 and 3660", file=sys.stderr)
        return 2
    settings = settings_from_args(args)
    expires = (datetime.now(UTC) + timedelta(days=args.days)).replace(microsecond=0)
    with database(settings) as url:
        migrate(url)
        with psycopg.connect(url, autocommit=True) as conn:
            try:
                made = create_enrolment(conn, ward=args.ward, site_id=args.site,
                                        label=args.label, expires_at=expires)
            except StorageError as exc:
                print(f"lomsong: {exc}", file=sys.stderr)
                return 1
    token = sign_token(settings.secret_key, made.id, int(expires.timestamp()))
    base = args.base_url or f"http://{settings.host}:{settings.port}"
    print(f"# link {made.id} for {made.ward}" + (f" / {made.site_id}" if made.site_id else "")
          + f", valid until {expires:%Y-%m-%d %H:%M} UTC")
    print(link_url(base, token))
    return 0


def _enrol_list(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.collector.cli import database
    from lomsong.collector.storage.enrolments import list_enrolments
    from lomsong.collector.storage.scope import Scope

    with database(settings_from_args(args)) as url, psycopg.connect(url, autocommit=True) as conn:
        rows = list_enrolments(conn, scope=Scope.all_wards())  # the operator's: every ward
    for e in rows:
        state = "revoked" if e.revoked_at else "active"
        print(f"{e.id}\t{state}\t{e.ward}\t{e.site_id or '-'}\tuntil {e.expires_at:%Y-%m-%d}"
              f"\t{e.label}")
    return 0


def _enrol_revoke(args: argparse.Namespace) -> int:
    import psycopg

    from lomsong.collector.cli import database
    from lomsong.collector.storage.enrolments import revoke_enrolment
    from lomsong.collector.storage.scope import Scope

    with database(settings_from_args(args)) as url, psycopg.connect(url, autocommit=True) as conn:
        revoked = revoke_enrolment(conn, args.id, Scope.all_wards())
    if not revoked:
        print(f"lomsong: no active link {args.id}", file=sys.stderr)
        return 1
    print(f"revoked link {args.id}")
    return 0


def _posters(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta
    from pathlib import Path

    import psycopg

    from lomsong.collector.cli import database
    from lomsong.collector.errors import StorageError
    from lomsong.collector.phone.enrol import sign_token
    from lomsong.collector.phone.posters import poster_filename, poster_pdf
    from lomsong.collector.storage.enrolments import create_enrolment
    from lomsong.collector.storage.migrate import migrate
    from lomsong.collector.storage.sites import list_sites

    if not 1 <= args.days <= 3660:
        print("lomsong: --days must be between 1 and 3660", file=sys.stderr)
        return 2
    settings = settings_from_args(args)
    base = args.base_url or f"http://{settings.host}:{settings.port}"
    expires = (datetime.now(UTC) + timedelta(days=args.days)).replace(microsecond=0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with database(settings) as url:
        migrate(url)
        with psycopg.connect(url, autocommit=True) as conn:
            sites = list_sites(conn)
            if not sites:
                print("lomsong: the ward has no service points yet", file=sys.stderr)
                return 1
            try:
                links = [(site, create_enrolment(conn, ward=args.ward, site_id=site.site_id,
                                                 label="poster", expires_at=expires))
                         for site in sites]
            except StorageError as exc:
                print(f"lomsong: {exc}", file=sys.stderr)
                return 1
    for site, made in links:
        link = link_url(base, sign_token(settings.secret_key, made.id, int(expires.timestamp())))
        path = out / poster_filename(site.site_id)
        path.write_bytes(poster_pdf(site.name, args.ward, link, args.lang))
        print(f"{path}\tlink {made.id}\t{site.name}")
    return 0
