"""A pure parser for iperf3's live text output (``-i 0.2 -f k --forceflush``).

iperf3 3.12 has no ``--json-stream``; its JSON appears only when the test ends, so a test that
stops early has to be watched in text mode. Each line is read as it arrives (`parse_line`) and a
whole output once the process has ended (`parse_iperf3_text`).

Units follow iperf3's own printing: transfers in binary multiples (``KBytes`` = 1024 bytes),
bit rates in decimal multiples (``Kbits/sec`` = 1000 bit/s). The summary after the dashed line
carries a ``sender`` and a ``receiver`` line; after an interrupt (SIGINT) the client knows only its
own side, and the other side reads ``0.00 Bytes``. With ``-O N`` the first N seconds are printed
as intervals marked ``(omitted)``; the counted intervals then start again at 0.00 and the summary
leaves the omitted seconds out.

Example
-------
>>> parse_line("[  5]   0.40-0.60   sec   936 KBytes  38327 Kbits/sec")
Interval(start_s=0.4, end_s=0.6, bytes=958464, rate_bps=38327000.0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Literal

from lomsong.probe.errors import ParseError
from lomsong.probe.record import ErrorKind
from lomsong.probe.runners.iperf3 import classify_iperf3_error

__all__ = ["Interval", "Iperf3TextRun", "Total", "parse_iperf3_text", "parse_line"]

_BYTE_UNITS: Final = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_RATE_UNITS: Final = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_LINE: Final = re.compile(
    r"^\[\s*(?P<id>\d+|SUM)\]\s+(?P<start>\d+(?:\.\d+)?)-\s*(?P<end>\d+(?:\.\d+)?)\s+sec\s+"
    r"(?P<bytes>\d+(?:\.\d+)?)\s+(?P<bunit>[KMGT]?)Bytes\s+"
    r"(?P<rate>\d+(?:\.\d+)?)\s+(?P<runit>[KMGT]?)bits/sec\b(?P<rest>.*)$"
)
_ROLE: Final = re.compile(r"\b(sender|receiver)\s*$")
_OMITTED: Final = re.compile(r"\(omitted\)\s*$")
_ERROR: Final = re.compile(r"^iperf3: (?P<text>(?:error|interrupt).*)$")


@dataclass(frozen=True, slots=True)
class Interval:
    """One reporting interval: seconds since the test started, bytes moved, iperf3's rate."""

    start_s: float
    end_s: float
    bytes: int
    rate_bps: float

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class Total:
    """One summary line: the whole test as one side saw it."""

    role: Literal["sender", "receiver"]
    seconds: float
    bytes: int
    rate_bps: float


@dataclass(frozen=True, slots=True)
class Iperf3TextRun:
    """Everything one text-mode run printed that the probe uses."""

    intervals: tuple[Interval, ...]
    omitted: tuple[Interval, ...] = ()
    sender: Total | None = None
    receiver: Total | None = None
    error: str | None = None
    error_kind: ErrorKind | None = field(default=None)

    @property
    def bytes_moved(self) -> int:
        """The larger of the summary's sender and receiver totals, else the sum of the intervals,
        plus the omitted intervals (``-O``), which the summary leaves out but the link carried.

        As in `parse_iperf3`: one flow counted once, as close as iperf3 gets to what it cost.
        """
        omitted = sum(i.bytes for i in self.omitted)
        totals = [t.bytes for t in (self.sender, self.receiver) if t is not None]
        if totals and max(totals) > 0:
            return max(totals) + omitted
        return sum(i.bytes for i in self.intervals) + omitted

    @property
    def duration_s(self) -> float | None:
        """The summary's duration, else the end of the last interval."""
        for total in (self.receiver, self.sender):
            if total is not None and total.seconds > 0:
                return total.seconds
        return self.intervals[-1].end_s if self.intervals else None


def _parse_match(m: re.Match[str]) -> tuple[float, float, int, float]:
    start, end = float(m["start"]), float(m["end"])
    nbytes = round(float(m["bytes"]) * _BYTE_UNITS[m["bunit"]])
    return start, end, nbytes, float(m["rate"]) * _RATE_UNITS[m["runit"]]


def parse_line(line: str) -> Interval | None:
    """The interval reported on `line`, or None for any other line (headers, summary, errors).

    Summary lines (ending in ``sender``/``receiver``), ``[SUM]`` lines and intervals marked
    ``(omitted)`` are not intervals of the test.

    >>> parse_line("[  5]   0.00-3.00   sec  14.4 MBytes  40362 Kbits/sec    0             sender")
    >>> parse_line("[  5]   0.00-0.50   sec  1.25 MBytes  20969 Kbits/sec          (omitted)")
    """
    m = _LINE.match(line.strip())
    if m is None or m["id"] == "SUM" or _ROLE.search(m["rest"]) or _OMITTED.search(m["rest"]):
        return None
    start, end, nbytes, rate = _parse_match(m)
    return Interval(start, end, nbytes, rate)


def parse_iperf3_text(text: str, *, source: str) -> Iperf3TextRun:
    """Read the whole text output of one run (stdout and stderr together, in order).

    Intervals are those printed before the summary's dashed line; those marked ``(omitted)`` go to
    `omitted` (their clock restarts with the first counted interval). An ``iperf3: error ...`` or
    ``iperf3: interrupt ...`` line becomes `error` with its kind. Raises `ParseError` naming
    `source` and the line when an interval goes back in time or the output is not iperf3's.

    >>> run = parse_iperf3_text("iperf3: error - unable to connect to server: Connection refused",
    ...                         source="t")
    >>> run.error_kind
    <ErrorKind.CONNECTION_REFUSED: 'connection_refused'>
    """
    intervals: list[Interval] = []
    omitted: list[Interval] = []
    totals: dict[str, Total] = {}
    error: str | None = None
    in_summary = False
    recognised = False
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if line.startswith("- - - -"):
            in_summary, recognised = True, True
            continue
        err = _ERROR.match(line)
        if err is not None:
            error = error or err["text"]
            recognised = True
            continue
        if line.startswith(("Connecting to host", "[ ID]", "iperf Done", "Reverse mode")):
            recognised = True
            continue
        m = _LINE.match(line)
        if m is None or m["id"] == "SUM":
            continue
        recognised = True
        start, end, nbytes, rate = _parse_match(m)
        role = _ROLE.search(m["rest"])
        if role is not None:
            totals.setdefault(role[1], Total(role[1], end - start, nbytes, rate))  # type: ignore[arg-type]
        elif in_summary:
            continue
        elif _OMITTED.search(m["rest"]):
            omitted.append(Interval(start, end, nbytes, rate))
        elif intervals and start < intervals[-1].start_s:
            raise ParseError(
                f"interval {start:.2f}-{end:.2f} s goes back in time", source=source, line=number
            )
        else:
            intervals.append(Interval(start, end, nbytes, rate))
    if not recognised and text.strip():
        raise ParseError("no iperf3 interval, summary or error line: not iperf3 text output", source=source)
    return Iperf3TextRun(
        intervals=tuple(intervals),
        omitted=tuple(omitted),
        sender=totals.get("sender"),
        receiver=totals.get("receiver"),
        error=error,
        error_kind=None if error is None else classify_iperf3_error(error),
    )
