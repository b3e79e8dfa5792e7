"""Read a path's modem before its tests and attach the radio to every Measurement of that path.

Two ways in, chosen by the path's ``modem`` settings:

- ModemManager: ``mmcli -m N -J`` and ``mmcli -m N --signal-get -J`` (merged);
- a Quectel AT port (``/dev/ttyUSB2``): ``AT+QENG="servingcell"`` written to the serial device
  (raw mode, no extra package) and read until ``OK``/``ERROR`` or a timeout, then ``AT+QCAINFO``
  for the aggregated carriers (merged in as ``ca_bands``; the serving cell stands without it).

A modem that cannot be read never stops a cycle: `read_radio` returns a `RadioReading` with an
error, and `radio_records` turns it into a ``radio_snapshot`` Measurement with ``modem_error``.
A modem without service (searching, no SIM) gives a snapshot with its service error, which is
sent too: it is the evidence of a dead spot.

Example
-------
>>> from lomsong.probe.radio.snapshot import RadioSnapshot
>>> reading = RadioReading(RadioSnapshot(tool="mmcli", rsrp_dbm=-101.0), raw="{}", error=None)
>>> reading.fields()
{'rsrp_dbm': -101.0}
"""

from __future__ import annotations

import logging
import os
import select
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from lomsong.probe.errors import ProbeError, ToolError
from lomsong.probe.plan import ModemSettings
from lomsong.probe.radio.mmcli import parse_mmcli_modem, parse_mmcli_signal
from lomsong.probe.radio.quectel import ca_bands, parse_qcainfo, parse_qeng_servingcell
from lomsong.probe.radio.snapshot import RadioSnapshot, merge_snapshots, radio_fields, to_measurement
from lomsong.probe.record import ErrorKind, Kind, Measurement, bounded_raw
from lomsong.probe.runners.base import CommandRunner, Stamp, SubprocessRunner, TestContext

__all__ = ["RadioReading", "at_command", "attach_radio", "radio_records", "read_radio"]

QENG_SERVINGCELL: Final = 'AT+QENG="servingcell"'
QCAINFO: Final = "AT+QCAINFO"
_FINAL: Final = ("\r\nOK\r\n", "\r\nERROR\r\n", "+CME ERROR:")
_BAUD: Final = {9600: termios.B9600, 57600: termios.B57600, 115200: termios.B115200}
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RadioReading:
    """A snapshot, or why there is none (`error`); `raw` keeps what the modem said."""

    snapshot: RadioSnapshot | None
    raw: str | None
    error: str | None

    def fields(self) -> dict[str, Any]:
        """Measurement keyword arguments from the snapshot (empty when there is none)."""
        return {} if self.snapshot is None else radio_fields(self.snapshot)


def at_command(port: str, command: str, *, timeout_s: float, baud: int = 115_200) -> str:
    """Send one AT command to a serial device and return its answer (up to OK/ERROR).

    Raises `ToolError` when the port cannot be opened, `TimeoutError` when no final result code
    arrives within `timeout_s`.
    """
    try:
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        raise ToolError(f"cannot open AT port {port}: {exc}") from exc
    try:
        if os.isatty(fd):
            attrs = termios.tcgetattr(fd)
            attrs[0] = attrs[1] = attrs[3] = 0  # iflag, oflag, lflag: raw
            attrs[2] = termios.CS8 | termios.CREAD | termios.CLOCAL
            speed = _BAUD.get(baud, termios.B115200)
            attrs[4] = attrs[5] = speed
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
            termios.tcflush(fd, termios.TCIOFLUSH)
        os.write(fd, f"{command}\r".encode("ascii"))
        answer = b""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                break
            answer += os.read(fd, 4096)
            text = answer.decode("ascii", errors="replace")
            if any(mark in text for mark in _FINAL):
                return text
        raise TimeoutError(f"{port}: no OK/ERROR for {command} within {timeout_s:g} s")
    finally:
        os.close(fd)


def _mmcli(index: int, runner: CommandRunner, timeout_s: float) -> RadioReading:
    raws: list[str] = []
    snapshots: list[RadioSnapshot] = []
    for extra, parse in (((), parse_mmcli_modem), (("--signal-get",), parse_mmcli_signal)):
        argv = ["mmcli", "-m", str(index), *extra, "-J"]
        done = runner(argv, timeout_s=timeout_s)
        raws.append(done.stdout)
        if done.returncode != 0:
            message = done.stderr.strip() or f"exit status {done.returncode}"
            raise ToolError(f"{' '.join(argv)}: {message}")
        snapshots.append(parse(done.stdout, " ".join(argv)))
    return RadioReading(merge_snapshots(snapshots[0], snapshots[1]), "\n".join(raws), None)


