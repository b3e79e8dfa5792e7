"""NMEA 0183 parser: GGA, RMC, GNS, GSA, GST and ZDA from any talker (GP, GN, GL, GA, GB, ...).

Sentences are grouped by epoch (their UTC time of day); one `Fix` is emitted per epoch that has
a valid position. The date comes from RMC (or ZDA) of the same or an earlier epoch; an epoch seen
before any date has ``time=None``. Checksums are verified; lines starting with ``#`` are
comments; proprietary sentences (``$P...``, e.g. Quectel's ``$PQGSV``) and sentence types not
listed above are ignored. Empty position fields, GGA quality 0, RMC status ``V`` or GNS mode
``N`` mean "no fix".

Accuracy: when the epoch has a GST sentence, ``accuracy_m = sqrt(sigma_lat^2 + sigma_lon^2)``
(the receiver's own 1-sigma horizontal error); otherwise ``HDOP x 5 m`` (`UERE_M`), an
approximation for a single-frequency receiver; otherwise None.

Broken lines (bad checksum, unreadable field) are skipped and counted in `NmeaResult.skipped`
with their line number; with ``strict=True`` the first one raises `ParseError` instead.

Example
-------
>>> r = parse_nmea("$GPGGA,051347.00,6001.336799,N,03014.169008,E,1,05,0.9,16.5,M,18.0,M,,*59")
>>> fix = r.fixes[0]
>>> round(fix.lat, 9), round(fix.lon, 9), fix.satellites, fix.accuracy_m, fix.time
(60.022279983, 30.236150133, 5, 4.5, None)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from lomsong.probe.errors import ParseError
from lomsong.probe.location.fix import UERE_M, Fix
from lomsong.probe.record import PositionSource

__all__ = ["NmeaResult", "parse_nmea"]

_KNOT_MPS: Final = 1852 / 3600
_USED: Final = frozenset({"GGA", "RMC", "GNS", "GSA", "GST", "ZDA"})


@dataclass(frozen=True, slots=True)
class NmeaResult:
    """Fixes in log order, and the (line, reason) of every skipped broken line."""

    fixes: list[Fix]
    skipped: list[tuple[int, str]]


@dataclass(slots=True)
class _Epoch:
    clock: str
    day: date | None = None
    lat: float | None = None
    lon: float | None = None
    valid: bool = False
    invalid: bool = False
    quality: int | None = None
    satellites: int | None = None
    hdop: float | None = None
    altitude_m: float | None = None
    speed_mps: float | None = None
    sigma_m: float | None = None
    extra: dict[str, float] = field(default_factory=dict)


class _Broken(Exception):
    """A line that cannot be read; carries the reason."""


def _checked(line: str) -> tuple[str, list[str]]:
    """Verify the checksum and split ``$GPGGA,...*hh`` into ("GP", "GGA") and fields."""
    if not line.startswith(("$", "!")):
        raise _Broken("does not start with '$'")
    body, star, checksum = line[1:].partition("*")
    if not star:
        raise _Broken("no checksum")
    try:
        expected = int(checksum[:2], 16)
    except ValueError:
        raise _Broken(f"bad checksum field {checksum!r}") from None
    actual = 0
    for char in body:
        actual ^= ord(char)
    if actual != expected or len(checksum.strip()) != 2:
        raise _Broken(f"checksum mismatch (computed {actual:02X}, line says {checksum.strip()})")
    fields = body.split(",")
    return fields[0], fields[1:]


def _float(value: str, name: str) -> float | None:
    if value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise _Broken(f"{name} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise _Broken(f"{name} is not finite: {value!r}")
    return number


def _angle(value: str, hemisphere: str, degree_digits: int, name: str) -> float | None:
    if value == "" or hemisphere == "":
        return None
    number = _float(value, name)
    if number is None or number < 0:
        raise _Broken(f"{name} is not a ddmm.mmm value: {value!r}")
    degrees = int(number // 100)
    minutes = number - degrees * 100
    if minutes >= 60 or len(value.split(".")[0]) != degree_digits + 2:
        raise _Broken(f"{name} is not a ddmm.mmm value: {value!r}")
    result = degrees + minutes / 60
    if hemisphere in ("S", "W"):
        result = -result
    elif hemisphere not in ("N", "E"):
        raise _Broken(f"bad hemisphere {hemisphere!r} for {name}")
    if abs(result) > (90 if degree_digits == 2 else 180):
        raise _Broken(f"{name} out of range: {result}")
    return result


def _clock(value: str) -> time:
    try:
        whole, _, fraction = value.partition(".")
        if len(whole) != 6:
            raise ValueError
        micro = int((fraction + "000000")[:6]) if fraction else 0
        return time(int(whole[:2]), int(whole[2:4]), int(whole[4:6]), micro, tzinfo=UTC)
    except ValueError:
        raise _Broken(f"bad UTC time {value!r}") from None


def _field(fields: list[str], index: int) -> str:
    return fields[index] if index < len(fields) else ""


def _apply(kind: str, fields: list[str], epoch: _Epoch) -> date | None:
    """Update `epoch` from one sentence; return a date if the sentence carries one."""
    if kind in ("GGA", "GNS"):
        lat = _angle(_field(fields, 1), _field(fields, 2), 2, "latitude")
        lon = _angle(_field(fields, 3), _field(fields, 4), 3, "longitude")
        status = _field(fields, 5)
        if kind == "GGA":
            quality = int(_float(status, "fix quality") or 0)
            fixed = quality > 0
        else:
            quality = None
            fixed = status.strip("N") != ""
        if lat is not None and lon is not None and fixed:
            epoch.lat, epoch.lon, epoch.valid = lat, lon, True
            epoch.quality = quality if quality is not None else epoch.quality
        elif not fixed:
            epoch.invalid = True
        sats = _float(_field(fields, 6), "satellites")
        epoch.satellites = int(sats) if sats is not None else epoch.satellites
        epoch.hdop = _float(_field(fields, 7), "HDOP") or epoch.hdop
        epoch.altitude_m = _float(_field(fields, 8), "altitude")
    elif kind == "RMC":
        lat = _angle(_field(fields, 2), _field(fields, 3), 2, "latitude")
        lon = _angle(_field(fields, 4), _field(fields, 5), 3, "longitude")
        if _field(fields, 1) == "A" and lat is not None and lon is not None:
            if not epoch.valid:
                epoch.lat, epoch.lon, epoch.valid = lat, lon, True
        else:
            epoch.invalid = True
        knots = _float(_field(fields, 6), "speed")
        epoch.speed_mps = None if knots is None else knots * _KNOT_MPS
        stamp = _field(fields, 8)
        if stamp:
            try:
                return datetime.strptime(stamp, "%d%m%y").date()
            except ValueError:
                raise _Broken(f"bad date {stamp!r}") from None
    elif kind == "GSA":
        hdop = _float(_field(fields, 15), "HDOP")
        epoch.hdop = epoch.hdop or hdop
    elif kind == "GST":
        sigma_lat = _float(_field(fields, 5), "lat sigma")
        sigma_lon = _float(_field(fields, 6), "lon sigma")
        if sigma_lat is not None and sigma_lon is not None:
            epoch.sigma_m = math.hypot(sigma_lat, sigma_lon)
    elif kind == "ZDA":
        try:
            return date(int(_field(fields, 3)), int(_field(fields, 2)), int(_field(fields, 1)))
        except ValueError:
            raise _Broken("bad ZDA date") from None
    return None


def _emit(epoch: _Epoch, day: date | None) -> Fix | None:
    if not epoch.valid or epoch.lat is None or epoch.lon is None or epoch.invalid:
        return None
    when = None if day is None else datetime.combine(day, _clock(epoch.clock))
    accuracy = epoch.sigma_m
    if accuracy is None and epoch.hdop is not None:
        accuracy = epoch.hdop * UERE_M
    return Fix(
        time=when,
        lat=epoch.lat,
        lon=epoch.lon,
        accuracy_m=accuracy,
        source=PositionSource.GPS,
        altitude_m=epoch.altitude_m,
        speed_mps=epoch.speed_mps,
        satellites=epoch.satellites,
        hdop=epoch.hdop,
        quality=epoch.quality if epoch.quality is not None else 1,
    )


def parse_nmea(text: str, source: str = "NMEA", *, strict: bool = False) -> NmeaResult:
    """Parse an NMEA log into one `Fix` per epoch with a valid position (see module notes)."""
    fixes: list[Fix] = []
    skipped: list[tuple[int, str]] = []
    epoch: _Epoch | None = None
    day: date | None = None
    last_clock: time | None = None

    def close(current: _Epoch | None) -> None:
        if current is not None:
            fix = _emit(current, current.day or day)
            if fix is not None:
                fixes.append(fix)

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            address, fields = _checked(line)
            kind = address[-3:]
            if address.startswith("P") or kind not in _USED:
                continue
            stamp = _field(fields, 0) if kind != "GSA" else None
            if stamp:
                clock = _clock(stamp)
                if epoch is None or stamp != epoch.clock:
                    close(epoch)
                    if (
                        day is not None
                        and last_clock is not None
                        and clock < last_clock
                        and kind != "ZDA"
                    ):
                        day += timedelta(days=1)
                    epoch, last_clock = _Epoch(clock=stamp), clock
            if epoch is None:
                continue
            found = _apply(kind, fields, epoch)
            if found is not None:
                day = found
                epoch.day = found
        except _Broken as exc:
            if strict:
                raise ParseError(str(exc), source=source, line=number) from None
            skipped.append((number, str(exc)))
    close(epoch)
    return NmeaResult(fixes=fixes, skipped=skipped)
