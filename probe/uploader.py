"""Send spooled measurements to the collector; delete them only once it acknowledged them.

Contract (``POST {collector}/api/v1/measurements``, bearer token, body ``{"measurements": [...],
"sent_at": ..., "boot_id": ..., "monotonic_s": ...}``, at most 5,000 records):

- 200: every record of the batch is safe at the collector -> ack (delete) them all;
- 422: nothing was stored; the records named by ``errors[].index`` are quarantined (rejected), the
  others stay pending and go again; an error without an index means the envelope was bad: stop;
- 401/403: the token is wrong: stop, keep everything;
- 413: halve the batch and retry (a single record still too large is quarantined);
- 429, 5xx, network errors, timeouts: keep everything, back off (honouring ``Retry-After``).

Example
-------
>>> import httpx
>>> ok = httpx.MockTransport(lambda r: httpx.Response(200, json={"received": 0}))
>>> client = CollectorClient("http://collector.invalid", "t0ken", transport=ok)
>>> Backoff(base_s=1, cap_s=60).delay(attempt=3, retry_after_s=5.0)
5.0
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

import httpx

from lomsong.probe import clock
from lomsong.probe.record import Measurement
from lomsong.probe.spool import Spool

__all__ = [
    "MAX_BATCH",
    "Accepted",
    "Backoff",
    "CollectorClient",
    "FieldError",
    "Invalid",
    "Outcome",
    "RetryLater",
    "TooLarge",
    "Unauthorized",
    "UploadReport",
    "upload_pending",
]

MAX_BATCH: Final = 5_000
DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=10.0)
PATH: Final = "/api/v1/measurements"
STATUS_PATH: Final = "/api/v1/probes/status"
SERVERS_PATH: Final = "/api/v1/probes/servers"
SCHEDULE_PATH: Final = "/api/v1/probes/schedule"
_GET_MAX_BYTES: Final = 65_536


@dataclass(frozen=True, slots=True)
class Accepted:
    received: int
    stored: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class FieldError:
    index: int | None
    field: str | None
    message: str


@dataclass(frozen=True, slots=True)
class Invalid:
    detail: str
    errors: tuple[FieldError, ...]


@dataclass(frozen=True, slots=True)
class Unauthorized:
    status: int
    detail: str


@dataclass(frozen=True, slots=True)
class TooLarge:
    detail: str


@dataclass(frozen=True, slots=True)
class RetryLater:
    status: int | None
    retry_after_s: float | None
    detail: str


Outcome = Accepted | Invalid | Unauthorized | TooLarge | RetryLater


def _retry_after_s(value: str | None, now: datetime) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
    except (TypeError, ValueError):
        return None


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _int(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class CollectorClient:
    """Talks to one collector. Pass `transport` (e.g. `httpx.MockTransport`) to swap the network."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        boot_id: Callable[[], str | None] = clock.boot_id,
        monotonic_s: Callable[[], float] = clock.monotonic_s,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.base_url = url.rstrip("/")
        self.url = self.base_url + PATH
        self._http = httpx.Client(
            transport=transport,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        self._boot_id = boot_id
        self._monotonic_s = monotonic_s
        self._now = now

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CollectorClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def envelope(self, measurements: Sequence[Measurement]) -> str:
        """The JSON request body for one batch."""
        records = ",".join(m.model_dump_json() for m in measurements)
        sent_at = json.dumps(self._now().astimezone(UTC).isoformat())
        return (
            f'{{"measurements":[{records}],"sent_at":{sent_at},'
            f'"boot_id":{json.dumps(self._boot_id())},"monotonic_s":{json.dumps(self._monotonic_s())}}}'
        )

    def send(self, measurements: Sequence[Measurement]) -> Outcome:
        """POST one batch and classify the answer; never raises for network trouble."""
        if not 0 < len(measurements) <= MAX_BATCH:
            raise ValueError(f"batch size {len(measurements)} outside 1..{MAX_BATCH}")
        try:
            response = self._http.post(self.url, content=self.envelope(measurements))
        except httpx.TransportError as exc:
            return RetryLater(None, None, f"{type(exc).__name__}: {exc}")
        status, body = response.status_code, _body(response)
        detail = str(body.get("detail") or response.reason_phrase or status)
        if status == 200:
            return Accepted(_int(body, "received"), _int(body, "stored"), _int(body, "duplicates"))
        if status == 422:
            errors = body.get("errors")
            parsed = tuple(
                FieldError(
                    e.get("index") if isinstance(e.get("index"), int) else None,
                    e.get("field") if isinstance(e.get("field"), str) else None,
                    str(e.get("message", "")),
                )
                for e in (errors if isinstance(errors, list) else [])
                if isinstance(e, dict)
            )
            return Invalid(detail, parsed)
        if status in (401, 403):
            return Unauthorized(status, detail)
        if status == 413:
            return TooLarge(detail)
        retry_after = _retry_after_s(response.headers.get("Retry-After"), self._now())
        return RetryLater(status, retry_after, f"HTTP {status}: {detail}")

    def send_status(self, body: dict[str, Any]) -> int | None:
        """POST this probe's status to ``/api/v1/probes/status``; the HTTP status code, or None
        when the collector could not be reached (a status report is best effort, never retried)."""
        try:
            response = self._http.post(self.base_url + STATUS_PATH, content=json.dumps(body))
        except httpx.TransportError:
            return None
        return response.status_code

    def get_servers(self) -> object:
        """GET the city's iperf3 servers (``/api/v1/probes/servers``): the decoded JSON body, or
        None when the collector could not be reached, did not answer 200, or sent more than 64 KiB
        or no JSON (the caller validates the body)."""
        return self._get_json(SERVERS_PATH)

    def get_schedule(self) -> object:
        """GET this probe's re-test requests (``/api/v1/probes/schedule``), as `get_servers`."""
        return self._get_json(SCHEDULE_PATH)

    def _get_json(self, path: str) -> object:
        try:
            response = self._http.get(self.base_url + path)
        except httpx.TransportError:
            return None
        if response.status_code != 200 or len(response.content) > _GET_MAX_BYTES:
            return None
        try:
            body: object = response.json()
        except ValueError:
            return None
        return body


@dataclass
class Backoff:
    """Exponential backoff with full jitter, capped; a server's Retry-After wins (up to the cap)."""

    base_s: float = 2.0
    cap_s: float = 300.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, *, attempt: int, retry_after_s: float | None) -> float:
        if retry_after_s is not None:
            return min(retry_after_s, self.cap_s)
        return self.rng.uniform(0, min(self.cap_s, self.base_s * 2 ** (attempt - 1)))


