"""Radio reader: mmcli on recorded real JSON, Quectel AT over a pseudo-terminal, merging."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from lomsong.probe.plan import ModemSettings
from lomsong.probe.radio.reader import RadioReading, at_command, attach_radio, radio_records, read_radio
from lomsong.probe.radio.snapshot import RadioSnapshot
from lomsong.probe.record import Access, Carrier, ErrorKind, Kind, Measurement
from lomsong.probe.runners.base import CommandResult, TestContext

REALDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata" / "modem"
# The EN-DC answer from quectel_qeng_servingcell_real_responses.txt (issue #56 block), as sent.
ENDC = (
    '+QENG: "servingcell","NOCONN"\r\n'
    '+QENG: "LTE","FDD",515,03,3359966,1,150,1,5,5,4AA3,-89,-13,-58,16,15,20,-\r\n'
    '+QENG:"NR5G-NSA",515,03,832,-76,21,-11,528030,41,8,1\r\n\r\nOK\r\n'
)
ENDC_CA = '+QCAINFO: "PCC",150,100,"LTE BAND 1",1,1,-89,-10,-59,15\r\n\r\nOK\r\n'
# The T-Mobile 5G SA block of the same file (issue #48): n71 primary, n41 secondary.
SA = ('+QENG: "servingcell","NOCONN","NR5G-SA","FDD",310,260,939204254,24,60AA00,126490,71,1,'
      '-104,-13,11,0,-\r\n\r\nOK\r\n')
SA_CA = ('+QCAINFO: "PCC",126490,1,"NR5G BAND 71",24\r\n'
         '+QCAINFO: "SCC",520110,12,"NR5G BAND 41",1,625,0,-,-\r\n\r\nOK\r\n')
QENG_CMD = b'AT+QENG="servingcell"\r'
QCAINFO_CMD = b"AT+QCAINFO\r"


def _real(name: str) -> str:
    path = REALDATA / name
    if not path.exists():
        pytest.skip(f"{path} absent")
    return path.read_text()


class Mmcli:
    def __init__(self, modem: str, signal: str, returncode: int = 0) -> None:
        self.outputs = {False: modem, True: signal}
        self.returncode = returncode
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        self.calls.append(list(argv))
        err = "error: couldn't find modem" if self.returncode else ""
        return CommandResult(self.returncode, self.outputs["--signal-get" in argv], err, 0.1)


def test_mmcli_reading_merges_modem_and_signal() -> None:
    fake = Mmcli(_real("mmcli_J_quectel_eg25_rpi_connected_lte.json"),
                 _real("mmcli_signal-get_J_orb_lte_5g_partial.json"))  # fmt: skip
    reading = read_radio(ModemSettings(mmcli_index=0), command_runner=fake)
    assert fake.calls == [["mmcli", "-m", "0", "-J"], ["mmcli", "-m", "0", "--signal-get", "-J"]]
    assert reading.error is None and reading.snapshot is not None
    fields = reading.fields()
    assert fields["rsrp_dbm"] == -104.0 and fields["access"] is Access.LTE
    assert (fields["mcc"], fields["mnc"]) == ("230", "02")


def test_mmcli_failure_and_garbage_become_errors(ctx: TestContext) -> None:
    failed = read_radio(ModemSettings(mmcli_index=3), command_runner=Mmcli("", "", returncode=1))
    assert failed.snapshot is None and "couldn't find modem" in (failed.error or "")
    garbage = read_radio(ModemSettings(mmcli_index=0), command_runner=Mmcli('{"modem": ', ""))
    assert garbage.error is not None and "ParseError" in garbage.error
    (m,) = radio_records(failed, ctx, ctx.stamp())
    assert m.kind is Kind.RADIO_SNAPSHOT and m.error_kind is ErrorKind.MODEM_ERROR


def test_modem_without_service_is_sent_as_evidence(ctx: TestContext) -> None:
    fake = Mmcli(_real("mmcli_J_searching.json"), _real("mmcli_signal-get_J_not_setup_all_dashes.json"))
    reading = read_radio(ModemSettings(mmcli_index=0), command_runner=fake)
    (m,) = radio_records(reading, ctx, ctx.stamp())
    assert m.error_kind is ErrorKind.NO_SERVICE and m.probe_id == ctx.probe_id
    ok = RadioReading(RadioSnapshot(tool="mmcli", rsrp_dbm=-90.0), None, None)
    assert radio_records(ok, ctx, ctx.stamp()) == []


@contextmanager
def modem_answering(answers: dict[bytes, str]) -> Iterator[tuple[str, list[bytes]]]:
    """A pseudo-terminal whose far end answers each command (echoed) in turn, in any order."""
    controller, device = os.openpty()
    heard: list[bytes] = []

    def modem() -> None:
        for _ in answers:
            data = b""
            while not data.endswith(b"\r"):
                data += os.read(controller, 1024)
            heard.append(data)
            os.write(controller, data + b"\r\n" + answers.get(data, "\r\nERROR\r\n").encode())

    thread = threading.Thread(target=modem, daemon=True)
    thread.start()
    try:
        yield os.ttyname(device), heard
    finally:
        thread.join(timeout=5)
        os.close(device)
        os.close(controller)


@pytest.fixture
def fake_modem() -> Iterator[tuple[str, list[bytes]]]:
    """A modem answering AT+QENG and AT+QCAINFO with a real EN-DC response."""
    with modem_answering({QENG_CMD: ENDC, QCAINFO_CMD: ENDC_CA}) as port_heard:
        yield port_heard


def test_quectel_over_serial(fake_modem: tuple[str, list[bytes]]) -> None:
    port, heard = fake_modem
    reading = read_radio(ModemSettings(at_port=port, timeout_s=5))
    assert heard == [QENG_CMD, QCAINFO_CMD]
    assert reading.error is None and reading.snapshot is not None, reading.error
    fields = reading.fields()
    assert fields["access"] is Access.NR_NSA and fields["nr_rsrp_dbm"] == -76.0
    assert fields["rsrp_dbm"] == -89.0 and (fields["mcc"], fields["mnc"]) == ("515", "03")
    assert fields["ca_bands"] == "B1"  # the NR leg of EN-DC is not listed by this firmware


def test_quectel_carrier_aggregation_is_merged_and_attached(
    make_measurement: Callable[..., Measurement],
) -> None:
    with modem_answering({QENG_CMD: SA, QCAINFO_CMD: SA_CA}) as (port, heard):
        reading = read_radio(ModemSettings(at_port=port, timeout_s=5))
    assert heard == [QENG_CMD, QCAINFO_CMD]
    assert reading.snapshot is not None, reading.error
    assert (reading.snapshot.tool, reading.snapshot.nr_band, reading.snapshot.ca_bands) == (
        "quectel-qeng+quectel-qcainfo", "n71", "n71+n41")  # fmt: skip
    assert reading.raw is not None and "+QENG:" in reading.raw and "+QCAINFO:" in reading.raw
    (test,) = attach_radio([make_measurement()], reading)
    assert (test.ca_bands, test.nr_band, test.access) == ("n71+n41", "n71", Access.NR_SA)


def test_qcainfo_error_or_garbage_leaves_the_serving_cell(caplog: pytest.LogCaptureFixture) -> None:
    with modem_answering({QENG_CMD: SA, QCAINFO_CMD: "\r\nERROR\r\n"}) as (port, _):
        unsupported = read_radio(ModemSettings(at_port=port, timeout_s=5))
    assert unsupported.error is None and unsupported.snapshot is not None
    assert unsupported.snapshot.tool == "quectel-qeng" and "ca_bands" not in unsupported.fields()
    garbage = '+QCAINFO: "PCC",126490,1,"NR5G BAND 71"\r\nOK\r\n'
    caplog.set_level(logging.WARNING)
    with modem_answering({QENG_CMD: SA, QCAINFO_CMD: garbage}) as (port, _):
        unreadable = read_radio(ModemSettings(at_port=port, timeout_s=5))
    assert unreadable.error is None and unreadable.fields()["nr_rsrp_dbm"] == -104.0
    assert "ca_bands" not in unreadable.fields()
    assert unreadable.raw is not None and "NR5G BAND 71" in unreadable.raw
    assert "AT+QCAINFO left out" in caplog.text and "AT+QCAINFO:3: QCAINFO record has 4 fields" in caplog.text


def test_silent_port_times_out_and_missing_port_fails() -> None:
    controller, device = os.openpty()
    try:
        with pytest.raises(TimeoutError, match="no OK/ERROR"):
            at_command(os.ttyname(device), "AT", timeout_s=0.05)
        reading = read_radio(ModemSettings(at_port=os.ttyname(device), timeout_s=0.05))
        assert reading.error is not None and "TimeoutError" in reading.error
    finally:
        os.close(device)
        os.close(controller)
    gone = read_radio(ModemSettings(at_port="/dev/lomsong-no-such-port"))
    assert gone.error is not None and "cannot open AT port" in gone.error


def test_attach_radio_overrides_carrier_and_keeps_snapshots(
    make_measurement: Callable[..., Measurement],
) -> None:
    test = make_measurement(carrier=Carrier.UNKNOWN)
    snap = make_measurement(kind=Kind.RADIO_SNAPSHOT, download_mbps=None)
    reading = RadioReading(
        RadioSnapshot(tool="mmcli", carrier=Carrier.VIETTEL, access=Access.NR_NSA, rsrp_dbm=-95.0,
                      mcc="452", mnc="04"), None, None)  # fmt: skip
    merged, kept = attach_radio([test, snap], reading)
    assert (merged.id, merged.carrier, merged.access, merged.rsrp_dbm, merged.mnc) == (
        test.id, Carrier.VIETTEL, Access.NR_NSA, -95.0, "04")  # fmt: skip
    assert kept == snap
    assert attach_radio([test], RadioReading(None, None, "x")) == [test]
