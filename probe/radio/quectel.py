"""Parse Quectel ``AT+QENG="servingcell"``, ``AT+QNWINFO`` and ``AT+QCAINFO`` responses.

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

``AT+QCAINFO`` lists the component carriers (see `parse_qcainfo` for its layouts); `ca_bands`
joins their bands into the Measurement's ``ca_bands`` ("B3+B1", "n41+n71", EN-DC "B1+n41").

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
>>> ca_bands(parse_qcainfo('+QCAINFO: "PCC",1500,100,"LTE BAND 3",1,28,-84,-9,-56,21\\n'
...                        '+QCAINFO: "SCC",100,75,"LTE BAND 1",1,28,-90,-11,-60,12'))
'B3+B1'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from lomsong.probe.errors import ParseError
from lomsong.probe.radio.snapshot import RadioSnapshot
from lomsong.probe.record import Access, Carrier, carrier_from_plmn

__all__ = [
    "ComponentCarrier",
    "SinrEncoding",
    "ca_bands",
    "parse_qcainfo",
    "parse_qeng_servingcell",
    "parse_qnwinfo",
]

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


_CA_BAND: Final = re.compile(r"(LTE|NR5G) BAND (\d{1,3})", re.IGNORECASE)
_NR_SNR_NONE: Final = -32768
_NR_SHORT: Final = frozenset({5, 7, 8})  # field counts (role included) of the layouts below
_NR_LONG: Final = frozenset({9, 11, 12})


@dataclass(frozen=True, slots=True)
class ComponentCarrier:
    """One ``+QCAINFO:`` record: the primary (PCC) or a secondary (SCC) component carrier.

    `arfcn` is the EARFCN (LTE) or NR-ARFCN; `bandwidth` is the field as printed: resource blocks
    for LTE (100 = 20 MHz), an index into the manual's NR_DL_bandwidth table for NR (12 = 100 MHz).
    `state` is the pcell/scell state as printed; the NR layouts without one leave it `None`, as
    they do the signal fields they lack. Values are as printed, not range-checked.
    """

    role: Literal["PCC", "SCC"]
    rat: Literal["LTE", "NR5G"]
    band: str
    arfcn: int | None
    bandwidth: int | None
    pci: int | None
    state: int | None = None
    rsrp_dbm: float | None = None
    rsrq_db: float | None = None
    rssi_dbm: float | None = None
    sinr_db: float | None = None


def _carrier(fields: _Fields, encoding: SinrEncoding) -> ComponentCarrier:
    fields.require(5, "QCAINFO")
    count = len(fields.values)
    printed_role = fields.values[0].upper()
    if printed_role not in ("PCC", "SCC"):
        raise fields.error(f"role is neither PCC nor SCC: {fields.values[0]!r}")
    role: Literal["PCC", "SCC"] = "PCC" if printed_role == "PCC" else "SCC"
    band = _CA_BAND.fullmatch(fields.values[3])
    if band is None:
        raise fields.error(f"band is not 'LTE BAND <n>' or 'NR5G BAND <n>': {fields.values[3]!r}")
    arfcn, bandwidth = fields.integer(1, "freq"), fields.integer(2, "bandwidth")
    if band.group(1).upper() == "LTE":
        fields.require(10, "LTE QCAINFO")
        return ComponentCarrier(
            role=role, rat="LTE", band=f"B{int(band.group(2))}", arfcn=arfcn, bandwidth=bandwidth,
            state=fields.integer(4, "cell state"), pci=fields.integer(5, "PCID"),
            rsrp_dbm=_decibels(fields, 6, "RSRP"), rsrq_db=_decibels(fields, 7, "RSRQ"),
            rssi_dbm=_decibels(fields, 8, "RSSI"),
            sinr_db=_sinr(fields.integer(9, "RSSNR"), encoding),
        )  # fmt: skip
    if count in _NR_SHORT:
        state, pci_at, signal_at = None, 4, 5
    elif count in _NR_LONG:
        state, pci_at, signal_at = fields.integer(4, "scell state"), 5, 9
    else:
        raise fields.error(f"NR5G QCAINFO record has {count} fields, expected 5, 7, 8, 9, 11 or 12")
    snr = fields.integer(signal_at + 2, "SNR")
    return ComponentCarrier(
        role=role, rat="NR5G", band=f"n{int(band.group(2))}", arfcn=arfcn, bandwidth=bandwidth,
        state=state, pci=fields.integer(pci_at, "PCID"),
        rsrp_dbm=_decibels(fields, signal_at, "RSRP"),
        rsrq_db=_decibels(fields, signal_at + 1, "RSRQ"),
        sinr_db=None if snr is None or snr == _NR_SNR_NONE else snr / 100,
    )  # fmt: skip


def parse_qcainfo(
    text: str, source: str = "AT+QCAINFO", *, sinr_encoding: SinrEncoding = "auto"
) -> tuple[ComponentCarrier, ...]:
    """The component carriers of an ``AT+QCAINFO`` answer, in the order the modem printed them.

    Layouts after ``+QCAINFO:`` (Quectel LTE-A and 5G module manuals), told apart by the band's
    technology and, for NR, by the field count:

    - LTE, PCC and SCC: ``<role>,<earfcn>,<bandwidth>,"LTE BAND <n>",<state>,<PCID>,<RSRP>,
      <RSRQ>,<RSSI>,<RSSNR>``, the SCC optionally followed by ``<UL_configured>,<UL_bandwidth>,
      <UL_EARFCN>``; RSSNR follows the module's SINR rule (`sinr_encoding`);
    - NR5G PCC, and NR5G SCC of EN-DC on some firmware: ``<role>,<arfcn>,<bandwidth>,
      "NR5G BAND <n>",<PCID>[,<RSRP>,<RSRQ>[,<SNR>]]`` (5, 7 or 8 fields);
    - NR5G SCC: ``"SCC",<arfcn>,<bandwidth>,"NR5G BAND <n>",<state>,<PCID>,<UL_configured>,
      <UL_bandwidth>,<UL_ARFCN>[,<RSRP>,<RSRQ>[,<SNR>]]`` (9, 11 or 12 fields).

    The NR signal fields appear in verbose mode (``AT+QCAINFO=1``). NR SNR values recorded from
    an RM551E (2549, 427, -32768) make sense only in hundredths of a dB with -32768 meaning "not
    measured", so that is how they are read; the same firmware printed an implausible RSRP of
    -11, kept as printed. It also omits the newline between two records in verbose mode
    (``...,-,-+QCAINFO: "SCC",...``): every ``+QCAINFO:`` in a line starts a record. An answer
    without records (no serving cell, or an ``ERROR``) gives an empty tuple; a record that fits
    no layout raises `ParseError` naming `source` and the line.

    >>> cc = parse_qcainfo('+QCAINFO: "PCC",126490,1,"NR5G BAND 71",24\\r\\n'
    ...                    '+QCAINFO: "SCC",520110,12,"NR5G BAND 41",1,625,0,-,-\\r\\nOK')
    >>> [(c.role, c.band, c.arfcn, c.pci, c.rsrp_dbm) for c in cc]
    [('PCC', 'n71', 126490, 24, None), ('SCC', 'n41', 520110, 625, None)]
    """
    records = _records(text, source)
    return tuple(_carrier(fields, sinr_encoding) for name, fields in records if name == "QCAINFO")


def ca_bands(carriers: Sequence[ComponentCarrier]) -> str | None:
    """The carriers' bands joined with ``+``, the PCC first (`None` when there is none).

    One band alone means the modem listed no secondary carrier (some firmware leaves the NR leg
    of EN-DC out, as in the recorded EN-DC sample); repeated bands are intra-band carriers.

    >>> ca_bands([ComponentCarrier("SCC", "NR5G", "n41", 520110, 12, 625),
    ...           ComponentCarrier("PCC", "NR5G", "n71", 126490, 1, 24)])
    'n71+n41'
    """
    ordered = sorted(carriers, key=lambda carrier: carrier.role != "PCC")
    return "+".join(carrier.band for carrier in ordered) or None
