"""Sending one grouped alert message: e-mail over SMTP, or a signed webhook retried with backoff.

Webhook bodies are JSON; the header ``X-Lomsong-Signature: t=<unix time>,v1=<hex>`` carries an
HMAC-SHA256 of ``"<t>.<body>"`` under the subscription's secret, so a receiver checks both the
origin and the freshness (as Stripe's webhooks do).

Example
-------
>>> signature("k" * 32, b'{"a":1}', 1700000000)
't=1700000000,v1=6935b796c0fec66e5dee52c86c7fd1218a424c32f1adb239ff2893c31e54f033'
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

import httpx

__all__ = ["SIGNATURE_HEADER", "DeliveryFailed", "SmtpSettings", "send_email", "send_webhook",
           "signature"]

SIGNATURE_HEADER = "X-Lomsong-Signature"


class DeliveryFailed(Exception):
    """The message could not be delivered (after the retries); it will be tried again later."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    starttls: bool
    username: str | None
    password: str | None
    timeout_s: float


def send_email(smtp: SmtpSettings, to: str, subject: str, body: str) -> None:
    """Send a plain-text message; `DeliveryFailed` on any SMTP or network error."""
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
            if smtp.starttls:
                client.starttls()
            if smtp.username and smtp.password:
                client.login(smtp.username, smtp.password)
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"smtp {smtp.host}:{smtp.port}: {exc}") from exc


def signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def send_webhook(url: str, secret: str, body: bytes, *, attempts: int = 4,
                 first_backoff_s: float = 1.0, timeout_s: float = 10.0,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> int:
    """POST `body` signed; retry (backoff doubling) on network errors, 429 and 5xx.

    Returns how many attempts it took; `DeliveryFailed` after the last one. A 4xx other than 429
    is not retried (the receiver refused the message).
    """
    last = ""
    with httpx.Client(timeout=timeout_s, transport=transport, follow_redirects=False) as client:
        for attempt in range(1, attempts + 1):
            headers = {"Content-Type": "application/json",
                       SIGNATURE_HEADER: signature(secret, body, int(time.time()))}
            try:
                answer = client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if answer.is_success:
                    return attempt
                last = f"HTTP {answer.status_code}"
                if answer.status_code < 500 and answer.status_code != 429:
                    break
            if attempt < attempts:
                sleep(first_backoff_s * 2 ** (attempt - 1))
    raise DeliveryFailed(f"webhook {url}: {last}")
