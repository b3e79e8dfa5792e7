"""speedtest-cli / Ookla CLI parsing on real results, and the runner against the local stand-in."""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lomsong.probe.errors import ParseError
from lomsong.probe.record import Access, Carrier, ClockState, ErrorKind, Kind
from lomsong.probe.runners.base import CommandResult, TestContext
from lomsong.probe.runners.speedtest import (
    ServerInfo,
    SpeedtestRunner,
    choose_servers_vn,
    parse_ookla_cli_json,
    parse_server_list,
    parse_speedtest_cli_csv,
    parse_speedtest_cli_json,
    result_legs,
)

from .helpers import REALDATA, corrupted, real_text

STANDIN = REALDATA.parent / "tools" / "speedtest-standin"
CSV_FILE = "speedtest/sivel_speedtest-cli_csv_noheader_tokyo_2020-11-02.csv"


def test_ookla_fpt_ipv6() -> None:
    r = parse_ookla_cli_json(real_text("speedtest/ookla_cli_jsonl_vn_fpt_ipv6_vnpt_server.json"))
    assert r.download_mbps == pytest.approx(42159987 * 8 / 1e6)
    assert r.upload_mbps == pytest.approx(43509606 * 8 / 1e6)
    assert (r.ping_ms, r.jitter_ms, r.loss_pct) == (2.943, 4.83, 0.0)
    assert (r.bytes_received, r.bytes_sent, r.download_s, r.upload_s) == (
        455648159,
        404494226,
        10.31,
        9.005,
    )
    assert (r.server_id, r.server_label, r.isp) == (
        "17758",
        "VNPT-NET (Ho Chi Minh, Vietnam)",
        "FPT Telecom",
    )
    assert (r.interface, r.measured_at) == ("enp2s0", datetime(2024, 6, 10, 4, 2, 2, tzinfo=UTC))


def test_ookla_pretty_without_packet_loss() -> None:
    r = parse_ookla_cli_json(real_text("speedtest/ookla_cli_json_pretty_vn_cmc_no_packetloss.json"))
    assert r.download_mbps == pytest.approx(3.608832)
    assert r.upload_mbps == pytest.approx(74.452552)
    assert (r.loss_pct, r.ping_ms, r.server_country) == (None, 90.906, "Viet Nam")
    assert r.isp == "CMC Telecom Infrastructure Company"


def test_ookla_fractional_packet_loss_and_unicode_location() -> None:
    r = parse_ookla_cli_json(real_text("speedtest/ookla_cli_jsonl_vn_cmc_packetloss.json"))
    assert r.loss_pct == pytest.approx(0.4608294930875576)
    assert r.download_mbps == pytest.approx(4.820336)
    assert r.server_label == "DPTCLOUD.VN (Hồ Chi Minh, Vietnam)"


def test_sivel_json() -> None:
    r = parse_speedtest_cli_json(real_text("speedtest/sivel_speedtest-cli_json_it_windtre.json"))
    assert r.download_mbps == pytest.approx(14.269205120757429)
    assert r.upload_mbps == pytest.approx(1.5975287789401715)
    assert (r.ping_ms, r.bytes_received, r.bytes_sent) == (40.966, 18175472, 2433024)
    assert (r.server_id, r.server_label, r.isp) == (
        "3679",
        "Hynet s r l (Vicenza, Italy)",
        "Wind Tre",
    )
    assert r.measured_at == datetime(2020, 11, 21, 7, 25, 20, 441456, tzinfo=UTC)


def test_sivel_csv_all_rows_and_quoted_sponsor() -> None:
    rows = parse_speedtest_cli_csv(real_text(CSV_FILE))
    assert len(rows) == 213
    first = rows[0]
    assert (first.server_id, first.server_sponsor, first.server_name) == (
        "15047",
        "OPEN Project (via 20G SINET)",
        "Tokyo",
    )
    assert first.download_mbps == pytest.approx(54.09426213801576)
    assert (first.ping_ms, first.client_ip) == (21.382, "124.212.36.80")
    assert rows[5].server_sponsor == "Rakuten Mobile , Inc"
    assert rows[5].download_mbps == pytest.approx(34.4108603482344)
    assert sum(r.server_sponsor == "Rakuten Mobile , Inc" for r in rows) == 3


