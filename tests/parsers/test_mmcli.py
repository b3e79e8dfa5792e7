"""ModemManager `mmcli -J` parsing on the real recorded outputs, and RadioSnapshot conversion."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lomsong.probe.errors import ParseError
from lomsong.probe.radio.mmcli import parse_mmcli_location, parse_mmcli_modem, parse_mmcli_signal
from lomsong.probe.radio.snapshot import RadioSnapshot, merge_snapshots, radio_fields, to_measurement
from lomsong.probe.record import Access, Carrier, ErrorKind, Kind

from .helpers import corrupted, real_text

MODEM = "modem/mmcli_J_"


@pytest.mark.parametrize(
    ("name", "state", "access", "plmn", "registered", "quality", "error"),
    [
        ("quectel_eg25_rpi_connected_lte", "connected", Access.LTE, ("230", "02"), True, 60, None),
        ("huawei_e3131_connected_3g", "connected", Access.GSM, (None, None), True, 74, None),
        ("searching", "searching", Access.UNKNOWN, (None, None), False, 0, "searching"),
        ("without_sim", "failed", Access.UNKNOWN, (None, None), False, 0, "sim-missing"),
        (
            "telit_le910c4_connected_lte_roaming",
            "connected",
            Access.LTE,
            ("262", "02"),
            True,
            75,
            None,
        ),
    ],
)
def test_modem_files(
    name: str,
    state: str,
    access: Access,
    plmn: tuple[str | None, str | None],
    registered: bool,
    quality: int,
    error: str | None,
) -> None:
    snap = parse_mmcli_modem(real_text(f"{MODEM}{name}.json"))
    assert (snap.state, snap.access, (snap.mcc, snap.mnc)) == (state, access, plmn)
    assert (snap.registered, snap.signal_quality_pct, snap.service_error) == (
        registered,
        quality,
        error,
    )
    assert snap.carrier is (Carrier.OTHER if plmn[0] else Carrier.UNKNOWN)


def test_operator_names() -> None:
    assert (
        parse_mmcli_modem(real_text(f"{MODEM}quectel_eg25_rpi_connected_lte.json")).operator_name
        == "O2.CZ O2-CZ"
    )
    assert parse_mmcli_modem(real_text(f"{MODEM}without_sim.json")).operator_name is None


def test_signal_all_dashes_is_all_none() -> None:
    snap = parse_mmcli_signal(real_text("modem/mmcli_signal-get_J_not_setup_all_dashes.json"))
    assert radio_fields(snap) == {}


def test_signal_partial_lte_and_5g() -> None:
    snap = parse_mmcli_signal(real_text("modem/mmcli_signal-get_J_orb_lte_5g_partial.json"))
    assert (snap.rsrp_dbm, snap.rsrq_db, snap.sinr_db, snap.rssi_dbm) == (-104.0, None, 2.0, None)
    assert (snap.nr_rsrp_dbm, snap.nr_rsrq_db, snap.nr_sinr_db) == (None, -14.0, None)


def test_signal_decimal_comma_and_umts_fallback() -> None:
    comma = real_text("modem/mmcli_signal-get_J_orb_lte_5g_partial.json").replace("-104.00", "-104,00")
    assert parse_mmcli_signal(comma).rsrp_dbm == -104.0
    umts = parse_mmcli_signal('{"modem":{"signal":{"lte":{"rsrp":"--"},"umts":{"rssi":"-71.00"}}}}')
    assert umts.rssi_dbm == -71.0


def test_location_3gpp_cell() -> None:
    snap = parse_mmcli_location(real_text("modem/mmcli_location-get_J_3gpp_cell.json"))
    assert (snap.mcc, snap.mnc, snap.cell_id, snap.tac) == ("262", "03", 0x0197763E, 0x00C945)


def test_merge_and_measurement_for_a_vietnamese_modem() -> None:
    modem = parse_mmcli_modem(
        real_text(f"{MODEM}quectel_eg25_rpi_connected_lte.json").replace("23002", "45204")
    )
    signal = parse_mmcli_signal(real_text("modem/mmcli_signal-get_J_orb_lte_5g_partial.json"))
    snap = merge_snapshots(modem, signal)
    assert (snap.tool, snap.carrier, snap.rsrp_dbm, snap.access) == (
        "mmcli",
        Carrier.VIETTEL,
        -104.0,
        Access.LTE,
    )
    m = to_measurement(
        snap, probe_id="pi-1", measured_at=datetime(2026, 11, 2, tzinfo=UTC), interface="wwan0"
    )
    assert (m.kind, m.carrier, m.access, m.mcc, m.mnc, m.rsrp_dbm, m.sinr_db, m.nr_rsrq_db) == (
        Kind.RADIO_SNAPSHOT,
        Carrier.VIETTEL,
        Access.LTE,
        "452",
        "04",
        -104.0,
        2.0,
        -14.0,
    )
    assert m.error_kind is None


def test_no_sim_is_a_failed_snapshot() -> None:
    snap = parse_mmcli_modem(real_text(f"{MODEM}without_sim.json"))
    m = to_measurement(snap, probe_id="pi-1", measured_at=datetime(2026, 11, 2, tzinfo=UTC))
    assert (m.error_kind, m.error_message) == (ErrorKind.MODEM_ERROR, "sim-missing")
    searching = to_measurement(
        parse_mmcli_modem(real_text(f"{MODEM}searching.json")),
        probe_id="pi-1",
        measured_at=datetime(2026, 11, 2, tzinfo=UTC),
    )
    assert searching.error_kind is ErrorKind.NO_SERVICE


def test_radio_fields_drop_sentinels_and_keep_callers_carrier() -> None:
    snap = RadioSnapshot(tool="t", rsrp_dbm=-32768.0, rsrq_db=-11.0, mcc="452", mnc=None)
    assert radio_fields(snap) == {"rsrq_db": -11.0}


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (parse_mmcli_modem, "[]", "no 'modem'"),
        (
            parse_mmcli_modem,
            '{"modem":{"generic":{"signal-quality":{"value":"150"}}}}',
            "signal-quality",
        ),
        (parse_mmcli_modem, '{"modem":{"3gpp":{"operator-code":"ABCDE"}}}', "operator-code"),
        (parse_mmcli_signal, '{"modem":{"signal":{"lte":{"rsrp":"strong"}}}}', "lte.rsrp"),
        (parse_mmcli_signal, '{"modem":', "not JSON"),
        (
            parse_mmcli_location,
            '{"modem":{"location":{"3gpp":{"mcc":"262","mnc":"03","cid":"XYZ"}}}}',
            "cid",
        ),
    ],
)
def test_bad_input(parse: Callable[[str], RadioSnapshot], text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse(text)


MMCLI_FILES = [
    "modem/mmcli_J_telit_le910c4_connected_lte_roaming.json",
    "modem/mmcli_J_without_sim.json",
    "modem/mmcli_signal-get_J_orb_lte_5g_partial.json",
    "modem/mmcli_location-get_J_3gpp_cell.json",
]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), name=st.sampled_from(MMCLI_FILES))
def test_corrupted_files_parse_or_raise_parse_error(data: st.DataObject, name: str) -> None:
    text = data.draw(corrupted(real_text(name)))
    for parse in (parse_mmcli_modem, parse_mmcli_signal, parse_mmcli_location):
        with contextlib.suppress(ParseError):
            parse(text)
