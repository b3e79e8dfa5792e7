"""NMEA, gpsd, GPX and fixed-site positions, on the real GNSS logs and tracks."""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lomsong.probe.errors import ConfigError, ParseError, ToolError
from lomsong.probe.location.fixed import site_from_config
from lomsong.probe.location.gpsd import parse_tpv, read_fix
from lomsong.probe.location.gpx import match_positions, parse_gpx
from lomsong.probe.location.nmea import parse_nmea
from lomsong.probe.record import PositionSource

from .helpers import corrupted, real_files, real_text

CHK = "gnss/gpsd_quectel-eg25-g-2.chk.jsonl.txt"
NMEA_FILES = [p.name for p in real_files("gnss/*.nmea")]
GPX_FILES = [p.name for p in real_files("gnss/*.gpx")]

# file -> (fixes, first fix time, first lat, first lon)
NMEA_EXPECTED = {
    "gpsd_bu353s4.nmea": (
        25,
        datetime(2014, 12, 31, 3, 7, 19, tzinfo=UTC),
        -(37 + 47.0873 / 60),
        175 + 18.8938 / 60,
    ),
    "gpsd_hab-gpspi.nmea": (
        3,
        datetime(2015, 6, 21, 9, 28, 35, tzinfo=UTC),
        48.06908983333333,
        16.359000833333333,
    ),
    "gpsd_mt3339_adafruit_pi_hat.nmea": (
        30,
        datetime(2015, 4, 13, 20, 26, 40, tzinfo=UTC),
        44.06884333333334,
        -121.31419166666667,
    ),
    "gpsd_quectel-L70.nmea": (
        16,
        datetime(2022, 3, 9, 15, 1, 19, tzinfo=UTC),
        51.06809833333333,
        -114.095645,
    ),
    "gpsd_quectel-eg25-g-2.nmea": (
        3,
        datetime(2022, 9, 20, 5, 13, 47, tzinfo=UTC),
        60.022279983,
        30.236150133,
    ),
    "gpsd_quectel-eg25-g.nmea": (
        23,
        datetime(2022, 9, 11, 19, 15, 3, 10000, tzinfo=UTC),
        36.7646054,
        31.411171333333332,
    ),
    "gpsd_ublox-neo-m9n.nmea": (
        61,
        datetime(2020, 7, 11, 22, 37, 45, tzinfo=UTC),
        38.110494,
        -122.626897,
    ),
}


def test_every_nmea_file_is_covered() -> None:
    assert sorted(NMEA_FILES) == sorted(NMEA_EXPECTED)


@pytest.mark.parametrize("name", sorted(NMEA_EXPECTED))
def test_nmea_files(name: str) -> None:
    result = parse_nmea(real_text(f"gnss/{name}"))
    count, when, lat, lon = NMEA_EXPECTED[name]
    assert result.skipped == []
    assert len(result.fixes) == count
    first = result.fixes[0]
    assert first.time == when
    assert first.lat == pytest.approx(lat, abs=1e-9) and first.lon == pytest.approx(lon, abs=1e-9)
    assert all(f.time is not None and f.accuracy_m is not None for f in result.fixes)
    assert all(f.source is PositionSource.GPS for f in result.fixes)


def test_nmea_matches_gpsd_regression_output() -> None:
    fixes = parse_nmea(real_text("gnss/gpsd_quectel-eg25-g-2.nmea")).fixes
    expected = {}
    for line in real_text(CHK).splitlines():
        if line.startswith('{"class":"TPV"'):
            report = json.loads(line)
            if "time" in report:
                expected[report["time"]] = (report["lat"], report["lon"])
    assert len(expected) == 3
    ours = {
        f.time.isoformat(timespec="milliseconds").replace("+00:00", "Z"): (f.lat, f.lon)
        for f in fixes
        if f.time is not None
    }
    assert ours.keys() == expected.keys()
    for stamp, (lat, lon) in expected.items():
        assert ours[stamp] == pytest.approx((lat, lon), abs=5e-10)


def test_nmea_accuracy_rules() -> None:
    eg25 = parse_nmea(real_text("gnss/gpsd_quectel-eg25-g-2.nmea")).fixes[0]
    assert (eg25.hdop, eg25.accuracy_m, eg25.satellites, eg25.speed_mps) == (0.9, 4.5, 9, 0.0)
    l70 = parse_nmea(real_text("gnss/gpsd_quectel-L70.nmea")).fixes[0]  # has GPGST
    assert l70.accuracy_m == pytest.approx((6.8**2 + 7.2**2) ** 0.5)
    assert l70.quality == 2