def test_sivel_csv_bad_line_is_named() -> None:
    lines = real_text(CSV_FILE).splitlines()
    lines[2] = lines[2].replace("21.704", "fast")
    with pytest.raises(ParseError, match=r":3: field 'Ping'"):
        parse_speedtest_cli_csv("\n".join(lines))
    with pytest.raises(ParseError, match=r":2: expected 10 columns"):
        parse_speedtest_cli_csv(lines[0] + "\n1,2,3\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"type":"log","level":"error","message":"Configuration - No servers defined"}',
            "No servers",
        ),
        ('{"type":"result","timestamp":"2024-06-10T04:02:02"}', "no time zone"),
        ('{"type":"result","timestamp":"2024-06-10T04:02:02Z","packetLoss":250}', "above 100"),
        (
            '{"type":"result","timestamp":"2024-06-10T04:02:02Z","download":{"bandwidth":"x"}}',
            "download.bandwidth",
        ),
    ],
)
def test_ookla_errors(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_ookla_cli_json(text)


def test_result_legs() -> None:
    r = parse_speedtest_cli_json(real_text("speedtest/sivel_speedtest-cli_json_it_windtre.json"))
    (down_kind, down), (up_kind, up) = result_legs(r)
    assert (down_kind, down["bytes_used"], down["rtt_ms"]) == (Kind.THROUGHPUT_DOWN, 18175472, 40.966)
    assert (up_kind, up["bytes_used"], "download_mbps" in up) == (Kind.THROUGHPUT_UP, 2433024, False)
    skipped_upload = (
        real_text("speedtest/sivel_speedtest-cli_json_it_windtre.json")
        .replace('"upload": 1597528.7789401715', '"upload": 0')
        .replace('"bytes_sent": 2433024', '"bytes_sent": 0')
    )
    assert [kind for kind, _ in result_legs(parse_speedtest_cli_json(skipped_upload))] == [
        Kind.THROUGHPUT_DOWN
    ]


def test_choose_servers_prefers_vietnam() -> None:
    servers = [
        ServerInfo("1", "SoftBank", "Tokyo", "Japan", "JP", 1.0),
        ServerInfo("2", "Viettel", "Ha Noi", "Vietnam", "VN", 900.0),
        ServerInfo("3", "VNPT", "Hanoi", "Viet Nam", None, 20.0),
    ]
    assert [s.server_id for s in choose_servers_vn(servers)] == ["3", "2", "1"]
    assert [s.server_id for s in choose_servers_vn(servers, limit=1)] == ["3"]


def test_server_list() -> None:
    text = (
        "Retrieving speedtest.net configuration...\n 1) Local (Loopback, Vietnam) [0.00 km]\n"
        "12345) CMC Telecom (Ha Noi, Vietnam) [3.21 km]\n"
    )
    servers = parse_server_list(text)
    assert servers[1] == ServerInfo("12345", "CMC Telecom", "Ha Noi", "Vietnam", None, 3.21)
    with pytest.raises(ParseError, match=":2: not a server line"):
        parse_server_list("\nNo servers\n")


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    name=st.sampled_from(
        [
            "speedtest/ookla_cli_jsonl_vn_fpt_ipv6_vnpt_server.json",
            "speedtest/ookla_cli_json_pretty_vn_cmc_no_packetloss.json",
            "speedtest/sivel_speedtest-cli_json_it_windtre.json",
            CSV_FILE,
        ]
    ),
)
def test_corrupted_files_parse_or_raise_parse_error(data: st.DataObject, name: str) -> None:
    text = data.draw(corrupted(real_text(name)))
    for parse in (parse_ookla_cli_json, parse_speedtest_cli_json, parse_speedtest_cli_csv):
        with contextlib.suppress(ParseError):
            parse(text)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def standin() -> Iterator[str]:
    if not (STANDIN / "server.py").is_file():
        pytest.skip("speedtest stand-in not available")
    if importlib.util.find_spec("speedtest") is None:  # not imported here: at import it wraps
        pytest.skip("speedtest-cli is not installed")  # stdout/stderr in files it never closes
    port = _free_port()
    server = subprocess.Popen([sys.executable, str(STANDIN / "server.py"), str(port)],
                              stderr=subprocess.DEVNULL)  # its exit warnings are not ours
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


