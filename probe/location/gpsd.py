"""A minimal gpsd client: ask for JSON reports and take the first usable TPV fix.

The protocol (gpsd_json(5)): the client sends ``?WATCH={"enable":true,"json":true}`` on TCP port
2947; gpsd answers with one JSON object per line (``VERSION``, ``DEVICES``, ``WATCH``, then
``TPV`` and ``SKY`` reports). A TPV with ``mode`` 2 (2D) or 3 (3D) and lat/lon is a fix.
Accuracy is ``sqrt(epx^2 + epy^2)`` when gpsd gives ``epx``/``epy``, else ``eph``; gpsd computes
these as 95 % confidence figures, so they are larger than the NMEA module's 1-sigma estimate.

`parse_tpv` is pure; `read_fix` does the socket work with an overall deadline.

Example
-------
>>> fix = parse_tpv('{"class":"TPV","mode":3,"time":"2022-09-20T05:13:47.000Z",'
...                 '"lat":60.022279983,"lon":30.236150133,"eph":17.1,"speed":0.0}')
>>> fix.lat, fix.accuracy_m, fix.time.isoformat()
(60.022279983, 17.1, '2022-09-20T05:13:47+00:00')
"""

from __future__ import annotations

import json
import math
import socket
import time
from datetime import UTC, datetime
from typing import Any, Final

from lomsong.probe.errors import ParseError, ToolError
from lomsong.probe.location.fix import Fix
from lomsong.probe.record import PositionSource

__all__ = ["DEFAULT_PORT", "WATCH_COMMAND", "parse_tpv", "read_fix"]

DEFAULT_PORT: Final = 2947
WATCH_COMMAND: Final = b'?WATCH={"enable":true,"json":true}\n'


def _number(report: dict[str, Any], key: str, source: str) -> float | None:
    value = report.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ParseError(f"TPV field {key!r} is not a number: {value!r}", source=source)
    return float(value)


def parse_tpv(line: str, source: str = "gpsd") -> Fix | None:
    """A `Fix` from one gpsd JSON line; None for other classes or a TPV without a 2D/3D fix."""
    try:
        report = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ParseError(f"not a JSON report: {exc}", source=source) from None
    if not isinstance(report, dict):
        raise ParseError("report is not a JSON object", source=source)
    if report.get("class") != "TPV":
        return None
    mode = _number(report, "mode", source)
    lat, lon = _number(report, "lat", source), _number(report, "lon", source)
    if mode is None or mode < 2 or lat is None or lon is None:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ParseError(f"TPV position out of range: {lat}, {lon}", source=source)
    when: datetime | None = None
    stamp = report.get("time")
    if stamp is not None:
        try:
            when = datetime.fromisoformat(str(stamp)).astimezone(UTC)
        except ValueError:
            raise ParseError(f"TPV time is not ISO 8601: {stamp!r}", source=source) from None
    epx, epy = _number(report, "epx", source), _number(report, "epy", source)
    accuracy = (
        math.hypot(epx, epy)
        if epx is not None and epy is not None
        else _number(report, "eph", source)
    )
    return Fix(
        time=when,
        lat=lat,
        lon=lon,
        accuracy_m=accuracy,
        source=PositionSource.GPS,
        altitude_m=_number(report, "altMSL", source) or _number(report, "alt", source),
        speed_mps=_number(report, "speed", source),
        quality=int(mode),
    )


def read_fix(
    host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, timeout_s: float = 5.0
) -> Fix | None:
    """Connect to gpsd and return the first TPV fix, or None if none came within `timeout_s`.

    Raises `ToolError` when gpsd cannot be reached. Undecodable lines are ignored (gpsd may be
    mid-restart); the deadline bounds the whole exchange.
    """
    deadline = time.monotonic() + timeout_s
    try:
        conn = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as exc:
        raise ToolError(f"cannot reach gpsd at {host}:{port}: {exc}") from exc
    with conn:
        try:
            conn.sendall(WATCH_COMMAND)
            pending = b""
            while (left := deadline - time.monotonic()) > 0:
                conn.settimeout(left)
                chunk = conn.recv(65536)
                if not chunk:
                    return None
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    try:
                        fix = parse_tpv(
                            raw.decode("utf-8", errors="replace"), f"gpsd {host}:{port}"
                        )
                    except ParseError:
                        continue
                    if fix is not None:
                        return fix
        except TimeoutError:
            return None
        except OSError as exc:
            raise ToolError(f"gpsd at {host}:{port} failed: {exc}") from exc
    return None