def test_no_fix_epochs_then_fix() -> None:
    text = real_text("gnss/gpsd_quectel-eg25-g.nmea")
    assert "$GPGGA,,,,,,0,,,,,,,,*66" in text
    assert parse_nmea(text).fixes[0].time == datetime(2022, 9, 11, 19, 15, 3, 10000, tzinfo=UTC)


def test_broken_lines_counted_or_strict() -> None:
    lines = real_text("gnss/gpsd_bu353s4.nmea").splitlines()
    bad_at = next(i for i, line in enumerate(lines) if line.startswith("$GPGGA"))
    lines[bad_at] = lines[bad_at].replace(",1,08,", ",1,09,")
    result = parse_nmea("\n".join(lines))
    assert result.skipped == [(bad_at + 1, "checksum mismatch (computed 7C, line says 7D)")]
    assert len(result.fixes) == 25  # the RMC of that epoch still places it
    with pytest.raises(ParseError, match=f"NMEA:{bad_at + 1}: checksum"):
        parse_nmea("\n".join(lines), strict=True)


def test_western_southern_hemispheres() -> None:
    rmc = "$GNRMC,223745.00,A,3806.62964,S,12237.61382,W,0.040,,110720,,,D,V"
    checksum = 0
    for char in rmc[1:]:
        checksum ^= ord(char)
    fix = parse_nmea(f"{rmc}*{checksum:02X}\r\n").fixes[0]
    assert (fix.lat, fix.lon) == pytest.approx((-(38 + 6.62964 / 60), -(122 + 37.61382 / 60)))
    assert fix.time == datetime(2020, 7, 11, 22, 37, 45, tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(NMEA_EXPECTED)))
def test_corrupted_nmea_never_crashes(data: st.DataObject, name: str) -> None:
    text = data.draw(corrupted(real_text(f"gnss/{name}")))
    parse_nmea(text)
    with contextlib.suppress(ParseError):
        parse_nmea(text, strict=True)


def _tpv_lines() -> list[str]:
    return [line for line in real_text(CHK).splitlines() if line.startswith("{")]


def test_parse_tpv_from_chk_file() -> None:
    fixes = [parse_tpv(line) for line in _tpv_lines()]
    timed = [f for f in fixes if f is not None and f.time is not None]
    assert timed[0].time == datetime(2022, 9, 20, 5, 13, 47, tzinfo=UTC)
    assert (timed[0].lat, timed[0].lon, timed[0].accuracy_m, timed[0].quality) == (
        60.022279983,
        30.236150133,
        17.1,
        3,
    )
    assert parse_tpv('{"class":"SKY","hdop":0.90}') is None
    assert parse_tpv('{"class":"TPV","mode":1}') is None
    with pytest.raises(ParseError, match="not a JSON report"):
        parse_tpv('{"class":"TPV"')
    with pytest.raises(ParseError, match="'lat' is not a number"):
        parse_tpv('{"class":"TPV","mode":3,"lat":"60","lon":30}')


