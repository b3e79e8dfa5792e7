"""Walk mode (view rendered with Console(record=True), loop with injected rounds, Ctrl-C),
GPX matching of spooled records, doctor checks against MockTransport, the status body."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from lomsong.cli import main
from lomsong.probe.config import parse_config
from lomsong.probe.doctor import (
    check_clock,
    check_collector,
    check_congestion,
    check_modems,
    check_tools,
    require_congestion,
    run_doctor,
    status_body,
)
from lomsong.probe.errors import ConfigError, ProbeError
from lomsong.probe.location.fix import Fix
from lomsong.probe.location.gpx import TrackPoint
from lomsong.probe.location.gpx_match import place_on_track
from lomsong.probe.record import Access, Carrier, ClockState, ErrorKind, Kind, Measurement, PositionSource
from lomsong.probe.runners.base import CommandResult
from lomsong.probe.spool import Spool, SpoolStats
from lomsong.probe.uploader import UploadReport
from lomsong.probe.walk import WalkState, render_walk, summary_lines, walk
from tests.probe.conftest import write_probe_toml

T0 = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
HEAD = '[probe]\nid = "pi-1"\n[collector]\nurl = "http://c.invalid"\ntoken = "s3cret-token"\n'


def _text(state: WalkState) -> str:
    console = Console(record=True, width=100, color_system="truecolor")
    console.print(render_walk(state))
    return console.export_text(styles=False)


def test_view_shows_speed_against_threshold(make_measurement: Callable[..., Measurement]) -> None:
    state = WalkState(threshold_mbps=40.0)
    state.fix = Fix(time=T0, lat=21.028511, lon=105.854167, accuracy_m=4.0, source=PositionSource.GPS)
    state.add([make_measurement(download_mbps=23.4, carrier=Carrier.VIETTEL, access=Access.LTE,
                                rsrp_dbm=-108.0, sinr_db=3.5)])  # fmt: skip
    text = _text(state)
    assert "21.028511, 105.854167 ±4 m" in text and "viettel 4g" in text
    assert "RSRP -108 dBm, SINR 3.5 dB" in text and "23.4 Mbps < 40 Mbps" in text
    assert "1 (dưới ngưỡng / below 1, lỗi / failed 0)" in text
    console = Console(record=True, width=100, color_system="truecolor")
    console.print(render_walk(state))
    assert "\x1b[1;31m23.4 Mbps" in console.export_text(styles=True)  # red: below 40
    state.add([make_measurement(download_mbps=55.0)])
    console = Console(record=True, width=100, color_system="truecolor")
    console.print(render_walk(state))
    assert "\x1b[1;32m55.0 Mbps ≥ 40 Mbps" in console.export_text(styles=True)  # green


def test_walk_loop_and_ctrl_c(make_measurement: Callable[..., Measurement]) -> None:
    rounds = 0
    stored: list[Measurement] = []
    uploads: list[int] = []

    def round_() -> tuple[Fix | None, list[Measurement]]:
        nonlocal rounds
        rounds += 1
        if rounds == 3:
            raise KeyboardInterrupt  # volunteer presses Ctrl-C during the third test
        return None, [make_measurement(download_mbps=10.0 * rounds)]

    def store(results: list[Measurement]) -> SpoolStats:
        stored.extend(results)
        return SpoolStats(len(stored), 100 * len(stored), 0, {}, None, 0, None, None, None)

    def upload() -> UploadReport:
        uploads.append(len(stored))
        return UploadReport(acked=len(stored))

    console = Console(record=True, width=100)
    state = walk(WalkState(threshold_mbps=40.0), round_=round_, store=store, upload=upload, console=console)
    assert rounds == 3 and len(stored) == 2 and state.samples == 2 and state.below == 2
    assert uploads == [1, 2, 2]  # after each round, then the final upload
    assert state.upload == "đã gửi (sent) 2" and "Đã đo (samples) 2" in summary_lines(state)[0]


def test_gpx_match_places_only_unplaced_records(
    tmp_path: Path, make_measurement: Callable[..., Measurement]
) -> None:
    track = [TrackPoint(T0, 21.0, 105.8, hdop=1.0), TrackPoint(T0 + timedelta(seconds=20), 21.2, 106.0)]
    inside = make_measurement(measured_at=T0 + timedelta(seconds=5))
    outside = make_measurement(measured_at=T0 + timedelta(minutes=5))
    sited = make_measurement(measured_at=T0, lat=1.0, lon=2.0, position_source=PositionSource.SITE)
    (placed,) = place_on_track([inside, outside, sited], track)
    assert placed.id == inside.id and placed.position_source is PositionSource.GPX_MATCH
    assert placed.lat == pytest.approx(21.05) and placed.accuracy_m == 5.0
    with Spool(tmp_path / "s.sqlite3") as spool:
        spool.add_many([inside, outside])
        assert spool.update_pending([placed]) == 1
        assert [m.lat for m in spool.batch(10)] == [pytest.approx(21.05), None]


def test_gpx_match_cli(tmp_path: Path, make_measurement: Callable[..., Measurement],
                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    spool_path = tmp_path / "spool.sqlite3"
    config = tmp_path / "probe.toml"
    config.write_text(HEAD.replace('id = "pi-1"', 'id = "pi-test-01"') + f'[spool]\npath = "{spool_path}"\n')
    gpx = tmp_path / "walk.gpx"
    gpx.write_text(
        '<gpx xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
        '<trkpt lat="21.0" lon="105.8"><time>2026-11-02T03:00:00Z</time></trkpt>'
        '<trkpt lat="21.1" lon="105.9"><time>2026-11-02T03:00:10Z</time></trkpt></trkseg></trk></gpx>'
    )
    with Spool(spool_path) as spool:
        spool.add(make_measurement(measured_at=T0 + timedelta(seconds=5)))
    assert main(["probe", "gpx-match", str(gpx), "--config", str(config)]) == 0
    assert "Đã gán vị trí (placed) 1; không gán được (outside track/gap) 0" in capsys.readouterr().out


class Listing:
    def __init__(self, stdout: str) -> None:
        self.stdout = stdout

    def __call__(self, argv: Sequence[str], *, timeout_s: float) -> CommandResult:
        assert list(argv) == ["mmcli", "-L"]
        return CommandResult(0, self.stdout, "", 0.1)


def test_doctor_checks() -> None:
    tools = check_tools(lambda name: None if name in ("mmcli", "iperf3") else f"/usr/bin/{name}")
    assert [(c.what_en, c.status) for c in tools] == [
        ("iperf3 tool", "FAIL"), ("ping tool", "OK"), ("ss tool", "OK"), ("mmcli tool", "WARN"),
        ("speedtest-cli tool", "OK"),
    ]  # fmt: skip
    cfg = parse_config(HEAD + '[[path]]\nname = "a"\niperf3 = "i"\nmodem = { mmcli_index = 1 }\n', source="t")
    listed = "    /org/freedesktop/ModemManager1/Modem/1 [Quectel] EG25\n"
    assert check_modems(cfg, Listing(listed))[0].status == "OK"
    assert check_modems(cfg, Listing("No modems were found\n"))[0].status == "FAIL"
    assert check_clock(ClockState.UNSYNCED).status == "WARN"


@pytest.mark.parametrize(("answer", "status"), [(422, "OK"), (401, "FAIL"), (403, "FAIL"), (500, "WARN")])
def test_doctor_token_by_empty_batch(answer: int, status: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        return httpx.Response(answer, json={"detail": "x"})

    health, token = check_collector("http://c.invalid/", "tok-12345", httpx.MockTransport(handler))
    assert health.status == "OK" and token.status == status
    assert (
        seen[1].content == b'{"measurements":[]}' and seen[1].headers["Authorization"] == "Bearer tok-12345"
    )


def test_doctor_unreachable_collector_and_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    cfg = parse_config(HEAD, source="t")
    checks = run_doctor(cfg, tmp_path / "s.sqlite3", clock_state=lambda: ClockState.SYNCED,
                        which=lambda n: "/x", transport=httpx.MockTransport(down))  # fmt: skip
    assert [c.status for c in checks][-2:] == ["OK", "FAIL"] and "collector" in checks[-1].line()
    config = tmp_path / "probe.toml"
    config.write_text(
        HEAD.replace("http://c.invalid", "http://127.0.0.1:9") + f'[spool]\npath = "{tmp_path}/s"\n'
    )
    assert main(["probe", "doctor", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] Máy chủ thu (collector)" in out and "lỗi (failures)" in out


def test_status_body_matches_collector_schema(
    tmp_path: Path, make_measurement: Callable[..., Measurement]
) -> None:
    with Spool(tmp_path / "s.sqlite3") as spool:
        spool.add(make_measurement())
        spool.record_upload(success=False, error="HTTP 503")
        body = status_body(spool, clock=ClockState.SYNCED, budget_used=10, budget_limit=None, version="v")
    assert body["queue_pending"] == 1 and body["last_error"] == "HTTP 503" and body["clock"] == "synced"
    probes = pytest.importorskip("lomsong.collector.routes.probes")
    probes.ProbeStatusIn.model_validate(body)


def test_failed_snapshot_kind_is_counted(make_measurement: Callable[..., Measurement]) -> None:
    state = WalkState(threshold_mbps=None)
    state.add([make_measurement(kind=Kind.RADIO_SNAPSHOT, download_mbps=None),
               make_measurement(error_kind=ErrorKind.TIMEOUT, download_mbps=None)])  # fmt: skip
    assert (state.samples, state.failed) == (1, 1) and "-" in _text(state)


def test_run_forever_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    import contextlib
    import signal
    import subprocess
    import sys
    import time

    spool_path = tmp_path / "spool.sqlite3"
    config = tmp_path / "probe.toml"
    config.write_text(
        HEAD + f'[spool]\npath = "{spool_path}"\n[[path]]\nname = "a"\niperf3 = "127.0.0.1:9"\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "lomsong.cli", "probe", "run", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    ledger = tmp_path / "probe-budget.sqlite3"
    deadline = time.monotonic() + 30
    while not ledger.exists() and proc.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.05)  # returns at once if the probe died
    assert ledger.exists(), proc.communicate(timeout=10)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Đã dừng (stopped) sau (after) 0 lượt đo" in out


def test_send_status_posts_to_the_probe_status_route() -> None:
    from lomsong.probe.uploader import CollectorClient

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"probe": "pi-1", "reported_at": "2026-11-02T03:00:00Z"})

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with CollectorClient("http://c.invalid/", "tok-12345", transport=httpx.MockTransport(handler)) as client:
        assert client.send_status({"queue_pending": 0, "clock": "synced"}) == 200
    assert (
        seen[0].url.path == "/api/v1/probes/status" and seen[0].headers["Authorization"] == "Bearer tok-12345"
    )
    with CollectorClient("http://c.invalid", "tok-12345", transport=httpx.MockTransport(down)) as client:
        assert client.send_status({}) is None


def test_congestion_control_check(tmp_path: Path) -> None:
    (tmp_path / "tcp_available_congestion_control").write_text("reno bbr cubic\n")
    (tmp_path / "tcp_allowed_congestion_control").write_text("reno cubic\n")
    paths = (
        '[[path]]\nname = "a"\niperf3 = "i"\n'  # bbr, the default
        '[[path]]\nname = "b"\niperf3 = "i"\ncongestion = "cubic"\n'
        '[[path]]\nname = "c"\niperf3 = "i"\ncongestion = "vegas"\n'
        '[[path]]\nname = "d"\niperf3 = "i"\ncongestion = "system"\n'
    )
    cfg = parse_config(HEAD + paths, source="t")
    checks = check_congestion(cfg, tmp_path, privileged=False)
    assert [(c.status, c.detail.split(":")[0]) for c in checks] == [
        ("FAIL", "bbr"), ("OK", "cubic"), ("FAIL", "vegas")
    ]  # fmt: skip
    assert "not allowed" in checks[0].detail and "not available" in checks[2].detail
    assert [c.status for c in check_congestion(cfg, tmp_path, privileged=True)] == ["OK", "OK", "FAIL"]
    assert [p.congestion_algorithm for p in cfg.paths] == ["bbr", "cubic", "vegas", None]
    with pytest.raises(ProbeError, match="congestion"):
        parse_config(HEAD + '[[path]]\nname = "a"\niperf3 = "i"\ncongestion = "-C x"\n', source="t")


def test_measuring_refuses_to_start_without_its_congestion_control(tmp_path: Path) -> None:
    (tmp_path / "tcp_available_congestion_control").write_text("reno cubic\n")  # no tcp_bbr
    (tmp_path / "tcp_allowed_congestion_control").write_text("reno cubic\n")
    cfg = parse_config(HEAD + '[[path]]\nname = "a"\niperf3 = "i"\n', source="t")
    wanted = r"bbr: không có trong nhân \(not available.*congestion = \"cubic\""
    with pytest.raises(ConfigError, match=wanted):
        require_congestion(cfg, tmp_path)
    require_congestion(parse_config(HEAD + '[[path]]\nname = "a"\niperf3 = "i"\ncongestion = "cubic"\n',
                                    source="t"), tmp_path)  # fmt: skip


@pytest.mark.iperf3
def test_walk_cli_runs_early_stopping_tests(
    tmp_path: Path, iperf3_server_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_probe_toml(tmp_path, f"""
[[path]]
name = "viettel-4g"
carrier = "viettel"
access = "4g"
iperf3 = "127.0.0.1:{iperf3_server_port}"
bytes_cap = 400000000
""", probe_id="laptop-walk")
    assert main(["probe", "walk", "--config", str(config), "--gpx-later", "--rounds", "2"]) == 0
    with Spool(tmp_path / "spool.db") as spool:
        records = spool.batch(100)
    assert [m.kind for m in records] == [Kind.THROUGHPUT_DOWN, Kind.THROUGHPUT_UP] * 2
    for m in records:
        assert m.error_kind is None, m.error_message
        assert m.raw is not None and m.raw.splitlines()[-1].startswith("lomsong-adaptive: stop=")
        assert m.duration_s is not None and m.duration_s <= 2.6  # the path's 2.5 s maximum
        assert m.bytes_used is not None and 0 < m.bytes_used <= 400_000_000
        assert m.position_source is PositionSource.NONE and m.lat is None  # placed later from GPX
    out = capsys.readouterr().out
    assert "Đã đo (samples) 4 " in out and "lỗi (failed) 0" in out and "Còn chờ gửi (pending) 4" in out