@dataclass
class UploadReport:
    """What one drain achieved; `stopped` names why it ended early (None: spool drained)."""

    batches: int = 0
    acked: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    retries: int = 0
    stopped: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.stopped is None


def upload_pending(
    spool: Spool,
    client: CollectorClient,
    *,
    batch_size: int = 500,
    max_retries: int = 3,
    backoff: Backoff | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> UploadReport:
    """Drain the spool batch by batch until it is empty or an error stops it (see module doc)."""
    backoff = backoff or Backoff()
    size = max(1, min(batch_size, MAX_BATCH))
    report, attempt = UploadReport(), 0
    while batch := spool.batch(size):
        outcome = client.send(batch)
        ids = [str(m.id) for m in batch]
        match outcome:
            case Accepted(_, stored, duplicates):
                report.acked += spool.ack(ids)
                report.stored += stored
                report.duplicates += duplicates
                report.batches += 1
                attempt = 0
                spool.record_upload(success=True)
                continue
            case Invalid(detail, errors) if errors and all(
                e.index is not None and 0 <= e.index < len(batch) for e in errors
            ):
                reasons: dict[str, list[str]] = {}
                for e in errors:
                    assert e.index is not None
                    reasons.setdefault(ids[e.index], []).append(f"{e.field}: {e.message}")
                for record_id, why in reasons.items():
                    report.rejected += spool.reject([record_id], "; ".join(why))
                continue
            case Invalid(detail, _):
                report.stopped, report.message = "envelope_rejected", detail
            case Unauthorized(status, detail):
                report.stopped, report.message = "unauthorized", f"HTTP {status}: {detail}"
            case TooLarge(detail) if len(batch) > 1:
                size = max(1, len(batch) // 2)
                continue
            case TooLarge(detail):
                report.rejected += spool.reject(ids, f"HTTP 413 for a single record: {detail}")
                continue
            case RetryLater(_, retry_after_s, detail):
                attempt += 1
                if attempt <= max_retries:
                    report.retries += 1
                    spool.record_upload(success=False, error=detail)
                    sleep(backoff.delay(attempt=attempt, retry_after_s=retry_after_s))
                    continue
                report.stopped, report.message = "gave_up", detail
        spool.record_upload(success=False, error=f"{report.stopped}: {report.message}")
        break
    return report
