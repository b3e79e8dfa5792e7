"""Parse Quectel ``AT+QENG="servingcell"`` (and ``AT+QNWINFO``) responses into `RadioSnapshot`s.

Layouts (Quectel LTE Standard and 5G module AT manuals, ``AT+QENG`` section), after
``+QENG: "servingcell",<state>``:

- LTE: ``"LTE",<is_tdd>,<MCC>,<MNC>,<cellID hex>,<PCID>,<earfcn>,<band>,<UL_bw>,<DL_bw>,<TAC hex>,
  <RSRP>,<RSRQ>,<RSSI>,<SINR>`` then, by family, ``<srxlev>`` (EC2x/EP06/EC200T) or
  ``<CQI>,<tx_power>,<srxlev>`` (RM5xx);
- NR5G-SA: ``"NR5G-SA",<duplex>,<MCC>,<MNC>,<cellID hex>,<PCID>,<TAC hex>,<ARFCN>,<band>,
  <NR_DL_bw>,<RSRP>,<RSRQ>,<SINR>,<scs>,<srxlev>``;
- EN-DC: the state line alone, then a ``+QENG: "LTE",...`` line (the LTE layout without state)
  and a ``+QENG: "NR5G-NSA",<MCC>,<MNC>,<PCID>,<RSRP>,<SINR>,<RSRQ>,<ARFCN>,<band>,<DL_bw>,<scs>``
  line (early RM500Q firmware stops after RSRQ);
- WCDMA/GSM: access, MCC/MNC and cell id only.

States: ``SEARCH`` (no cell found), ``LIMSRV`` (camped, limited service: not registered),
``NOCONN`` (registered, idle), ``CONNECT`` (registered, data connection).

Real-world quirks handled: ``-`` for unavailable values, no space after ``+QENG:``, a space
before the MCC, field counts differing by firmware, MCC printed without leading zeros (``1`` for
the test PLMN 001), and the whole answer wrapped in ``response: '...'`` by ``mmcli --command``.

SINR rule
---------
Quectel documents two encodings for LTE SINR: dB (-20..30, as printed by ``QENG`` on current
firmware) and an integer 0..250 meaning ``sinr/5 - 20`` dB (the ``AT+QCSQ`` LTE field, which some
EC2x firmware also prints in ``QENG``; OpenWrt's modem-info scripts apply that conversion). The
recorded responses here are in dB: an RM500Q printed 16 in ``QENG`` while ``QCAINFO`` printed 15
for the same cell, and 25 while qmicli reported 30.0 dB. So ``sinr_encoding="auto"`` (default)
takes the value as dB when it lies in -20..50, and otherwise as the 0..250 code (converted with
``x/5 - 20``); ``"db"`` and ``"raw250"`` force one reading for a modem known to use it. The same
rule applies to NR SINR: early RM500Q firmware printed 180 (-> 16.0 dB) while qmicli reported
18.5 dB.

Example
-------
>>> s = parse_qeng_servingcell('+QENG: "servingcell","NOCONN","LTE","FDD",452,04,4CAA71F,28,'
...                            '1500,3,3,3,77B8,-84,-9,-56,21,35')
>>> s.band, s.cell_id, s.tac, s.sinr_db, s.carrier.value
('B3', 80389919, 30648, 21.0, 'viettel')
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from probe.errors import ParseError
from probe.radio.snapshot import RadioSnapshot
from probe.record import Access, Carrier, carrier_from_plmn

__all__ = ["SinrEncoding", "parse_qeng_servingcell", "parse_qnwinfo"]

TOOL: Final = "quectel-qeng"
SinrEncoding = Literal["auto", "db", "raw250"]
_RECORD: Final = re.compile(r"\+(QENG|QNWINFO|QCAINFO|QSPN):")
_STATES: Final = frozenset({"SEARCH", "LIMSRV", "NOCONN", "CONNECT"})


class _Fields:
    """The comma fields of one ``+QENG:`` record, with its line number for errors."""

    def __init__(self, values: list[str], line: int, source: str) -> None:
        self.values = values
        self.line = line
        self.source = source

    def error(self, message: str) -> ParseError:
        return ParseError(message, source=self.source, line=self.line)

    def raw(self, index: int) -> str | None:
        if index >= len(self.values):
            return None
        value = self.values[index]
        return None if value in {"", "-"} else value

    def integer(self, index: int, name: str, base: int = 10) -> int | None:
        value = self.raw(index)
        if value is None:
            return None
        try:
            return int(value, base)
        except ValueError:
            raise self.error(f"{name} is not an integer: {value!r}") from None

    def require(self, count: int, layout: str) -> None:
        if len(self.values) < count:
            raise self.error(f"{layout} record has {len(self.values)} fields, expected >= {count}")


def _records(text: str, source: str) -> list[tuple[str, _Fields]]:
    out: list[tuple[str, _Fields]] = []
    for number, full_line in enumerate(text.splitlines(), start=1):
        line = full_line.strip()
        if line.startswith("response:"):
            line = line[len("response:") :].strip().strip("'")
        if not line.startswith("+"):
            continue
        matches = list(_RECORD.finditer(line))
        for i, match in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
            chunk = line[match.end() : end].strip().rstrip("'")
            values = [v.strip().strip('"').strip() for v in chunk.split(",")]
            out.append((match.group(1), _Fields(values, number, source)))
    return out


def _plmn(fields: _Fields, at: int) -> tuple[str | None, str | None]:
    mcc, mnc = fields.raw(at), fields.raw(at + 1)
    if mcc is None or mnc is None:
        return None, None
    if not (mcc.isdigit() and mnc.isdigit() and len(mcc) <= 3 and len(mnc) <= 3):
        raise fields.error(f"bad MCC/MNC {mcc!r}/{mnc!r}")
    return mcc.zfill(3), mnc.zfill(2)


def _sinr(value: int | None, encoding: SinrEncoding) -> float | None:
    if value is None:
        return None
    if encoding == "db" or (encoding == "auto" and -20 <= value <= 50):
        return float(value)
    return value / 5 - 20


def _decibels(fields: _Fields, index: int, name: str) -> float | None:
    value = fields.integer(index, name)
    return None if value is None else float(value)


def _lte(fields: _Fields, at: int, encoding: SinrEncoding) -> dict[str, Any]:
    """LTE layout starting at the `is_tdd` field index `at`."""
    fields.require(at + 14, "LTE")
    band = fields.integer(at + 6, "band")
    return {
        "cell_id": fields.integer(at + 3, "cellID", 16),
        "pci": fields.integer(at + 4, "PCID"),
        "earfcn": fields.integer(at + 5, "earfcn"),
        "band": None if band is None else f"B{band}",
        "tac": fields.integer(at + 9, "TAC", 16),
        "rsrp_dbm": _decibels(fields, at + 10, "RSRP"),
        "rsrq_db": _decibels(fields, at + 11, "RSRQ"),
        "rssi_dbm": _decibels(fields, at + 12, "RSSI"),
        "sinr_db": _sinr(fields.integer(at + 13, "SINR"), encoding),
    }


def _nsa(fields: _Fields, encoding: SinrEncoding) -> dict[str, Any]:
    """``"NR5G-NSA",<MCC>,<MNC>,<PCID>,<RSRP>,<SINR>,<RSRQ>[,<ARFCN>,<band>,<bw>,<scs>]``."""
    fields.require(7, "NR5G-NSA")
    band = fields.integer(8, "band")
    return {
        "nr_pci": fields.integer(3, "PCID"),
        "nr_rsrp_dbm": _decibels(fields, 4, "RSRP"),
        "nr_sinr_db": _sinr(fields.integer(5, "SINR"), encoding),
        "nr_rsrq_db": _decibels(fields, 6, "RSRQ"),
        "nr_arfcn": fields.integer(7, "ARFCN"),
        "nr_band": None if band is None else f"n{band}",
    }


def _sa(fields: _Fields, encoding: SinrEncoding) -> dict[str, Any]:
    """NR5G-SA layout after ``"servingcell",<state>``: fields[2] is "NR5G-SA"."""
    fields.require(15, "NR5G-SA")
    band = fields.integer(10, "band")
    return {
        "cell_id": fields.integer(6, "cellID", 16),
        "nr_pci": fields.integer(7, "PCID"),
        "tac": fields.integer(8, "TAC", 16),
        "nr_arfcn": fields.integer(9, "ARFCN"),
        "nr_band": None if band is None else f"n{band}",
        "nr_rsrp_dbm": _decibels(fields, 12, "RSRP"),
        "nr_rsrq_db": _decibels(fields, 13, "RSRQ"),
        "nr_sinr_db": _sinr(fields.integer(14, "SINR"), encoding),
    }


_ACCESS: Final = {"LTE": Access.LTE, "NR5G-SA": Access.NR_SA, "WCDMA": Access.UMTS,
                  "HSPA+": Access.UMTS, "GSM": Access.GSM}  # fmt: skip


def parse_qeng_servingcell(
    text: str, source: str = 'AT+QENG="servingcell"', *, sinr_encoding: SinrEncoding = "auto"
) -> RadioSnapshot:
    """Parse one ``AT+QENG="servingcell"`` answer (other ``+Q...`` lines in it are ignored).

    Raises `ParseError` naming the line when there is no servingcell record or a field is bad.
    """
    records = [fields for name, fields in _records(text, source) if name == "QENG"]
    serving = next((f for f in records if f.values and f.values[0] == "servingcell"), None)
    if serving is None:
        raise ParseError('no +QENG: "servingcell" record', source=source)
    serving.require(2, "servingcell")
    state = serving.values[1]
    if state not in _STATES:
        raise serving.error(f"unknown state {state!r}")
    rat = serving.raw(2)
    values: dict[str, Any] = {}
    access = Access.UNKNOWN
    mcc: str | None = None
    mnc: str | None = None
    if rat is None:
        lte = next((f for f in records if f.values and f.values[0] == "LTE"), None)
        nsa = next((f for f in records if f.values and f.values[0] == "NR5G-NSA"), None)
        if lte is not None:
            access = Access.LTE
            mcc, mnc = _plmn(lte, 2)
            values.update(_lte(lte, 1, sinr_encoding))
        if nsa is not None:
            access = Access.NR_NSA
            nsa_mcc, nsa_mnc = _plmn(nsa, 1)
            mcc, mnc = mcc or nsa_mcc, mnc or nsa_mnc
            values.update(_nsa(nsa, sinr_encoding))
    elif rat in _ACCESS:
        access = _ACCESS[rat]
        if rat == "LTE":
            mcc, mnc = _plmn(serving, 4)
            values.update(_lte(serving, 3, sinr_encoding))
        elif rat == "NR5G-SA":
            mcc, mnc = _plmn(serving, 4)
            values.update(_sa(serving, sinr_encoding))
        else:
            mcc, mnc = _plmn(serving, 3)
            values["cell_id"] = serving.integer(6, "cellID", 16)
    else:
        raise serving.error(f"unknown access technology {rat!r}")
    registered = state in {"NOCONN", "CONNECT"}
    problem = {"SEARCH": "searching", "LIMSRV": "limited-service"}.get(state)
    return RadioSnapshot(
        tool=TOOL,
        access=access,
        carrier=carrier_from_plmn(mcc, mnc) if mcc and mnc else Carrier.UNKNOWN,
        registered=registered,
        state=state,
        service_error=problem,
        mcc=mcc,
        mnc=mnc,
        **values,
    )


def parse_qnwinfo(text: str, source: str = "AT+QNWINFO") -> RadioSnapshot:
    """Parse ``+QNWINFO: <act>,<oper>,<band>,<channel>`` records: access, PLMN, bands, channels.

    An LTE record together with an NR5G record means EN-DC (5G NSA); NR5G alone means SA.

    >>> s = parse_qnwinfo('+QNWINFO: "TDD NR5G","51566","NR5G BAND 78",620640')
    >>> s.access.value, s.nr_band, s.nr_arfcn, s.mcc, s.mnc
    ('5g_sa', 'n78', 620640, '515', '66')
    """
    infos = [f for name, f in _records(text, source) if name == "QNWINFO"]
    if not infos:
        raise ParseError("no +QNWINFO record", source=source)
    values: dict[str, Any] = {}
    kinds: set[Access] = set()
    for info in infos:
        info.require(4, "QNWINFO")
        act, oper, band_text = info.values[0], info.values[1], info.values[2]
        channel = info.integer(3, "channel")
        if not (oper.isdigit() and len(oper) in (5, 6)):
            raise info.error(f"operator is not an MCC+MNC: {oper!r}")
        values.setdefault("mcc", oper[:3])
        values.setdefault("mnc", oper[3:])
        number = re.fullmatch(r"(?:LTE|NR5G) BAND (\d+)", band_text)
        if act.endswith("NR5G"):
            kinds.add(Access.NR_SA)
            values["nr_band"] = f"n{number.group(1)}" if number else None
            values["nr_arfcn"] = channel
        elif act.endswith("LTE"):
            kinds.add(Access.LTE)
            values["band"] = f"B{number.group(1)}" if number else None
            values["earfcn"] = channel
        elif any(k in act for k in ("WCDMA", "HSPA", "HSDPA", "HSUPA", "UMTS", "TDSCDMA")):
            kinds.add(Access.UMTS)
        else:
            kinds.add(Access.GSM)
    order = (Access.NR_SA, Access.LTE, Access.UMTS, Access.GSM)
    access = next(a for a in order if a in kinds)
    if {Access.NR_SA, Access.LTE} <= kinds:
        access = Access.NR_NSA
    return RadioSnapshot(
        tool="quectel-qnwinfo",
        access=access,
        carrier=carrier_from_plmn(values["mcc"], values["mnc"]),
        **values,
    )
