"""Alerts in storage: the conditions found now, open/resolve them, subscriptions, deliveries.

Conditions are read from what is already stored: the last tests at each service point, the
probes' tokens and status reports, and the cases. Every list is bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg import sql

from lomsong.collector.errors import StorageError
from lomsong.collector.storage.cases import overdue_cases
from lomsong.collector.storage.scope import Scope
from lomsong.collector.storage.users import role_scope

__all__ = ["ALERT_KINDS", "MOBILE_CARRIERS", "AlertRow", "Condition", "Subscription",
           "add_subscription", "alert_scope", "delete_subscription", "find_conditions",
           "list_subscriptions", "mark_delivered", "sync_alerts", "undelivered",
           "user_subscriptions"]

ALERT_KINDS = ("site_below_target", "probe_silent", "spool_backlog", "case_overdue")
MAX_ROWS = 1_000
# Mobile networks whose tests at service points are watched (codes of `probe.record.Carrier`).
MOBILE_CARRIERS = ("viettel", "vnpt", "mobifone", "vietnamobile", "gmobile", "itel")
# Failures that are evidence about the network (as analysis._samples.NETWORK_FAILURES).
_NETWORK_FAILURES = ["no_service", "attach_failed", "timeout", "network_unreachable",
                     "dns_failure"]


@dataclass(frozen=True)
class Condition:
    kind: str
    key: str
    ward_code: str | None
    carrier: str | None
    detail: str


@dataclass(frozen=True)
class AlertRow:
    id: int
    kind: str
    key: str
    ward_code: str | None
    carrier: str | None
    detail: str
    opened_at: datetime


@dataclass(frozen=True)
class Subscription:
    id: int
    username: str
    role: str
    user_ward: str | None
    user_carrier: str | None
    channel: str
    target: str
    secret: str | None
    kinds: list[str]
    last_sent_at: datetime | None


def _sites_below(conn: psycopg.Connection[Any], runs: int, since: datetime,
                 targets: dict[str, float]) -> list[Condition]:
    """Service points whose last `runs` judged tests for a carrier and access were all below.

    One index range read of at most `runs` rows per (service point, carrier, access), whatever
    the size of the table (index ``measurements_site_recent`` of migration 011).
    """
    rows = conn.execute(
        "SELECT p.site_id, p.ward_code, c.carrier, t.access, count(*) FILTER (WHERE last.below)"
        " FROM service_points p CROSS JOIN unnest(%(carriers)s::text[]) AS c(carrier)"
        " CROSS JOIN unnest(%(acc)s::text[], %(tgt)s::float8[]) AS t(access, target)"
        " CROSS JOIN LATERAL (SELECT coalesce(m.error_kind = ANY(%(fail)s) OR (m.error_kind IS"
        "  NULL AND m.download_mbps < t.target), false) AS below FROM measurements m"
        "  WHERE m.site_id = p.site_id AND m.carrier = c.carrier AND m.access = t.access"
        "  AND m.kind = 'throughput_down' AND m.time >= %(since)s"
        "  AND (m.error_kind IS NULL OR m.error_kind = ANY(%(fail)s))"
        "  ORDER BY m.time DESC LIMIT %(runs)s) last"
        " GROUP BY p.site_id, p.ward_code, c.carrier, t.access"
        " HAVING count(*) = %(runs)s AND bool_and(last.below)"
        f" ORDER BY p.site_id, c.carrier, t.access LIMIT {MAX_ROWS}",
        {"fail": _NETWORK_FAILURES, "acc": list(targets), "tgt": list(targets.values()),
         "carriers": list(MOBILE_CARRIERS), "since": since, "runs": runs}).fetchall()
    return [Condition("site_below_target", f"{site}|{carrier}|{access}", ward, str(carrier),
                      f"{site} {carrier} {access}: {runs}/{runs} < {targets[str(access)]:g} Mbps")
            for site, ward, carrier, access, _n in rows]


def _probes(conn: psycopg.Connection[Any], silent_before: datetime,
            backlog: int) -> list[Condition]:
    rows = conn.execute(
        "SELECT t.name, t.ward_code, greatest(t.created_at, t.last_used_at, s.reported_at),"
        " s.queue_pending FROM (SELECT DISTINCT ON (name) * FROM api_tokens WHERE role = 'probe'"
        " AND revoked_at IS NULL ORDER BY name, created_at DESC) t"
        " LEFT JOIN probe_status s ON s.probe_name = t.name"
        f" ORDER BY t.name LIMIT {MAX_ROWS}").fetchall()
    found = []
    for name, ward, heard, pending in rows:
        if heard < silent_before:
            found.append(Condition("probe_silent", str(name), ward, None,
                                   f"{name}: {heard:%Y-%m-%d %H:%M} UTC"))
        if pending is not None and pending >= backlog:
            found.append(Condition("spool_backlog", str(name), ward, None,
                                   f"{name}: {pending} > {backlog}"))
    return found


def find_conditions(conn: psycopg.Connection[Any], *, now: datetime, today: date, runs: int,
                    since: datetime, targets: dict[str, float], silent_before: datetime,
                    backlog: int) -> list[Condition]:
    """Every alert condition that holds now, in every ward (each names its ward, if any)."""
    cases = [Condition("case_overdue", str(c.id), c.ward_code, c.carrier,
                       f"#{c.id} {c.title[:120]} ({c.state})")
             for c in overdue_cases(conn, Scope.all_wards(), today)]
    return [*_sites_below(conn, runs, since, targets), *_probes(conn, silent_before, backlog),
            *cases]


def sync_alerts(conn: psycopg.Connection[Any], conditions: list[Condition], now: datetime) -> None:
    """Open alerts for new conditions, touch those still holding, resolve the others."""
    with conn.transaction():
        conn.execute("CREATE TEMP TABLE now_alerts (kind text, key text, ward_code text,"
                     " carrier text, detail text) ON COMMIT DROP")
        with conn.cursor().copy("COPY now_alerts FROM STDIN") as copy:
            for c in conditions:
                copy.write_row((c.kind, c.key, c.ward_code, c.carrier, c.detail[:500]))
        conn.execute("UPDATE alerts a SET resolved_at = %s WHERE resolved_at IS NULL AND NOT"
                     " EXISTS (SELECT 1 FROM now_alerts n WHERE n.kind = a.kind AND"
                     " n.key = a.key)", (now,))
        conn.execute("INSERT INTO alerts (kind, key, ward_code, carrier, detail, opened_at,"
                     " seen_at) SELECT DISTINCT ON (kind, key) kind, key, ward_code, carrier,"
                     " detail, %s, %s FROM now_alerts ON CONFLICT (kind, key)"
                     " WHERE resolved_at IS NULL DO UPDATE SET seen_at = EXCLUDED.seen_at,"
                     " detail = EXCLUDED.detail", (now, now))


def add_subscription(conn: psycopg.Connection[Any], username: str, channel: str, target: str,
                     kinds: list[str], secret: str | None) -> int:
    try:
        row = conn.execute(
            "INSERT INTO alert_subscriptions (username, channel, target, secret, kinds)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (username, channel, target, secret, kinds)).fetchone()
    except psycopg.errors.ForeignKeyViolation as exc:
        raise StorageError(f"user {username!r}: no such user") from exc
    except psycopg.errors.UniqueViolation as exc:
        raise StorageError(f"{username!r} is already subscribed on {target!r}") from exc
    except psycopg.errors.CheckViolation as exc:
        raise StorageError("secret: a webhook needs a secret of 32+ characters") from exc
    assert row is not None
    return int(row[0])


def list_subscriptions(conn: psycopg.Connection[Any]) -> list[Subscription]:
    rows = conn.execute(
        "SELECT s.id, s.username, u.role, u.ward_code, u.carrier, s.channel, s.target, s.secret,"
        " s.kinds, s.last_sent_at FROM alert_subscriptions s JOIN dashboard_users u USING"
        f" (username) WHERE u.disabled_at IS NULL ORDER BY s.id LIMIT {MAX_ROWS}").fetchall()
    return [Subscription(*r) for r in rows]


def user_subscriptions(conn: psycopg.Connection[Any], username: str) -> list[Subscription]:
    rows = conn.execute(
        "SELECT s.id, s.username, u.role, u.ward_code, u.carrier, s.channel, s.target, s.secret,"
        " s.kinds, s.last_sent_at FROM alert_subscriptions s JOIN dashboard_users u USING"
        f" (username) WHERE s.username = %s ORDER BY s.id LIMIT {MAX_ROWS}",
        (username,)).fetchall()
    return [Subscription(*r) for r in rows]


def delete_subscription(conn: psycopg.Connection[Any], subscription_id: int,
                        username: str) -> bool:
    """Remove one of `username`'s own subscriptions; False when there is none such."""
    cur = conn.execute("DELETE FROM alert_subscriptions WHERE id = %s AND username = %s",
                       (subscription_id, username))
    return cur.rowcount > 0


