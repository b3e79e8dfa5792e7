"""Alerts wired to the collector's settings: one run on a connection, or a periodic task."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import psycopg
from fastapi.concurrency import run_in_threadpool
from psycopg_pool import ConnectionPool

from lomsong.analysis.thresholds import load_thresholds
from lomsong.collector.alerts.deliver import SmtpSettings
from lomsong.collector.alerts.run import AlertRules, RunReport, run_alerts
from lomsong.collector.settings import Settings

__all__ = ["alerts_forever", "rules_of", "run_once", "smtp_of"]

log = logging.getLogger(__name__)


def rules_of(settings: Settings) -> AlertRules:
    return AlertRules(below_runs=settings.alert_below_runs, silent_h=settings.alert_silent_h,
                      backlog=settings.alert_backlog, quiet_s=settings.alert_quiet_s)


def smtp_of(settings: Settings) -> SmtpSettings | None:
    if not settings.smtp_host:
        return None
    return SmtpSettings(host=settings.smtp_host, port=settings.smtp_port,
                        sender=settings.smtp_from, starttls=settings.smtp_starttls,
                        username=settings.smtp_user, password=settings.smtp_password,
                        timeout_s=30.0)


def run_once(conn: psycopg.Connection[object], settings: Settings) -> RunReport:
    return run_alerts(conn, rules_of(settings), load_thresholds(), smtp_of(settings),
                      datetime.now(UTC))


async def alerts_forever(pool: ConnectionPool, settings: Settings) -> None:
    """Evaluate every `settings.alert_interval_s` until cancelled; a failed run is logged."""
    while True:
        await asyncio.sleep(settings.alert_interval_s)

        def once() -> RunReport:
            with pool.connection() as conn:
                return run_once(conn, settings)

        try:
            report = await run_in_threadpool(once)
            log.info("alerts: %s", report)
        except (psycopg.Error, OSError) as exc:
            log.warning("alerts: evaluation failed: %s", exc)
