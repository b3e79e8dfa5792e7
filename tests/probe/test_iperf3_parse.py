"""`parse_iperf3` on every real iperf3 file in ../shared/realdata/iperf3 (numbers read by hand)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lomsong.probe.errors import ParseError
from lomsong.probe.record import ErrorKind
from lomsong.probe.runners.iperf3 import Iperf3Result, classify_iperf3_error, parse_iperf3

HAND_WRITTEN = Path(__file__).parent / "data" / "iperf3_json"  # see its PROVENANCE.md


def _parse(realdata: Path, name: str) -> Iperf3Result:
    path = realdata / "iperf3" / name
    return parse_iperf3(path.read_text(encoding="utf-8"), source=name)


def test_every_realdata_file_is_covered(realdata: Path) -> None:
    covered = {
        "openwisp_iperf3.9_tcp_openwrt.json",
        "openwisp_iperf3.9_udp_openwrt.json",
        "openwisp_iperf3.7_error_connection_refused.json",
        "openwisp_iperf3.7_error_auth_failed.json",
        "flxo_iperf3.12_tcp_interrupted.json",
        "flxo_iperf3.12_tcp_parallel2.json",
        "flxo_iperf3.12_udp_1mbps.json",
        "masquerade_iperf3.17.1_tcp_reverse_download_with_server_output.json",
    }
    assert {p.name for p in (realdata / "iperf3").glob("*.json")} == covered


def test_tcp_upload_uses_sum_received(realdata: Path) -> None:
    r = _parse(realdata, "openwisp_iperf3.9_tcp_openwrt.json")
    # end.sum_received.bits_per_second = 44042139781.797935 (sender: 44042377604.16823)
    assert r.received_bps == 44042139781.797935
    assert r.received_mbps == pytest.approx(44042.139781797935)
    assert r.sent_bps == 44042377604.16823
    assert (r.tool_version, r.protocol, r.reverse, r.num_streams) == ("3.9", "TCP", False, 1)
    assert r.bytes_moved == 55054172160
    assert r.duration_s == 10.000272
    assert r.retransmits == 0
    assert r.mean_rtt_ms == pytest.approx(0.025)  # mean_rtt 25 us
    assert r.server == "localhost:5201"
    assert (r.error, r.error_kind, r.jitter_ms) == (None, None, None)


def test_udp_old_version_uses_end_sum(realdata: Path) -> None:
    r = _parse(realdata, "openwisp_iperf3.9_udp_openwrt.json")
    assert r.protocol == "UDP"
    # No sum_received before 3.11: end.sum holds the sender's 1310720 bytes (1048569.7 bit/s over
    # the sender's 10.00006 s); none of its 40 datagrams lost, so they arrived over 10.000115 s.
    assert r.received_bps == pytest.approx(1310720 * 8 / 10.000115)
    assert r.sent_bps == 1048569.7085817485
    assert r.jitter_ms == 0.011259258240784126
    assert r.lost_percent == 0
    assert r.bytes_moved == 1310720
    assert r.duration_s == 10.000115
    assert r.retransmits is None and r.mean_rtt_ms is None


def test_udp_3_12_rate_from_sum_received_jitter_from_sum(realdata: Path) -> None:
    r = _parse(realdata, "flxo_iperf3.12_udp_1mbps.json")
    assert r.received_bps == 1048281.4329173502
    assert r.sent_bps == 1048417.1647995327
    assert r.jitter_ms == 0.022477844208478922
    assert r.lost_percent == 0
    assert r.bytes_moved == 262144
    assert r.duration_s == 2.000562


def test_parallel_streams(realdata: Path) -> None:
    r = _parse(realdata, "flxo_iperf3.12_tcp_parallel2.json")
    assert r.num_streams == 2
    assert r.received_bps == 644399310.303823
    assert r.bytes_moved == 86348578  # sum_sent 86348578 > sum_received 83995678
    assert r.duration_s == 1.042778
    assert r.mean_rtt_ms == pytest.approx((2719 + 2955) / 2 / 1000)


def test_interrupted_run_keeps_error_and_sender_data(realdata: Path) -> None:
    r = _parse(realdata, "flxo_iperf3.12_tcp_interrupted.json")
    assert r.error == "interrupt - the client has terminated"
    assert r.error_kind is ErrorKind.INTERRUPTED
    assert r.received_bps is None  # the server's receive report never arrived (bytes 0)
    assert r.sent_bps == 224075055.564877
    assert r.bytes_moved == 135384440
    assert r.duration_s == 4.833539
    assert r.retransmits == 35
    assert r.mean_rtt_ms == pytest.approx(5.487)


def test_reverse_download_rtt_from_server_output(realdata: Path) -> None:
    r = _parse(realdata, "masquerade_iperf3.17.1_tcp_reverse_download_with_server_output.json")
    assert (r.tool_version, r.reverse) == ("3.17.1", True)
    assert r.received_bps == 9996643.79305386
    assert r.bytes_moved == 18743296
    assert r.duration_s == 14.999671
    assert r.retransmits == 1
    # client's sender streams report mean_rtt 0 (client is the receiver); the server's says 1814 us
    assert r.mean_rtt_ms == pytest.approx(1.814)
    assert r.server == "192.168.0.45:7070"


def test_connection_refused(realdata: Path) -> None:
    r = _parse(realdata, "openwisp_iperf3.7_error_connection_refused.json")
    assert r.error_kind is ErrorKind.CONNECTION_REFUSED
    assert r.error == "error - unable to connect to server: Connection refused"
    assert (r.received_bps, r.bytes_moved, r.duration_s, r.tool_version) == (None, 0, None, "3.7")


def test_auth_failed_is_a_tool_error_not_a_network_one(realdata: Path) -> None:
    r = _parse(realdata, "openwisp_iperf3.7_error_auth_failed.json")
    assert r.error_kind is ErrorKind.TOOL_ERROR
    assert r.server == "192.168.5.109:5201"
    assert r.received_bps is None


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("the server is busy running a test. try again later", ErrorKind.SERVER_BUSY),
        ("error - unable to connect to server: Connection timed out", ErrorKind.TIMEOUT),
        ("unable to connect to server: Name or service not known", ErrorKind.DNS_FAILURE),
        ("unable to connect to server: No route to host", ErrorKind.NETWORK_UNREACHABLE),
        ("unable to connect to server: Network is unreachable", ErrorKind.NETWORK_UNREACHABLE),
        ("unable to connect to server: No such device", ErrorKind.NETWORK_UNREACHABLE),
        ("control socket has closed unexpectedly", ErrorKind.INTERRUPTED),
        ("something new", ErrorKind.TOOL_ERROR),
    ],
)
def test_classify_errors(message: str, kind: ErrorKind) -> None:
    assert classify_iperf3_error(message) is kind


def test_truncated_json_names_source_and_line(realdata: Path) -> None:
    text = (realdata / "iperf3" / "flxo_iperf3.12_tcp_parallel2.json").read_text()
    with pytest.raises(ParseError, match=r"^run-7: *\d+: not JSON") as caught:
        parse_iperf3(text[: len(text) // 2], source="run-7")
    assert caught.value.source == "run-7" and caught.value.line is not None


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("garbage", "not JSON"),
        ("[1, 2]", "document is list"),
        ('{"hello": 1}', "not iperf3 --json output"),
        ('{"start": {}, "end": {"sum_received": {"bits_per_second": "fast"}}}', "sum_received"),
        ('{"start": {"test_start": {"bidir": 1}}}', "bidir"),
    ],
)
def test_bad_documents(text: str, match: str) -> None:
    with pytest.raises(ParseError, match=match):
        parse_iperf3(text, source="x.json")


def test_every_realdata_file_gives_a_rate_or_an_error(realdata: Path) -> None:
    for path in sorted((realdata / "iperf3").glob("*.json")):
        r = parse_iperf3(path.read_text(encoding="utf-8"), source=path.name)
        assert r.error_kind is not None or (r.received_bps is not None and r.received_bps > 0), path.name


def _hand_written(name: str) -> Iperf3Result:
    return parse_iperf3((HAND_WRITTEN / name).read_text(encoding="utf-8"), source=name)


def test_receiver_zero_bytes_without_error_is_a_failure_not_a_zero() -> None:
    r = _hand_written("iperf3.9_tcp_upload_received_zero.json")
    assert (r.received_bps, r.received_mbps) == (None, None)
    assert r.error_kind is ErrorKind.TOOL_ERROR
    assert r.error == (
        "iperf3 reported no error, but end.sum_received has no bytes (the sender sent 57344 bytes): "
        "no rate was measured"
    )
    assert (r.tool_version, r.bytes_moved, r.duration_s) == ("3.9", 57344, 10.000812)
    assert r.sent_bps == pytest.approx(57344 * 8 / 10.000812)


def test_empty_end_without_error_is_a_failure() -> None:
    r = _hand_written("iperf3.12_tcp_download_empty_end.json")
    assert (r.received_bps, r.bytes_moved, r.duration_s, r.reverse) == (None, 0, None, True)
    assert r.error_kind is ErrorKind.TOOL_ERROR
    assert r.error == "iperf3 reported no error, but its end block is empty: no rate was measured"


def test_udp_before_3_11_reads_the_receiver_not_the_senders_total() -> None:
    r = _hand_written("iperf3.10.1_udp_upload_loss.json")
    # end.sum: 2780160 bytes sent at 20.0 Mbit/s; the receiver lost 240 of 1920 datagrams.
    assert r.sent_bps == pytest.approx(20.00115e6, rel=1e-6)
    assert r.received_bps == pytest.approx(2780160 * (1920 - 240) / 1920 * 8 / 1.118)
    assert r.received_mbps == pytest.approx(17.407, abs=1e-3)
    assert (r.jitter_ms, r.lost_percent) == (0.842, 12.5)
    assert r.bytes_moved == 2780160 and r.error_kind is None


def test_udp_from_3_11_takes_jitter_and_loss_from_the_receiver(realdata: Path) -> None:
    text = (realdata / "iperf3" / "flxo_iperf3.12_udp_1mbps.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    # Make the two sides differ: the receiver's figures must win over end.sum's.
    doc["end"]["sum"].update(jitter_ms=9.0, lost_percent=50.0)
    doc["end"]["sum_received"].update(jitter_ms=0.5, lost_percent=2.0)
    r = parse_iperf3(json.dumps(doc), source="t")
    assert (r.jitter_ms, r.lost_percent, r.received_bps) == (0.5, 2.0, 1048281.4329173502)


def test_udp_from_3_11_without_receiver_totals_is_a_failure(realdata: Path) -> None:
    doc = json.loads((realdata / "iperf3" / "flxo_iperf3.12_udp_1mbps.json").read_text(encoding="utf-8"))
    del doc["end"]["sum_received"]
    r = parse_iperf3(json.dumps(doc), source="t")
    assert r.error_kind is ErrorKind.TOOL_ERROR and r.received_bps is None
    assert (r.jitter_ms, r.lost_percent) == (None, None)
