"""One evaluation of the alerts: find conditions, keep them in `alerts`, send what is new.

Grouping: each subscription gets at most one message per quiet period (`quiet_s`), listing every
alert opened since its last message (at most `max_per_message`; the rest wait for the next one),
so a bad night is one message, not a hundred. Idempotent: an alert is recorded as delivered on a
subscription only after the message went out, and never sent twice on it; a failed delivery is
tried again at the next run. Runs hold an advisory lock, so the CLI and `lomsong serve` (or several
collector processes) never evaluate at the same time.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg

from lomsong.analysis.thresholds import Thresholds
from lomsong.collector.alerts.deliver import (
    DeliveryFailed,
    SmtpSettings,
    send_email,
    send_webhook,
)
from lomsong.collector.storage.alerts import (
    AlertRow,
    Subscription,
    find_conditions,
    list_subscriptions,
    mark_delivered,
    sync_alerts,
    undelivered,
)
from lomsong.maps.i18n import translator
from lomsong.maps.labels import label

__all__ = ["AlertRules", "RunReport", "run_alerts"]

log = logging.getLogger(__name__)
_LOCK_KEY = 0x6C6F6D616C657274  # "lomalert"
_LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class AlertRules:
    below_runs: int = 5  # a service point's last N tests for a carrier all below the target
    lookback_days: int = 7  # ... among the tests of the last days
    silent_h: float = 6.0  # a probe not heard from for this long
    backlog: int = 1_000  # a probe's spool holding this many records
    quiet_s: float = 3_600.0  # at most one message per subscription in this time
    max_per_message: int = 100


@dataclass(frozen=True)
class RunReport:
    ran: bool  # False when another evaluation held the lock
    open_alerts: int
    messages: int
    quiet: int
    failed: int


def _message(alerts: list[AlertRow]) -> tuple[str, str]:
    vi, en = translator("vi"), translator("en")
    subject = (vi("lomsong: {n} new alerts").format(n=len(alerts)) + " / "
               + en("lomsong: {n} new alerts").format(n=len(alerts)))
    lines = [f"- {label('alert_kind', a.kind, vi)} ({label('alert_kind', a.kind, en)}): "
             f"{a.detail} [{a.opened_at.astimezone(_LOCAL):%Y-%m-%d %H:%M}]" for a in alerts]
    return subject, "\n".join(lines) + "\n"


def _payload(alerts: list[AlertRow], now: datetime) -> bytes:
    return json.dumps({"sent_at": now.isoformat(), "alerts": [
        {"id": a.id, "kind": a.kind, "key": a.key, "ward_code": a.ward_code,
         "carrier": a.carrier, "detail": a.detail, "opened_at": a.opened_at.isoformat()}
        for a in alerts]}, ensure_ascii=False).encode()


def _send(sub: Subscription, alerts: list[AlertRow], now: datetime, smtp: SmtpSettings | None,
          transport: httpx.BaseTransport | None, sleep: Callable[[float], None]) -> None:
    if sub.channel == "email":
        if smtp is None:
            raise DeliveryFailed("smtp: LOMSONG_SMTP_HOST is not set")
        subject, body = _message(alerts)
        send_email(smtp, sub.target, subject, body)
    else:
        send_webhook(sub.target, sub.secret or "", _payload(alerts, now), transport=transport,
                     sleep=sleep)


def run_alerts(conn: psycopg.Connection[Any], rules: AlertRules, thresholds: Thresholds,
               smtp: SmtpSettings | None, now: datetime, *,
               transport: httpx.BaseTransport | None = None,
               sleep: Callable[[float], None] = time.sleep) -> RunReport:
    """Evaluate and deliver once on `conn` (autocommit); see the module's docstring."""
    locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (_LOCK_KEY,)).fetchone()
    if not locked or not locked[0]:
        return RunReport(False, 0, 0, 0, 0)
    try:
        targets = {name: t.down_mbps for name, t in thresholds.access.items()
                   if t.down_mbps is not None}
        conditions = find_conditions(
            conn, now=now, today=now.astimezone(_LOCAL).date(), runs=rules.below_runs,
            since=now - timedelta(days=rules.lookback_days), targets=targets,
            silent_before=now - timedelta(hours=rules.silent_h), backlog=rules.backlog)
        sync_alerts(conn, conditions, now)
        messages = quiet = failed = 0
        for sub in list_subscriptions(conn):
            if sub.last_sent_at and (now - sub.last_sent_at).total_seconds() < rules.quiet_s:
                quiet += 1
                continue
            alerts = undelivered(conn, sub, rules.max_per_message)
            if not alerts:
                continue
            try:
                _send(sub, alerts, now, smtp, transport, sleep)
            except DeliveryFailed as exc:
                log.warning("alert delivery to %s failed: %s", sub.username, exc)
                failed += 1
                continue
            mark_delivered(conn, sub, [a.id for a in alerts], now)
            messages += 1
        return RunReport(True, len(conditions), messages, quiet, failed)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