@pytest.fixture
def fake_gpsd() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback TCP server that waits for ?WATCH then replays recorded gpsd lines."""
    lines = [
        '{"class":"VERSION","release":"3.25","rev":"3.25","proto_major":3,"proto_minor":15}',
        *_tpv_lines(),
    ]
    server = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            received.append(conn.recv(1024))
            conn.sendall(("\n".join(lines) + "\n").encode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    server.close()
    thread.join(timeout=5)


def test_read_fix_from_fake_gpsd(fake_gpsd: tuple[int, list[bytes]]) -> None:
    port, received = fake_gpsd
    fix = read_fix("127.0.0.1", port, timeout_s=5)
    assert fix is not None
    assert (fix.lat, fix.lon, fix.time) == (
        60.022279983,
        30.236150133,
        None,
    )  # first TPV has no time yet
    assert received == [b'?WATCH={"enable":true,"json":true}\n']


def test_read_fix_no_gpsd() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe_port:
        port = probe_port.getsockname()[1]
    with pytest.raises(ToolError, match="cannot reach gpsd"):
        read_fix("127.0.0.1", port, timeout_s=1)


GPX_EXPECTED = {  # file -> (points kept, first time, last time)
    "gpx_garmin_etrex20x_car_walk_croatia.gpx": (
        104,
        datetime(2020, 12, 18, 6, 15, 50, tzinfo=UTC),
        datetime(2020, 12, 18, 6, 24, 24, tzinfo=UTC),
    ),
    "gpx_gpsbabel_1.0_hike_mojstrovka.gpx": (0, None, None),
    "gpx_gpsbabel_1.0_waypoints_and_track_slovenia.gpx": (
        296,
        datetime(2010, 8, 5, 14, 23, 59, tzinfo=UTC),
        datetime(2010, 8, 5, 16, 23, 49, tzinfo=UTC),
    ),
    "gpx_phone_gpslogger_android_mixed_driving.gpx": (
        938,
        datetime(2018, 7, 18, 16, 45, 57, 138000, tzinfo=UTC),
        datetime(2018, 7, 18, 17, 1, 36, tzinfo=UTC),
    ),
    "gpx_phone_gpslogger_android_walking_circuit.gpx": (
        612,
        datetime(2018, 7, 19, 12, 36, 55, tzinfo=UTC),
        datetime(2018, 7, 19, 12, 47, 6, tzinfo=UTC),
    ),
}


def test_every_gpx_file_is_covered() -> None:
    assert sorted(GPX_FILES) == sorted(GPX_EXPECTED)


@pytest.mark.parametrize("name", sorted(GPX_EXPECTED))
def test_gpx_files(name: str) -> None:
    points = parse_gpx(real_text(f"gnss/{name}"))
    count, first, last = GPX_EXPECTED[name]
    assert len(points) == count
    if count:
        assert (points[0].time, points[-1].time) == (first, last)
        assert all(a.time <= b.time for a, b in itertools.pairwise(points))


def test_gpslogger_network_points_dropped_unless_asked() -> None:
    text = real_text("gnss/gpx_phone_gpslogger_android_walking_circuit.gpx")
    assert len(parse_gpx(text, keep_network=True)) == 660
    assert all(p.src == "gps" for p in parse_gpx(text))


def test_match_positions_on_walking_track() -> None:
    track = parse_gpx(real_text("gnss/gpx_phone_gpslogger_android_walking_circuit.gpx"))
    t0 = datetime(2018, 7, 19, 12, 36, 56, tzinfo=UTC)  # a point with hdop 0.6
    exact, half, before, after = match_positions(
        track,
        [
            t0,
            t0 + timedelta(milliseconds=500),
            track[0].time - timedelta(seconds=1),
            track[-1].time + timedelta(seconds=1),
        ],
    )
    assert exact is not None and (exact.lat, exact.lon, exact.accuracy_m) == (
        42.24523322,
        -83.6342709,
        3.0,
    )
    assert half is not None and half.lat == pytest.approx((42.24523322 + 42.24524019) / 2)
    assert half.source is PositionSource.GPX_MATCH and half.accuracy_m == 3.0
    assert before is None and after is None


def test_match_positions_refuses_large_gaps() -> None:
    track = parse_gpx(real_text("gnss/gpx_gpsbabel_1.0_waypoints_and_track_slovenia.gpx"))
    gap = next((a, b) for a, b in itertools.pairwise(track) if (b.time - a.time).total_seconds() > 30)
    middle = gap[0].time + (gap[1].time - gap[0].time) / 2
    assert match_positions(track, [middle]) == [None]
    assert match_positions(track, [middle], max_gap_s=10_000)[0] is not None
    with pytest.raises(ValueError, match="no time zone"):
        match_positions(track, [datetime(2010, 8, 5, 15, 0)])


def test_gpx_errors() -> None:
    with pytest.raises(ParseError, match="not XML"):
        parse_gpx("<gpx><trk>")
    with pytest.raises(ParseError, match="not <gpx>"):
        parse_gpx("<kml/>")
    with pytest.raises(ParseError, match="trkpt #1: lat is not a number"):
        parse_gpx('<gpx><trk><trkseg><trkpt lat="x" lon="1"/></trkseg></trk></gpx>')


@settings(max_examples=200, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(GPX_EXPECTED)))
def test_corrupted_gpx_parses_or_raises_parse_error(data: st.DataObject, name: str) -> None:
    with contextlib.suppress(ParseError):
        parse_gpx(data.draw(corrupted(real_text(f"gnss/{name}"))))


def test_fixed_site() -> None:
    site = site_from_config({"id": "ubnd-1", "lat": 21.0285, "lon": 105.8542, "accuracy_m": 3})
    assert site.measurement_fields() == {
        "lat": 21.0285,
        "lon": 105.8542,
        "site_id": "ubnd-1",
        "position_source": PositionSource.SITE,
        "accuracy_m": 3.0,
    }
    with pytest.raises(ConfigError, match=r"site.lat must be within"):
        site_from_config({"id": "x", "lat": 95, "lon": 1})
    with pytest.raises(ConfigError, match=r"\[site\].id"):
        site_from_config({"id": "", "lat": 1, "lon": 1}, where="[site]")
