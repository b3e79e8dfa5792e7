"""Pure parsers for speedtest results: sivel speedtest-cli (JSON, CSV) and the Ookla CLI (JSON).

Units differ between the tools and are converted here, once:

- sivel `speedtest-cli --json` and `--csv`: `download`/`upload` in **bit/s**;
- Ookla `speedtest -f json` (or `json-pretty`): `bandwidth` in **bytes/s**, so
  ``Mbps = bandwidth * 8 / 1e6``; `packetLoss` is already a percentage and is absent when the
  CLI could not measure it; `elapsed` is in ms.

Example
-------
>>> r = parse_speedtest_cli_json('{"download": 40e6, "upload": 5e6, "ping": 21.5, '
...     '"timestamp": "2026-11-02T03:00:00Z", "bytes_sent": 1, "bytes_received": 2, '
...     '"server": {"id": "1", "sponsor": "Viettel", "name": "Hanoi", "country": "Vietnam"}, '
...     '"client": {"isp": "Viettel"}}')
>>> r.download_mbps, r.server_label
(40.0, 'Viettel (Hanoi, Vietnam)')
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lomsong.probe.errors import ParseError

__all__ = [
    "SpeedtestResult",
    "parse_ookla_cli_json",
    "parse_speedtest_cli_csv",
    "parse_speedtest_cli_json",
]

SIVEL_TOOL = "speedtest-cli"
OOKLA_TOOL = "ookla-speedtest"
_CSV_COLUMNS = (
    "server_id", "sponsor", "server_name", "timestamp", "distance_km",
    "ping_ms", "download_bps", "upload_bps", "share", "ip_address",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SpeedtestResult:
    """One speedtest run, in lomsong units. `None` means the tool did not measure it."""

    tool: str
    measured_at: datetime
    download_mbps: float | None
    upload_mbps: float | None
    ping_ms: float | None
    jitter_ms: float | None = None
    loss_pct: float | None = None
    bytes_received: int | None = None
    bytes_sent: int | None = None
    download_s: float | None = None
    upload_s: float | None = None
    server_id: str | None = None
    server_sponsor: str | None = None
    server_name: str | None = None
    server_country: str | None = None
    server_host: str | None = None
    isp: str | None = None
    client_ip: str | None = None
    interface: str | None = None

    @property
    def server_label(self) -> str | None:
        """``"Sponsor (Name, Country)"`` as speedtest-cli prints it, or what is known of it."""
        place = ", ".join(p for p in (self.server_name, self.server_country) if p)
        if self.server_sponsor and place:
            return f"{self.server_sponsor} ({place})"
        return self.server_sponsor or place or self.server_host


def _number(value: Any, field: str, source: str, line: int | None = None) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ParseError(
            f"field {field!r} is a boolean, expected a number", source=source, line=line
        )
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParseError(
            f"field {field!r} is not a number: {value!r}", source=source, line=line
        ) from None
    if not math.isfinite(number) or number < 0:
        raise ParseError(
            f"field {field!r} is not a finite non-negative number: {value!r}",
            source=source,
            line=line,
        )
    return number


def _count(value: Any, field: str, source: str) -> int | None:
    number = _number(value, field, source)
    return None if number is None else int(number)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _timestamp(value: Any, field: str, source: str, line: int | None = None) -> datetime:
    if not isinstance(value, str):
        raise ParseError(f"field {field!r} missing or not a string", source=source, line=line)
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise ParseError(
            f"field {field!r} is not an ISO time: {value!r}", source=source, line=line
        ) from None
    if stamp.tzinfo is None:
        raise ParseError(f"field {field!r} has no time zone: {value!r}", source=source, line=line)
    return stamp.astimezone(UTC)


def _rate_mbps(bits_per_s: float | None, moved_bytes: int | None) -> float | None:
    """speedtest-cli writes 0 for a direction it skipped (`--no-upload`): that is no result."""
    if bits_per_s is None or (bits_per_s == 0 and not moved_bytes):
        return None
    return bits_per_s / 1e6


def _object(text: str, source: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        line = getattr(exc, "lineno", None)
        raise ParseError(f"not JSON: {exc}", source=source, line=line) from None
    if not isinstance(data, dict):
        raise ParseError("expected a JSON object", source=source)
    return data


def _sub(data: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParseError(f"field {key!r} is not an object", source=source)
    return value


def parse_speedtest_cli_json(text: str, source: str = "speedtest-cli --json") -> SpeedtestResult:
    """Parse sivel ``speedtest-cli --json`` output (rates in bit/s).

    Raises `ParseError` naming `source` when the text is not such a result.
    """
    data = _object(text, source)
    server = _sub(data, "server", source)
    client = _sub(data, "client", source)
    received = _count(data.get("bytes_received"), "bytes_received", source)
    sent = _count(data.get("bytes_sent"), "bytes_sent", source)
    return SpeedtestResult(
        tool=SIVEL_TOOL,
        measured_at=_timestamp(data.get("timestamp"), "timestamp", source),
        download_mbps=_rate_mbps(_number(data.get("download"), "download", source), received),
        upload_mbps=_rate_mbps(_number(data.get("upload"), "upload", source), sent),
        ping_ms=_number(data.get("ping"), "ping", source),
        bytes_received=received,
        bytes_sent=sent,
        server_id=_text(server.get("id")),
        server_sponsor=_text(server.get("sponsor")),
        server_name=_text(server.get("name")),
        server_country=_text(server.get("country")),
        server_host=_text(server.get("host")),
        isp=_text(client.get("isp")),
        client_ip=_text(client.get("ip")),
    )


def parse_speedtest_cli_csv(
    text: str, source: str = "speedtest-cli --csv"
) -> list[SpeedtestResult]:
    """Parse sivel ``speedtest-cli --csv`` lines (no header; a header line is skipped).

    Columns: Server ID, Sponsor, Server Name, Timestamp, Distance, Ping, Download (bit/s),
    Upload (bit/s), Share, IP Address. Sponsors containing commas are quoted. Any bad line
    raises `ParseError` naming its 1-based line number.
    """
    results: list[SpeedtestResult] = []
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise ParseError(f"unreadable CSV: {exc}", source=source) from None
    for number, row in enumerate(rows, start=1):
        if not row or (number == 1 and row[0].strip() == "Server ID"):
            continue
        if len(row) != len(_CSV_COLUMNS):
            raise ParseError(
                f"expected {len(_CSV_COLUMNS)} columns, got {len(row)}", source=source, line=number
            )
        cell = dict(zip(_CSV_COLUMNS, row, strict=True))
        download = _number(cell["download_bps"], "Download", source, number)
        upload = _number(cell["upload_bps"], "Upload", source, number)
        results.append(
            SpeedtestResult(
                tool=SIVEL_TOOL,
                measured_at=_timestamp(cell["timestamp"], "Timestamp", source, number),
                download_mbps=None if not download else download / 1e6,
                upload_mbps=None if not upload else upload / 1e6,
                ping_ms=_number(cell["ping_ms"], "Ping", source, number),
                server_id=_text(cell["server_id"]),
                server_sponsor=_text(cell["sponsor"]),
                server_name=_text(cell["server_name"]),
                client_ip=_text(cell["ip_address"]),
            )
        )
    return results


def parse_ookla_cli_json(text: str, source: str = "speedtest -f json") -> SpeedtestResult:
    """Parse one Ookla CLI result (``-f json`` single line or ``-f json-pretty``).

    `bandwidth` is bytes/s; latency, jitter and packetLoss may be absent (-> `None`).
    A ``"type": "log"`` or error object raises `ParseError` carrying its message.
    """
    data = _object(text, source)
    kind = data.get("type")
    if kind != "result":
        detail = data.get("message") or data.get("error") or f"type {kind!r}"
        raise ParseError(f"not an Ookla result: {detail}", source=source)
    ping = _sub(data, "ping", source)
    down = _sub(data, "download", source)
    up = _sub(data, "upload", source)
    server = _sub(data, "server", source)
    interface = _sub(data, "interface", source)

    def mbps(block: dict[str, Any], name: str) -> float | None:
        value = _number(block.get("bandwidth"), f"{name}.bandwidth", source)
        return None if value is None else value * 8 / 1e6

    def seconds(block: dict[str, Any], name: str) -> float | None:
        value = _number(block.get("elapsed"), f"{name}.elapsed", source)
        return None if value is None else value / 1000

    loss = _number(data.get("packetLoss"), "packetLoss", source)
    if loss is not None and loss > 100:
        raise ParseError(f"packetLoss above 100 %: {loss}", source=source)
    return SpeedtestResult(
        tool=OOKLA_TOOL,
        measured_at=_timestamp(data.get("timestamp"), "timestamp", source),
        download_mbps=mbps(down, "download"),
        upload_mbps=mbps(up, "upload"),
        ping_ms=_number(ping.get("latency"), "ping.latency", source),
        jitter_ms=_number(ping.get("jitter"), "ping.jitter", source),
        loss_pct=loss,
        bytes_received=_count(down.get("bytes"), "download.bytes", source),
        bytes_sent=_count(up.get("bytes"), "upload.bytes", source),
        download_s=seconds(down, "download"),
        upload_s=seconds(up, "upload"),
        server_id=_text(server.get("id")),
        server_sponsor=_text(server.get("name")),
        server_name=_text(server.get("location")),
        server_country=_text(server.get("country")),
        server_host=_text(server.get("host")),
        isp=_text(data.get("isp")),
        client_ip=_text(interface.get("externalIp")),
        interface=_text(interface.get("name")),
    )
