"""Parse ModemManager's ``mmcli -J`` output into `RadioSnapshot`s.

Three outputs are read:

- ``mmcli -m N -J``: state, registration, access technologies, operator code (MCC+MNC, hence the
  carrier), signal quality %, and why a modem failed (``state-failed-reason``: ``sim-missing``);
- ``mmcli -m N --signal-get -J``: ``lte`` rsrp/rsrq/rssi/snr and ``5g`` rsrp/rsrq/snr (the
  values are strings like ``"-104.00"``; ``"--"`` means not measured, and a locale may print a
  decimal comma, ``"-104,00"``). Until ``--signal-setup=N`` has been run every value is ``"--"``;
- ``mmcli -m N --location-get -J``: the 3GPP serving cell (MCC, MNC, TAC and cell id in hex).

Combine them with `probe.radio.snapshot.merge_snapshots`.

Example
-------
>>> text = '{"modem":{"signal":{"lte":{"rsrp":"-104,00","snr":"2.00","rsrq":"--"}}}}'
>>> s = parse_mmcli_signal(text)
>>> s.rsrp_dbm, s.sinr_db, s.rsrq_db
(-104.0, 2.0, None)
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

from lomsong.probe.errors import ParseError
from lomsong.probe.radio.snapshot import RadioSnapshot
from lomsong.probe.record import Access, Carrier, carrier_from_plmn

__all__ = ["access_from_mmcli", "parse_mmcli_location", "parse_mmcli_modem", "parse_mmcli_signal"]

TOOL: Final = "mmcli"
_MISSING: Final = frozenset({"", "--", "n/a", "unknown"})
_REGISTERED: Final = frozenset({
    "home", "roaming", "home-sms-only", "roaming-sms-only",
    "home-csfb-not-preferred", "roaming-csfb-not-preferred",
})  # fmt: skip
_ATTACHED_STATES: Final = frozenset({"registered", "connecting", "connected", "disconnecting"})
_GSM: Final = frozenset({"gsm", "gsm-compact", "gprs", "edge"})
_UMTS: Final = frozenset({"umts", "hsdpa", "hsupa", "hspa", "hspa-plus", "evdo0", "evdoa", "evdob"})
_LTE: Final = frozenset({"lte", "lte-cat-m", "lte-nb-iot"})


def _load(text: str, source: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ParseError(
            f"not JSON: {exc}", source=source, line=getattr(exc, "lineno", None)
        ) from None
    modem = data.get("modem") if isinstance(data, dict) else None
    if not isinstance(modem, dict):
        raise ParseError("no 'modem' object", source=source)
    return modem


def _section(parent: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    value = parent.get(key, {})
    if not isinstance(value, dict):
        raise ParseError(f"'{key}' is not an object", source=source)
    return value


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or value.strip().lower() in _MISSING:
        return None
    return value.strip()


def _number(value: Any, field: str, source: str) -> float | None:
    """``"-104.00"``, ``"-104,00"`` or a JSON number -> float; ``"--"`` -> None."""
    if isinstance(value, bool):
        raise ParseError(f"'{field}' is a boolean", source=source)
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = _text(value)
        if text is None:
            return None
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            raise ParseError(f"'{field}' is not a number: {text!r}", source=source) from None
    if not math.isfinite(number):
        raise ParseError(f"'{field}' is not finite: {value!r}", source=source)
    return number


def access_from_mmcli(technologies: list[str]) -> Access:
    """The best access in ModemManager's ``access-technologies`` list.

    >>> access_from_mmcli(["lte", "5gnr"]), access_from_mmcli(["edge"])
    (<Access.NR_NSA: '5g_nsa'>, <Access.GSM: '2g'>)
    """
    techs = {t.strip().lower() for t in technologies}
    if "5gnr" in techs:
        return Access.NR_NSA if techs & _LTE else Access.NR_SA
    if techs & _LTE:
        return Access.LTE
    if techs & _UMTS:
        return Access.UMTS
    if techs & _GSM:
        return Access.GSM
    return Access.UNKNOWN


def _split_plmn(code: str | None, source: str) -> tuple[str | None, str | None]:
    if code is None:
        return None, None
    if not code.isdigit() or len(code) not in (5, 6):
        raise ParseError(f"operator-code is not an MCC+MNC: {code!r}", source=source)
    return code[:3], code[3:]


def _service_error(
    state: str | None, failed_reason: str | None, registration: str | None
) -> str | None:
    if state == "failed":
        reason = failed_reason or "unknown"
        return reason if reason.startswith("sim") else f"modem-failed: {reason}"
    if state == "locked":
        return "sim-locked"
    if state in {"disabled", "disabling", "initializing", "enabling"}:
        return f"modem-{state}"
    if registration == "denied":
        return "registration-denied"
    if registration == "searching" or state == "searching":
        return "searching"
    if registration == "idle":
        return "not-registered"
    return None


def parse_mmcli_modem(text: str, source: str = "mmcli -m -J") -> RadioSnapshot:
    """Parse ``mmcli -m N -J``: access, operator, registration, state, signal quality."""
    modem = _load(text, source)
    generic = _section(modem, "generic", source)
    gpp = _section(modem, "3gpp", source)
    state = _text(generic.get("state"))
    registration = _text(gpp.get("registration-state"))
    techs = generic.get("access-technologies", [])
    if not isinstance(techs, list) or not all(isinstance(t, str) for t in techs):
        raise ParseError("'access-technologies' is not a list of strings", source=source)
    quality = _section(generic, "signal-quality", source)
    quality_pct = _number(quality.get("value"), "signal-quality.value", source)
    if quality_pct is not None and not 0 <= quality_pct <= 100:
        raise ParseError(f"signal-quality out of 0..100: {quality_pct}", source=source)
    mcc, mnc = _split_plmn(_text(gpp.get("operator-code")), source)
    registered: bool | None = None
    if registration is not None:
        registered = registration in _REGISTERED
    elif state is not None:
        registered = state in _ATTACHED_STATES
    return RadioSnapshot(
        tool=TOOL,
        access=access_from_mmcli(techs),
        carrier=carrier_from_plmn(mcc, mnc) if mcc and mnc else Carrier.UNKNOWN,
        registered=registered,
        state=state,
        service_error=_service_error(
            state, _text(generic.get("state-failed-reason")), registration
        ),
        operator_name=_text(gpp.get("operator-name")),
        signal_quality_pct=None if quality_pct is None else round(quality_pct),
        mcc=mcc,
        mnc=mnc,
    )


def parse_mmcli_signal(text: str, source: str = "mmcli --signal-get -J") -> RadioSnapshot:
    """Parse ``mmcli -m N --signal-get -J``: LTE and 5G NR levels (``--`` -> None)."""
    signal = _section(_load(text, source), "signal", source)
    lte = _section(signal, "lte", source)
    nr = _section(signal, "5g", source)

    def value(block: dict[str, Any], name: str, key: str) -> float | None:
        return _number(block.get(key), f"{name}.{key}", source)

    rssi = value(lte, "lte", "rssi")
    if rssi is None and not any(value(lte, "lte", k) is not None for k in ("rsrp", "rsrq", "snr")):
        umts = _section(signal, "umts", source)
        gsm = _section(signal, "gsm", source)
        rssi = value(umts, "umts", "rssi")
        rssi = rssi if rssi is not None else value(gsm, "gsm", "rssi")
    return RadioSnapshot(
        tool=TOOL,
        rsrp_dbm=value(lte, "lte", "rsrp"),
        rsrq_db=value(lte, "lte", "rsrq"),
        sinr_db=value(lte, "lte", "snr"),
        rssi_dbm=rssi,
        nr_rsrp_dbm=value(nr, "5g", "rsrp"),
        nr_rsrq_db=value(nr, "5g", "rsrq"),
        nr_sinr_db=value(nr, "5g", "snr"),
    )


def _hex(value: Any, field: str, source: str) -> int | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return int(text, 16)
    except ValueError:
        raise ParseError(f"'{field}' is not hexadecimal: {text!r}", source=source) from None


def parse_mmcli_location(text: str, source: str = "mmcli --location-get -J") -> RadioSnapshot:
    """Parse the 3GPP block of ``mmcli -m N --location-get -J`` (cell id and TAC are hex)."""
    location = _section(_load(text, source), "location", source)
    cell = _section(location, "3gpp", source)
    mcc, mnc = _text(cell.get("mcc")), _text(cell.get("mnc"))
    if (mcc is None) != (mnc is None) or (mcc and not (mcc.isdigit() and str(mnc).isdigit())):
        raise ParseError(f"bad MCC/MNC: {mcc!r}/{mnc!r}", source=source)
    return RadioSnapshot(
        tool=TOOL,
        carrier=carrier_from_plmn(mcc, mnc) if mcc and mnc else Carrier.UNKNOWN,
        cell_id=_hex(cell.get("cid"), "cid", source),
        tac=_hex(cell.get("tac"), "tac", source),
        mcc=mcc,
        mnc=mnc,
    )