def _with_carriers(snapshot: RadioSnapshot, modem: ModemSettings, port: str) -> tuple[RadioSnapshot, str]:
    """`snapshot` with the bands ``AT+QCAINFO`` reports merged in, and the modem's answer.

    A module without carrier aggregation answers ``ERROR`` (no bands); a timeout or an answer
    that cannot be parsed is logged and leaves the serving cell as it was.
    """
    try:
        answer = at_command(port, QCAINFO, timeout_s=modem.timeout_s, baud=modem.at_baud)
    except (ProbeError, TimeoutError) as exc:
        _log.warning("%s left out: %s", QCAINFO, exc)
        return snapshot, ""
    try:
        bands = ca_bands(parse_qcainfo(answer, f"{port} {QCAINFO}"))
    except ProbeError as exc:
        _log.warning("%s left out: %s", QCAINFO, exc)
        return snapshot, answer
    if bands is None:
        return snapshot, answer
    return merge_snapshots(snapshot, RadioSnapshot(tool="quectel-qcainfo", ca_bands=bands)), answer


def read_radio(modem: ModemSettings, *, command_runner: CommandRunner | None = None) -> RadioReading:
    """Read the modem of one path; every failure comes back as a reading with `error` set."""
    raw: str | None = None
    try:
        if modem.mmcli_index is not None:
            return _mmcli(modem.mmcli_index, command_runner or SubprocessRunner(), modem.timeout_s)
        assert modem.at_port is not None
        raw = at_command(modem.at_port, QENG_SERVINGCELL, timeout_s=modem.timeout_s, baud=modem.at_baud)
        if "ERROR" in raw and "+QENG" not in raw:
            raise ToolError(f"{modem.at_port}: {QENG_SERVINGCELL} answered {raw.strip()!r}")
        snapshot = parse_qeng_servingcell(raw, f"{modem.at_port} {QENG_SERVINGCELL}")
        snapshot, ca_raw = _with_carriers(snapshot, modem, modem.at_port)
        return RadioReading(snapshot, raw + ca_raw, None)
    except FileNotFoundError as exc:
        return RadioReading(None, raw, f"mmcli not installed: {exc}")
    except Exception as exc:  # a modem's failure is recorded, never raised into the cycle
        return RadioReading(None, raw, f"{type(exc).__name__}: {exc}")


def radio_records(reading: RadioReading, ctx: TestContext, stamp: Stamp) -> list[Measurement]:
    """The ``radio_snapshot`` Measurement to send for this reading: one for a modem error or a
    modem without service (the evidence), none when the radio is fine (its fields travel with
    the tests instead)."""
    if reading.error is not None:
        return [ctx.measurement(
            stamp, kind=Kind.RADIO_SNAPSHOT, tool="modem", error_kind=ErrorKind.MODEM_ERROR,
            error_message=reading.error[:2000], raw=bounded_raw(reading.raw),
        )]  # fmt: skip
    snapshot = reading.snapshot
    if snapshot is None or snapshot.service_error is None:
        return []
    position = {
        key: getattr(ctx, key)
        for key in ("lat", "lon", "accuracy_m", "position_source", "site_id", "setting")
    }
    return [to_measurement(
        snapshot, probe_id=ctx.probe_id, measured_at=stamp.measured_at, interface=ctx.interface,
        raw=reading.raw, clock=stamp.clock, boot_id=stamp.boot_id, monotonic_s=stamp.monotonic_s,
        **position,
    )]  # fmt: skip


def attach_radio(measurements: Sequence[Measurement], reading: RadioReading) -> list[Measurement]:
    """Each Measurement with the reading's radio fields merged in (the modem's carrier and access
    win over the configured ones: they say what the network really served)."""
    extra = reading.fields()
    if not extra:
        return list(measurements)
    out = []
    for m in measurements:
        if m.kind is Kind.RADIO_SNAPSHOT:
            out.append(m)
            continue
        out.append(Measurement(**{**m.model_dump(), **extra}))
    return out