def alert_scope(scope: Scope) -> tuple[sql.Composable, list[Any]]:
    """The alerts an account of `scope` receives: its ward's (every ward's for the city), or a
    carrier organisation's own (its service points' tests and its cases, in every ward)."""
    if scope.carrier is not None:
        return sql.SQL("a.carrier = %s"), [scope.carrier]
    return scope.where("ward_code", "a")


def undelivered(conn: psycopg.Connection[Any], sub: Subscription, limit: int) -> list[AlertRow]:
    """Open alerts of the subscribed kinds, in the user's scope, not yet sent on `sub`."""
    where, scoped = alert_scope(role_scope(sub.role, sub.user_ward, sub.user_carrier))
    rows = conn.execute(sql.SQL(
        "SELECT id, kind, key, ward_code, carrier, detail, opened_at FROM alerts a"
        " WHERE resolved_at IS NULL AND kind = ANY(%s) AND {}"
        " AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_id = a.id"
        "  AND d.subscription_id = %s) ORDER BY opened_at, id LIMIT %s").format(where),
        [sub.kinds, *scoped, sub.id, min(limit, MAX_ROWS)]).fetchall()
    return [AlertRow(*r) for r in rows]


def mark_delivered(conn: psycopg.Connection[Any], sub: Subscription, alert_ids: list[int],
                   now: datetime) -> None:
    with conn.transaction():
        conn.execute("INSERT INTO alert_deliveries (alert_id, subscription_id, sent_at)"
                     " SELECT unnest(%s::bigint[]), %s, %s ON CONFLICT DO NOTHING",
                     (alert_ids, sub.id, now))
        conn.execute("UPDATE alert_subscriptions SET last_sent_at = %s WHERE id = %s",
                     (now, sub.id))
