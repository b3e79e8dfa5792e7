"""File importers on the real files: formats, mappings, deterministic ids, skipped rows, CLI."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lomsong.probe.carriers import CARRIER_CODES
from lomsong.probe.errors import ParseError
from lomsong.probe.importers import detect_format, import_file
from lomsong.probe.importers.cli import register_import
from lomsong.probe.record import Access, Carrier, Kind, PositionSource, Source

from .helpers import corrupted, real_file

GNT_2019 = "datasets/gnettrack_5g_nsa_irish_operatorB_driving_download_2019-12-16.csv"
GNT_2020 = "datasets/gnettrack_5g_nsa_irish_operatorB_driving_download_2020-02-14.csv"
APP = "speedtest/speedtest_android_app_export_2013_sample.csv"
CSV = "speedtest/sivel_speedtest-cli_csv_noheader_tokyo_2020-11-02.csv"

DETECTED = {
    "speedtest/ookla_cli_json_pretty_vn_cmc_no_packetloss.json": ("ookla-json", 2),
    "speedtest/ookla_cli_jsonl_vn_cmc_packetloss.json": ("ookla-json", 2),
    "speedtest/ookla_cli_jsonl_vn_fpt_ipv6_vnpt_server.json": ("ookla-json", 2),
    CSV: ("speedtest-cli-csv", 426),
    "speedtest/sivel_speedtest-cli_json_it_windtre.json": ("speedtest-cli-json", 2),
    APP: ("speedtest-app-csv", 16),
    GNT_2019: ("gnettrack-csv", 1338),
    GNT_2020: ("gnettrack-csv", 960),
}


@pytest.mark.parametrize("name", sorted(DETECTED))
def test_detect_and_import_every_real_file(name: str) -> None:
    path = real_file(name)
    fmt, count = DETECTED[name]
    assert detect_format(path) == fmt
    result = import_file(path, probe_id="imp-1", tz="Europe/Dublin")
    assert (result.format, len(result.measurements), result.skipped) == (fmt, count, [])
    assert all(m.source is Source.IMPORT for m in result.measurements)
    assert len({m.id for m in result.measurements}) == count
    again = import_file(path, probe_id="imp-1", tz="Europe/Dublin")
    assert [m.id for m in again.measurements] == [m.id for m in result.measurements]


def test_gnettrack_mapping_2020() -> None:
    result = import_file(real_file(GNT_2020), probe_id="walk-1", tz="Europe/Dublin", carrier=Carrier.OTHER)
    kinds = Counter(m.kind for m in result.measurements)
    assert kinds == {Kind.THROUGHPUT_DOWN: 943, Kind.RADIO_SNAPSHOT: 17}
    first, second = result.measurements[:2]
    assert first.kind is Kind.THROUGHPUT_DOWN and second.kind is Kind.RADIO_SNAPSHOT
    assert first.measured_at == datetime(2020, 2, 14, 12, 58, 17, tzinfo=UTC)  # Dublin = UTC in winter
    assert (first.download_mbps, first.access, first.carrier) == (
        0.039,
        Access.NR_NSA,
        Carrier.OTHER,
    )
    assert (first.rsrp_dbm, first.rsrq_db, first.sinr_db, first.rssi_dbm) == (-98, -11, 4.0, -105)
    assert (first.nr_rsrp_dbm, first.nr_rsrq_db, first.cell_id, first.tac) == (
        -100,
        -14.0,
        11016973,
        0x9CBA,
    )
    assert (first.lat, first.lon, first.position_source) == (
        51.928515000000004,
        -8.395887,
        PositionSource.IMPORT,
    )
    assert first.raw is not None and first.raw.startswith("2020.02.14_12.58.17,-8.395887,")
    sentinel = [m for m in result.measurements if m.raw and "2147483647" in m.raw]
    assert len(sentinel) == 3 and all(m.nr_rsrq_db is None and m.nr_rsrp_dbm == -106 for m in sentinel)


def test_gnettrack_3g_rows_carry_no_lte_values_and_pings_are_kept() -> None:
    result = import_file(real_file(GNT_2019), probe_id="walk-1", tz="Europe/Dublin")
    umts = [m for m in result.measurements if m.access is Access.UMTS]
    assert len(umts) == 346
    assert all(m.rsrp_dbm is None and m.rsrq_db is None and m.nr_rsrp_dbm is None for m in umts)
    assert all(m.tac is None and m.cell_id is not None for m in umts)
    lte = [m for m in result.measurements if m.access is Access.LTE]
    assert len(lte) == 25 and all(m.nr_rsrp_dbm is None for m in lte)
    pinged = [m for m in result.measurements if m.rtt_ms is not None]
    assert pinged and pinged[0].rtt_ms == 81.0


def test_gnettrack_local_time_zone_matters() -> None:
    hanoi = import_file(real_file(GNT_2020), probe_id="walk-1")
    assert hanoi.measurements[0].measured_at == datetime(2020, 2, 14, 5, 58, 17, tzinfo=UTC)


def test_gnettrack_bad_rows_skipped_with_line(tmp_path: Path) -> None:
    lines = real_file(GNT_2020).read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("2020.02.14_12.58.17", "yesterday")
    lines[5] = lines[5] + ",extra"
    lines[7] = (
        lines[7].replace(",5G,-98,", ",5G,strong,", 1)
        if ",5G,-98," in lines[7]
        else lines[7].replace(",5G,", ",5G,x", 1)
    )
    path = tmp_path / "log.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = import_file(path, probe_id="walk-1", tz="Europe/Dublin")
    assert [line for line, _ in result.skipped] == [3, 6, 8]
    assert "Timestamp" in result.skipped[0][1] and "columns" in result.skipped[1][1]
    assert "RSRP is not a number" in result.skipped[2][1]
    assert len(result.measurements) == 957


def test_speedtest_app_mapping() -> None:
    result = import_file(real_file(APP), probe_id="phone-1", tz="America/New_York")
    down = result.measurements[0]
    assert down.measured_at == datetime(2013, 4, 27, 14, 47, tzinfo=UTC)
    assert (down.kind, down.download_mbps, down.rtt_ms, down.access) == (
        Kind.THROUGHPUT_DOWN,
        11.524,
        2248,
        Access.WIFI,
    )
    assert (down.lat, down.lon, down.server) == (40.87763, -73.88753, "Frederick, MD")
    assert result.measurements[1].upload_mbps == 0.329
    accesses = Counter(m.access for m in result.measurements if m.kind is Kind.THROUGHPUT_DOWN)
    assert accesses == {Access.WIFI: 5, Access.UNKNOWN: 1, Access.GSM: 1, Access.UMTS: 1}


def test_command_line_carrier_and_access_fill_in() -> None:
    result = import_file(
        real_file("speedtest/ookla_cli_jsonl_vn_fpt_ipv6_vnpt_server.json"),
        probe_id="pi-1",
        carrier=Carrier.FPT,
        access=Access.FIXED,
    )
    down, up = result.measurements
    assert (down.carrier, down.access, down.download_mbps) == (
        Carrier.FPT,
        Access.FIXED,
        337.279896,
    )
    assert (up.bytes_used, up.tool, down.server) == (
        404494226,
        "ookla-speedtest",
        "VNPT-NET (Ho Chi Minh, Vietnam)",
    )


def test_unreadable_files(tmp_path: Path) -> None:
    unknown = tmp_path / "notes.txt"
    unknown.write_text("hello\n")
    with pytest.raises(ParseError, match=r"notes\.txt: unknown format"):
        detect_format(unknown)
    binary = tmp_path / "x.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ParseError, match="not UTF-8"):
        import_file(binary, probe_id="p")
    with pytest.raises(ParseError, match="cannot read file"):
        import_file(tmp_path / "missing.json", probe_id="p")
    header_only = tmp_path / "g.csv"
    header_only.write_text("Timestamp,Longitude,Latitude,Foo\n")
    with pytest.raises(ParseError, match="missing column"):
        import_file(header_only, probe_id="p")
    with pytest.raises(ParseError, match="bad time zone"):
        import_file(real_file(APP), probe_id="p", tz="Mars/Olympus")


@settings(max_examples=150, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(DETECTED)))
def test_corrupted_files_import_or_raise_parse_error(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, name: str
) -> None:
    text = real_file(name).read_text(encoding="utf-8")
    if len(text) > 40_000:
        text = text[:40_000]
    path = tmp_path_factory.mktemp("fuzz") / "f"
    path.write_text(data.draw(corrupted(text)), encoding="utf-8", errors="surrogatepass")
    with contextlib.suppress(ParseError):
        import_file(path, probe_id="fuzz", fmt=data.draw(st.sampled_from([None, DETECTED[name][0]])))


def test_cli_writes_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    register_import(parser.add_subparsers())
    out = tmp_path / "m.jsonl"
    args = parser.parse_args(
        [
            "import",
            str(real_file(GNT_2020)),
            "--tz",
            "Europe/Dublin",
            "--probe-id",
            "walk-1",
            "--out",
            str(out),
        ]
    )
    assert args.handler(args) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 960 and rows[0]["source"] == "import" and rows[0]["probe_id"] == "walk-1"
    printed = capsys.readouterr().out
    assert "Đã nhập 960 phép đo" in printed and "gnettrack-csv" in printed
    bad = parser.parse_args(["import", str(tmp_path / "none.csv"), "--out", str(out)])
    assert bad.handler(bad) == 2
    assert "Không nhập được tệp" in capsys.readouterr().err


def test_cli_choices_mirror_the_record_enums() -> None:
    from lomsong.probe.importers import cli

    assert set(CARRIER_CODES) == {c.value for c in Carrier}
    assert set(cli._ACCESS) == {a.value for a in Access}


def test_cli_into_the_probe_spool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spool_module = pytest.importorskip("lomsong.probe.spool")
    parser = argparse.ArgumentParser()
    register_import(parser.add_subparsers())
    spool_path = tmp_path / "spool.sqlite"
    argv = ["import", str(real_file(APP)), "--tz", "America/New_York", "--spool", str(spool_path)]
    for _ in range(2):  # importing twice stores each record once (same ids)
        args = parser.parse_args(argv)
        assert args.handler(args) == 0
    with spool_module.Spool(spool_path) as spool:
        stored = spool.batch(100)
    assert len(stored) == 16 and {m.source for m in stored} == {Source.IMPORT}
    assert "Đã nhập 16 phép đo" in capsys.readouterr().out
