"""Quectel AT+QENG="servingcell" / +QNWINFO / +QCAINFO parsing, on every block of the real
responses file."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lomsong.probe.errors import ParseError
from lomsong.probe.radio.quectel import (
    ComponentCarrier,
    ca_bands,
    parse_qcainfo,
    parse_qeng_servingcell,
    parse_qnwinfo,
)
from lomsong.probe.radio.snapshot import RadioSnapshot, merge_snapshots, radio_fields, to_measurement
from lomsong.probe.record import Access, Carrier

from .helpers import corrupted, real_text

QENG_FILE = "modem/quectel_qeng_servingcell_real_responses.txt"


def blocks() -> dict[str, str]:
    """Blocks of the file keyed by the first words of their "### " title; comment lines removed."""
    out: dict[str, str] = {}
    for chunk in real_text(QENG_FILE).split("\n### ")[1:]:
        title, *lines = chunk.splitlines()
        out[title] = "\n".join(line for line in lines if not line.startswith("#"))
    return out


def block(prefix: str) -> str:
    found = [text for title, text in blocks().items() if title.startswith(prefix)]
    assert len(found) == 1, prefix
    return found[0]


def test_file_has_the_nine_blocks_we_test() -> None:
    assert len(blocks()) == 9


LTE_CASES = [
    # title prefix, cell_id hex, pci, earfcn, band, tac hex, rsrp, rsrq, rssi, sinr
    ("LTE only, Quectel EP06-E", "4CAA71F", 28, 1500, "B3", "77B8", -84, -9, -56, 21),
    ("LTE only, Quectel (spusu", "243800E", 20, 3350, "B7", "3AC9", -86, -13, -52, 15),
    ("LTE only, Quectel EC200T", "43300C", 348, 1802, "B3", "5443", -87, -16, -69, 5),
]


@pytest.mark.parametrize(
    ("title", "cid", "pci", "earfcn", "band", "tac", "rsrp", "rsrq", "rssi", "sinr"), LTE_CASES
)
def test_lte_blocks(
    title: str,
    cid: str,
    pci: int,
    earfcn: int,
    band: str,
    tac: str,
    rsrp: int,
    rsrq: int,
    rssi: int,
    sinr: int,
) -> None:
    snap = parse_qeng_servingcell(block(title))
    assert snap.access is Access.LTE
    assert (snap.state, snap.registered, snap.service_error) == ("NOCONN", True, None)
    assert (snap.cell_id, snap.pci, snap.earfcn, snap.band, snap.tac) == (
        int(cid, 16),
        pci,
        earfcn,
        band,
        int(tac, 16),
    )
    assert (snap.rsrp_dbm, snap.rsrq_db, snap.rssi_dbm, snap.sinr_db) == (rsrp, rsrq, rssi, sinr)
    assert snap.nr_rsrp_dbm is None


def test_ec200t_plmn_keeps_leading_zero_mnc() -> None:
    snap = parse_qeng_servingcell(block("LTE only, Quectel EC200T"))
    assert (snap.mcc, snap.mnc, snap.carrier) == ("123", "01", Carrier.OTHER)


def test_endc_lte_anchor_plus_nr5g_nsa_without_space_after_colon() -> None:
    snap = parse_qeng_servingcell(block("EN-DC (LTE anchor + NR5G-NSA)"))
    assert snap.access is Access.NR_NSA
    assert (snap.mcc, snap.mnc) == ("515", "03")
    assert (snap.cell_id, snap.pci, snap.earfcn, snap.band, snap.tac) == (
        0x3359966,
        1,
        150,
        "B1",
        0x4AA3,
    )
    assert (snap.rsrp_dbm, snap.rsrq_db, snap.rssi_dbm, snap.sinr_db) == (-89, -13, -58, 16)
    assert (snap.nr_pci, snap.nr_rsrp_dbm, snap.nr_sinr_db, snap.nr_rsrq_db) == (832, -76, 21, -11)
    assert (snap.nr_arfcn, snap.nr_band) == (528030, "n41")


@pytest.mark.parametrize(
    ("title", "state", "plmn", "cid", "pci", "tac", "arfcn", "band", "rsrp", "rsrq", "sinr"),
    [
        (
            "NR5G-SA, T-Mobile",
            "NOCONN",
            ("310", "260"),
            "939204254",
            24,
            "60AA00",
            126490,
            "n71",
            -104,
            -13,
            11,
        ),
        (
            "NR5G-SA, DITO",
            "NOCONN",
            ("515", "66"),
            "100072000",
            538,
            "114000",
            620640,
            "n78",
            -109,
            -12,
            14,
        ),
        (
            "NR5G-SA LIMSRV",
            "LIMSRV",
            ("262", "99"),
            "000BC614E",
            0,
            "1",
            640320,
            "n77",
            -72,
            -10,
            29,
        ),
    ],
)
def test_nr5g_sa_blocks(
    title: str,
    state: str,
    plmn: tuple[str, str],
    cid: str,
    pci: int,
    tac: str,
    arfcn: int,
    band: str,
    rsrp: int,
    rsrq: int,
    sinr: int,
) -> None:
    snap = parse_qeng_servingcell(block(title))
    assert snap.access is Access.NR_SA
    assert snap.state == state
    assert snap.registered is (state != "LIMSRV")
    assert snap.service_error == (None if state == "NOCONN" else "limited-service")
    assert (snap.mcc, snap.mnc) == plmn
    assert (snap.cell_id, snap.nr_pci, snap.tac, snap.nr_arfcn, snap.nr_band) == (
        int(cid, 16),
        pci,
        int(tac, 16),
        arfcn,
        band,
    )
    assert (snap.nr_rsrp_dbm, snap.nr_rsrq_db, snap.nr_sinr_db) == (rsrp, rsrq, sinr)
    assert snap.rsrp_dbm is None


def test_early_rm500q_via_mmcli_command_truncated_nsa_line() -> None:
    snap = parse_qeng_servingcell(block("Early RM500Q firmware"))
    assert snap.access is Access.NR_NSA
    assert (snap.mcc, snap.mnc) == ("001", "01")
    assert (snap.rsrp_dbm, snap.rsrq_db, snap.rssi_dbm, snap.sinr_db) == (-70, -9, -46, 25)
    # 180 is no dB value: read as the 0..250 code, 180/5 - 20 = 16 dB (qmicli said 18.5 dB).
    assert (snap.nr_pci, snap.nr_rsrp_dbm, snap.nr_sinr_db, snap.nr_rsrq_db) == (
        500,
        -75,
        16.0,
        -11,
    )
    assert snap.nr_arfcn is None and snap.nr_band is None


def test_rm551e_block_has_no_servingcell_record() -> None:
    with pytest.raises(ParseError, match="no \\+QENG"):
        parse_qeng_servingcell(block("NR5G SA CA info from RM551E"))


def test_sinr_encodings() -> None:
    line = '+QENG: "servingcell","CONNECT","LTE","FDD",452,04,1A2B,10,1650,3,5,5,3F,-95,-10,-65,{},8,20,-'
    assert parse_qeng_servingcell(line.format(150)).sinr_db == 10.0
    assert parse_qeng_servingcell(line.format(21), sinr_encoding="raw250").sinr_db == pytest.approx(-15.8)
    assert parse_qeng_servingcell(line.format(150), sinr_encoding="db").sinr_db == 150.0
    snap = parse_qeng_servingcell(line.format(12))
    assert (snap.carrier, snap.state, snap.sinr_db) == (Carrier.VIETTEL, "CONNECT", 12.0)


def test_search_state_and_wcdma() -> None:
    snap = parse_qeng_servingcell('+QENG: "servingcell","SEARCH"')
    assert (snap.access, snap.registered, snap.service_error) == (
        Access.UNKNOWN,
        False,
        "searching",
    )
    wcdma = parse_qeng_servingcell('+QENG: "servingcell","NOCONN","WCDMA",452,02,5DC,8A2F1,10713,3,1,-95,-7')
    assert (wcdma.access, wcdma.carrier, wcdma.cell_id) == (Access.UMTS, Carrier.VNPT, 0x8A2F1)


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("OK", "no \\+QENG", None),
        ('\n+QENG: "servingcell","WEIRD"', "unknown state", 2),
        (
            '+QENG: "servingcell","NOCONN","LTE","FDD",452,04,ZZZ,1,1,3,5,5,3F,-95,-10,-65,10',
            "cellID",
            1,
        ),
        ('+QENG: "servingcell","NOCONN","LTE","FDD",452,04', "expected >= 17", 1),
        ('+QENG: "servingcell","NOCONN","LTE","FDD",4X2,04,1,1,1,3,5,5,3F,-95,-10,-65,1', "MCC", 1),
    ],
)
def test_bad_input_names_the_line(text: str, message: str, line: int | None) -> None:
    with pytest.raises(ParseError, match=message) as caught:
        parse_qeng_servingcell(text)
    assert caught.value.line == line


@pytest.mark.parametrize(
    ("title", "access", "lte", "nr"),
    [
        ("LTE only, Quectel (spusu", Access.LTE, ("B7", 3350), (None, None)),
        ("LTE only, Quectel EC200T", Access.LTE, ("B3", 1802), (None, None)),
        ("EN-DC (LTE anchor + NR5G-NSA)", Access.NR_NSA, ("B1", 150), ("n41", 528030)),
        ("NR5G-SA, T-Mobile", Access.NR_SA, (None, None), ("n71", 126490)),
        ("NR5G-SA, DITO", Access.NR_SA, (None, None), ("n78", 620640)),
    ],
)
def test_qnwinfo(title: str, access: Access, lte: tuple[object, object], nr: tuple[object, object]) -> None:
    snap = parse_qnwinfo(block(title))
    assert snap.access is access
    assert (snap.band, snap.earfcn) == lte
    assert (snap.nr_band, snap.nr_arfcn) == nr


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_corrupted_file_parses_or_raises_parse_error(data: st.DataObject) -> None:
    text = data.draw(corrupted(real_text(QENG_FILE)))
    for parse in (parse_qeng_servingcell, parse_qnwinfo, parse_qcainfo):
        with contextlib.suppress(ParseError):
            parse(text)


def _cc(
    role: Literal["PCC", "SCC"],
    rat: Literal["LTE", "NR5G"],
    band: str,
    arfcn: int,
    bw: int,
    pci: int,
    state: int | None,
    signals: tuple[float | None, ...] = (None, None, None, None),
) -> ComponentCarrier:
    rsrp, rsrq, rssi, sinr = signals
    return ComponentCarrier(role, rat, band, arfcn, bw, pci, state, rsrp, rsrq, rssi, sinr)


# Every block of the file with +QCAINFO records: its carriers as printed and its ca_bands.
QCAINFO_CASES = {
    "EN-DC (LTE anchor + NR5G-NSA)": (
        [_cc("PCC", "LTE", "B1", 150, 100, 1, 1, (-89, -10, -59, 15))], "B1"),
    "NR5G-SA, T-Mobile": (
        [_cc("PCC", "NR5G", "n71", 126490, 1, 24, None),
         _cc("SCC", "NR5G", "n41", 520110, 12, 625, 1)], "n71+n41"),
    "NR5G-SA, DITO": ([_cc("PCC", "NR5G", "n78", 620640, 12, 538, None)], "n78"),
    # Verbose mode: NR SNR in hundredths of a dB; the firmware's RSRP -11 is kept as printed.
    "NR5G SA CA info from RM551E": (
        [_cc("PCC", "NR5G", "n41", 501390, 12, 153, None, (-11, -11, None, 25.49)),
         _cc("SCC", "NR5G", "n71", 126270, 2, 93, 1),
         _cc("SCC", "NR5G", "n41", 521310, 11, 153, 1, (-11, -11, None, 25.49))], "n41+n71+n41"),
}  # fmt: skip


def test_every_block_with_qcainfo_records_is_a_case() -> None:
    with_ca = {title for title, text in blocks().items() if "+QCAINFO:" in text}
    assert {next(t for t in with_ca if t.startswith(prefix)) for prefix in QCAINFO_CASES} == with_ca


@pytest.mark.parametrize("title", list(QCAINFO_CASES))
def test_qcainfo_blocks(title: str) -> None:
    expected, bands = QCAINFO_CASES[title]
    text = block(title)
    carriers = parse_qcainfo(text)
    assert list(carriers) == expected
    assert len(carriers) == text.count("+QCAINFO:")
    assert ca_bands(carriers) == bands


def test_blocks_without_qcainfo_give_no_carriers() -> None:
    for title, text in blocks().items():
        if "+QCAINFO:" not in text:
            assert parse_qcainfo(text) == (), title


def test_rm551e_missing_newline_gives_two_records_on_one_line() -> None:
    text = block("NR5G SA CA info from RM551E")
    (bug_line,) = [line for line in text.splitlines() if line.count("+QCAINFO:") == 2]
    first, second = parse_qcainfo(bug_line)
    assert (first.role, first.band, first.pci, first.rsrp_dbm) == ("SCC", "n71", 93, None)
    assert (second.role, second.band, second.pci, second.sinr_db) == ("SCC", "n41", 153, 25.49)
    with pytest.raises(ParseError, match="bandwidth") as caught:
        parse_qcainfo('OK\n+QCAINFO: "PCC",1,1,"NR5G BAND 41",1+QCAINFO: "SCC",2,x,"NR5G BAND 41",7')
    assert caught.value.line == 2


def test_qcainfo_layouts_not_in_the_samples() -> None:
    """Lines built from the manual's layouts (not recorded): LTE SCC with its uplink fields,
    the short NR SCC of EN-DC, the long verbose NR SCC without SNR, mmcli's wrapper."""
    text = (
        "response: '+QCAINFO: \"SCC\",1300,100,\"LTE BAND 3\",1,49,-85,-8,-67,0,0,-,-\n"
        '+QCAINFO: "pcc",1850,50,"LTE BAND 3",1,301,-95,-11,-66,10\n'
        '+QCAINFO: "SCC",627264,12,"NR5G BAND 78",412,-88,-12,1530\n'
        '+QCAINFO: "SCC",521310,11,"NR5G BAND 41",1,153,0,-,-,-93,-11,-32768\''
    )
    lte_scc, lte_pcc, nsa, sa = parse_qcainfo(text)
    assert lte_scc == _cc("SCC", "LTE", "B3", 1300, 100, 49, 1, (-85, -8, -67, 0))
    assert lte_pcc == _cc("PCC", "LTE", "B3", 1850, 50, 301, 1, (-95, -11, -66, 10))
    assert nsa == _cc("SCC", "NR5G", "n78", 627264, 12, 412, None, (-88, -12, None, 15.3))
    assert sa == _cc("SCC", "NR5G", "n41", 521310, 11, 153, 1, (-93, -11, None, None))
    assert ca_bands((lte_scc, lte_pcc, nsa, sa)) == "B3+B3+n78+n41"  # the PCC first
    assert ca_bands(()) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('+QCAINFO: "XCC",150,100,"LTE BAND 1",1,1,-89,-10,-59,15', "neither PCC nor SCC"),
        ('+QCAINFO: "PCC",150,100,"UMTS BAND 1",1,1,-89,-10,-59,15', "band is not"),
        ('+QCAINFO: "PCC",150,100,"LTE BAND 1",1,1,-89', "expected >= 10"),
        ('+QCAINFO: "PCC",150,100,"LTE BAND 1",1,X1,-89,-10,-59,15', "PCID is not an integer"),
        ('+QCAINFO: "SCC",520110,12,"NR5G BAND 41",1,625', "6 fields, expected 5, 7, 8, 9"),
        ('+QCAINFO: "SCC",520110', "expected >= 5"),
    ],
)
def test_malformed_qcainfo_names_source_and_line(line: str, message: str) -> None:
    text = f'AT+QCAINFO\r\n+QCAINFO: "PCC",126490,1,"NR5G BAND 71",24\r\n{line}\r\nOK'
    with pytest.raises(ParseError, match=message) as caught:
        parse_qcainfo(text, source="/dev/ttyUSB2 AT+QCAINFO")
    assert (caught.value.source, caught.value.line) == ("/dev/ttyUSB2 AT+QCAINFO", 3)
    assert str(caught.value).startswith("/dev/ttyUSB2 AT+QCAINFO:3: ")


def test_ca_bands_travel_with_the_snapshot() -> None:
    text = block("NR5G-SA, T-Mobile")
    ca = RadioSnapshot(tool="quectel-qcainfo", ca_bands=ca_bands(parse_qcainfo(text)))
    merged = merge_snapshots(parse_qeng_servingcell(text), ca)
    assert (merged.tool, merged.nr_band, merged.ca_bands) == (
        "quectel-qeng+quectel-qcainfo", "n71", "n71+n41")  # fmt: skip
    assert radio_fields(merged)["ca_bands"] == "n71+n41"
    m = to_measurement(merged, probe_id="pi-1", measured_at=datetime(2026, 11, 2, tzinfo=UTC))
    assert m.ca_bands == "n71+n41"
    too_long = RadioSnapshot(tool="x", ca_bands="+".join(["n41"] * 17), band="B3")
    assert radio_fields(too_long) == {"band": "B3"}
