"""Quectel AT+QENG="servingcell" / +QNWINFO parsing, on every block of the real responses file."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.errors import ParseError
from probe.radio.quectel import parse_qeng_servingcell, parse_qnwinfo
from probe.record import Access, Carrier

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
    for parse in (parse_qeng_servingcell, parse_qnwinfo):
        with contextlib.suppress(ParseError):
            parse(text)