CTX = TestContext(
    probe_id="pi-test",
    interface="lo",
    carrier=Carrier.VIETTEL,
    access=Access.LTE,
    clock_state=lambda: ClockState.SYNCED,
    boot_id=lambda: "boot-1",
    monotonic_s=lambda: 5.0,
)


def _standin_command(base: str) -> tuple[str, ...]:
    return ("env", f"SPEEDTEST_BASE={base}", sys.executable, str(STANDIN / "run_speedtest_cli.py"))


def test_runner_against_standin(standin: str) -> None:
    runner = SpeedtestRunner(
        command=_standin_command(standin), server_id="1", source_ip="127.0.0.1", timeout_s=60
    )
    down, up = runner.start_test(CTX)
    assert (down.kind, up.kind) == (Kind.THROUGHPUT_DOWN, Kind.THROUGHPUT_UP)
    assert down.error_kind is None and up.error_kind is None
    assert down.download_mbps is not None and down.download_mbps > 1
    assert up.upload_mbps is not None and up.upload_mbps > 1
    assert down.bytes_used is not None and down.bytes_used > 1_000_000
    assert (down.tool, down.server, down.carrier, down.interface, down.clock) == (
        "speedtest-cli",
        "Local (Loopback, Vietnam)",
        Carrier.VIETTEL,
        "lo",
        ClockState.SYNCED,
    )
    assert down.raw is not None and '"bytes_received"' in down.raw


def test_runner_server_down_is_a_failed_measurement() -> None:
    if not (STANDIN / "run_speedtest_cli.py").is_file():
        pytest.skip("speedtest stand-in not available")
    if importlib.util.find_spec("speedtest") is None:  # not imported here: at import it wraps
        pytest.skip("speedtest-cli is not installed")  # stdout/stderr in files it never closes
    runner = SpeedtestRunner(command=_standin_command(f"http://127.0.0.1:{_free_port()}"), timeout_s=60)
    down, up = runner.start_test(CTX)
    assert down.error_kind is ErrorKind.CONNECTION_REFUSED and up.error_kind is ErrorKind.CONNECTION_REFUSED
    assert down.error_message is not None and "configuration" in down.error_message


def test_runner_timeout_missing_tool_and_bad_output() -> None:
    slow = SpeedtestRunner(command=(sys.executable, "-c", "import time; time.sleep(5)"), timeout_s=0.5)
    assert [m.error_kind for m in slow.start_test(CTX)] == [ErrorKind.TIMEOUT, ErrorKind.TIMEOUT]
    missing = SpeedtestRunner(command=(str(Path("/nonexistent/speedtest-cli")),))
    assert missing.start_test(CTX)[0].error_kind is ErrorKind.TOOL_MISSING

    def recorded(argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        return CommandResult(0, "Retrieving speedtest.net configuration...", "", 0.1)

    garbled = SpeedtestRunner(run_command=recorded).start_test(CTX)
    assert [m.error_kind for m in garbled] == [ErrorKind.PARSE_ERROR, ErrorKind.PARSE_ERROR]
    assert garbled[0].raw == "Retrieving speedtest.net configuration..."
