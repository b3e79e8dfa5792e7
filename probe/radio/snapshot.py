"""A modem's view of the radio at one moment, and how it travels as a Measurement.

`RadioSnapshot` is what the modem parsers (`probe.radio.mmcli`, `probe.radio.quectel`) return.
Its radio fields have the same names and units as `probe.record.Measurement`, so a snapshot can
be sent on its own (`to_measurement`, kind ``radio_snapshot``) or attached to a throughput test
(`radio_fields`, merged into that test's constructor keyword arguments).

A modem without service still gives a snapshot: `service_error` says why (no SIM, searching,
limited service) and `to_measurement` records it as a failed snapshot, because in a dead spot
the failure is the evidence.

Example
-------
>>> from datetime import UTC, datetime
>>> snap = RadioSnapshot(tool="mmcli", access=Access.LTE, mcc="452", mnc="04",
...                      carrier=Carrier.VIETTEL, registered=True, rsrp_dbm=-104.0)
>>> m = to_measurement(snap, probe_id="pi-1", measured_at=datetime(2026, 11, 2, tzinfo=UTC))
>>> m.kind.value, m.rsrp_dbm, m.carrier.value
('radio_snapshot', -104.0, 'viettel')
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from lomsong.probe.record import Access, Carrier, ErrorKind, Kind, Measurement, Source, bounded_raw

__all__ = [
    "RADIO_FIELDS",
    "RadioSnapshot",
    "drop_implausible",
    "merge_snapshots",
    "radio_fields",
    "to_measurement",
]

RADIO_FIELDS: Final = (
    "rsrp_dbm", "rsrq_db", "sinr_db", "rssi_dbm", "cell_id", "pci", "tac", "earfcn", "band",
    "nr_rsrp_dbm", "nr_rsrq_db", "nr_sinr_db", "nr_pci", "nr_arfcn", "nr_band", "ca_bands",
    "mcc", "mnc",
)  # fmt: skip

# Plausible ranges, the same as the Measurement's bounds: a value outside is a modem sentinel
# (e.g. -32768, 255) and is dropped rather than sent.
_BOUNDS: Final[dict[str, tuple[float, float]]] = {
    "rsrp_dbm": (-160, -20), "rsrq_db": (-40, 10), "sinr_db": (-30, 60), "rssi_dbm": (-130, 0),
    "cell_id": (0, 2**40), "pci": (0, 1007), "tac": (0, 2**24), "earfcn": (0, 262_143),
    "nr_rsrp_dbm": (-160, -20), "nr_rsrq_db": (-45, 20), "nr_sinr_db": (-30, 60),
    "nr_pci": (0, 1007), "nr_arfcn": (0, 3_279_165),
}  # fmt: skip
# Longest text the Measurement takes: a longer value (a modem listing absurdly many carriers)
# is dropped rather than making the whole test record invalid.
_MAX_CHARS: Final[dict[str, int]] = {"band": 16, "nr_band": 16, "ca_bands": 64}


@dataclass(frozen=True, slots=True)
class RadioSnapshot:
    """Serving-cell radio state. `None` means the modem did not report the value."""

    tool: str
    access: Access = Access.UNKNOWN
    carrier: Carrier = Carrier.UNKNOWN
    registered: bool | None = None
    state: str | None = None
    service_error: str | None = None
    operator_name: str | None = None
    signal_quality_pct: int | None = None
    rsrp_dbm: float | None = None
    rsrq_db: float | None = None
    sinr_db: float | None = None
    rssi_dbm: float | None = None
    cell_id: int | None = None
    pci: int | None = None
    tac: int | None = None
    earfcn: int | None = None
    band: str | None = None
    nr_rsrp_dbm: float | None = None
    nr_rsrq_db: float | None = None
    nr_sinr_db: float | None = None
    nr_pci: int | None = None
    nr_arfcn: int | None = None
    nr_band: str | None = None
    ca_bands: str | None = None
    mcc: str | None = None
    mnc: str | None = None


def merge_snapshots(first: RadioSnapshot, second: RadioSnapshot) -> RadioSnapshot:
    """`first` completed by what `second` knows (e.g. ``mmcli -m`` + ``--signal-get``).

    Values in `first` win; unknown enums (`UNKNOWN`) and `None` are filled from `second`.
    """
    changes: dict[str, Any] = {}
    for item in dataclasses.fields(RadioSnapshot):
        mine = getattr(first, item.name)
        if mine is None or mine is Access.UNKNOWN or mine is Carrier.UNKNOWN:
            changes[item.name] = getattr(second, item.name)
    if first.tool != second.tool:
        changes["tool"] = f"{first.tool}+{second.tool}"
    return dataclasses.replace(first, **{k: v for k, v in changes.items() if v is not None})


def drop_implausible(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` without radio values outside the Measurement's bounds (modem/app sentinels) and
    without texts longer than it takes.

    >>> drop_implausible({"nr_rsrq_db": 2147483647.0, "rsrp_dbm": -98.0, "ca_bands": "n41+" * 20})
    {'rsrp_dbm': -98.0}
    """
    out: dict[str, Any] = {}
    for name, value in fields.items():
        low_high = _BOUNDS.get(name)
        if value is not None and low_high is not None and not low_high[0] <= value <= low_high[1]:
            continue
        if isinstance(value, str) and len(value) > _MAX_CHARS.get(name, len(value)):
            continue
        out[name] = value
    return out


def radio_fields(snapshot: RadioSnapshot) -> dict[str, Any]:
    """The Measurement keyword arguments this snapshot provides (radio, carrier, access).

    Out-of-range values are left out; so are `carrier`/`access` when unknown, so the caller's
    own values (e.g. from config) are not overwritten with "unknown".

    >>> radio_fields(RadioSnapshot(tool="x", rsrp_dbm=-90.0, pci=-1))
    {'rsrp_dbm': -90.0}
    """
    present = {name: getattr(snapshot, name) for name in RADIO_FIELDS}
    out = drop_implausible({k: v for k, v in present.items() if v is not None})
    if out.get("mcc") is None or out.get("mnc") is None:
        out.pop("mcc", None)
        out.pop("mnc", None)
    if snapshot.carrier is not Carrier.UNKNOWN:
        out["carrier"] = snapshot.carrier
    if snapshot.access is not Access.UNKNOWN:
        out["access"] = snapshot.access
    return out


def _error_kind(snapshot: RadioSnapshot) -> ErrorKind | None:
    if snapshot.service_error is None:
        return None
    if snapshot.service_error.startswith(("sim", "modem")):
        return ErrorKind.MODEM_ERROR
    return ErrorKind.NO_SERVICE


def to_measurement(
    snapshot: RadioSnapshot,
    *,
    probe_id: str,
    measured_at: datetime,
    interface: str | None = None,
    source: Source = Source.PROBE,
    raw: str | None = None,
    measurement_id: uuid.UUID | None = None,
    **extra: Any,
) -> Measurement:
    """A ``radio_snapshot`` Measurement; `extra` adds e.g. position fields or `clock`."""
    kind = _error_kind(snapshot)
    fields: dict[str, Any] = {
        "probe_id": probe_id,
        "measured_at": measured_at,
        "kind": Kind.RADIO_SNAPSHOT,
        "tool": snapshot.tool,
        "source": source,
        "interface": interface,
        "raw": bounded_raw(raw),
        "error_kind": kind,
        "error_message": snapshot.service_error if kind is not None else None,
        **radio_fields(snapshot),
        **extra,
    }
    if measurement_id is not None:
        fields["id"] = measurement_id
    return Measurement(**fields)
