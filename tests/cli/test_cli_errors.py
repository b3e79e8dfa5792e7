"""Every user mistake on the command line: one line on stderr, Vietnamese first, exit code 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lomsong.cli import main
from lomsong.synthetic import SERVICE_POINTS, survey


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small exported survey (JSON lines) and its service points beside it (sites.csv)."""
    folder = tmp_path_factory.mktemp("walk")
    rows = [m.model_dump(mode="json") for m in survey(datetime(2026, 11, 2, tzinfo=UTC),
                                                      days=2, walks=1, pi_interval_min=240)]
    data = folder / "survey.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    (folder / "sites.csv").write_text("site_id,name,address,type,lat,lon\n" + "".join(
        f'{p.site_id},"{p.name}","{p.address}",{p.site_type},{p.lonlat[1]},{p.lonlat[0]}\n'
        for p in SERVICE_POINTS), encoding="utf-8")
    return data


def _one_line(capsys: pytest.CaptureFixture[str], *expected: str) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err
    return err


def test_analyze_a_file_end_to_end(walk: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    import geopandas as gpd

    out = tmp_path / "out.gpkg"
    assert main(["analyze", "--input", str(walk), "--sites", str(walk.parent / "sites.csv"),
                 "--from", "2026-11-02", "--to", "2026-11-03", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Đã ghi" in printed
    assert "Số phép đo theo nguồn và phương pháp: Dữ liệu tổng hợp (mô phỏng)" in printed
    assert "(Measurements by source and method: Synthetic (simulated) data" in printed
    cards = gpd.read_file(out, layer="service_points")
    assert set(cards["site_id"]) == {p.site_id for p in SERVICE_POINTS}
    # the analysis GeoPackage is no measurements file: one clear line, no pyogrio warning
    assert main(["analyze", "--input", str(out), "--out", str(tmp_path / "again.gpkg")]) == 2
    _one_line(capsys, "là kết quả của lomsong analyze", "is lomsong analyze's output")
    # issue 14: the GeoPackage keeps the measurements' sources, so its report says the data is
    # synthetic on every page, and refuses a period the data is not from
    pdf = tmp_path / "r.pdf"
    argv = ["report", "--input", str(out), "--carrier", "viettel", "--ward", "Phường Ô Chợ Dừa",
            "--out", str(pdf)]
    assert main([*argv, "--from", "2026-11-02", "--to", "2026-11-03"]) == 0
    import subprocess
    pages = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                           timeout=60, check=True).stdout.split("\f")[:-1]
    assert pages and all("DỮ LIỆU TỔNG HỢP, KHÔNG PHẢI PHÉP ĐO THẬT (100% số phép đo)" in p
                         for p in pages)
    assert main([*argv, "--from", "2025-01-01", "--to", "2025-01-31"]) == 2
    _one_line(capsys, "kỳ báo cáo không có phép đo nào", "no test in the period 2025-01-01")


@pytest.mark.parametrize(("argv", "expected"), [
    (["analyze", "--input", "{walk}", "--out", "{tmp}/missing/out.gpkg"],
     ("thư mục", "does not exist; create it first", "--out")),
    (["analyze", "--input", "{walk}", "--out", "{tmp}"], ("là thư mục", "is a folder")),
    (["map", "--input", "{walk}", "--out", "{tmp}/missing/map.html"], ("does not exist",)),
    (["report", "--input", "{walk}", "--carrier", "viettel", "--from", "2026-11-01", "--to",
      "2026-11-02", "--out", "{tmp}/missing/r.pdf"], ("--out: thư mục", "does not exist")),
    (["report", "--input", "{walk}", "--carrier", "viettel", "--out", "{tmp}/r.pdf"],
     ("--input cần --from và --to", "--input needs --from and --to")),
    (["analyze", "--input", "{tmp}/none.jsonl", "--out", "{tmp}/o.gpkg"], ("file not found",)),
    (["analyze", "--input", "{walk}", "--sites", "{tmp}/none.csv", "--out", "{tmp}/o.gpkg"],
     ("none.csv",)),
    (["analyze", "--input", "{walk}", "--from", "2026-11-05", "--to", "2026-11-02",
      "--out", "{tmp}/o.gpkg"], ("--to (2026-11-02) trước --from (2026-11-05)",
                                 "(--to (2026-11-02) is before --from (2026-11-05)")),
    (["report", "--input", "{walk}", "--carrier", "viettel", "--from", "2026-11-05",
      "--to", "2026-11-02", "--out", "{tmp}/r.pdf"], ("is before --from",)),
    (["analyze", "--input", "{walk}", "--from", "01/11/2026", "--out", "{tmp}/o.gpkg"],
     ("--from: '01/11/2026' không phải là ngày", "is not a date; write it as YYYY-MM-DD")),
    (["report", "--carrier", "viettel", "--to", "2026-11-31", "--out", "{tmp}/r.pdf"],
     ("--to: '2026-11-31'",)),
    (["analyze", "--input", "{walk}", "--database-url", "postgresql://x/y"],
     ("--input đọc tệp", "do not combine")),
    (["analyze", "--input", "{walk}", "--aggregate-in-db"], ("works on the database",)),
    (["report", "--carrier", "viettel", "--export", "{tmp}/none.csv", "--out", "{tmp}/r.pdf"],
     ("--export", "file not found")),
    (["report", "--demo", "{tmp}/nodemo", "--carrier", "viettel", "--out", "{tmp}/r.pdf"],
     ("chạy lomsong demo trước", "run lomsong demo first")),
])
def test_user_mistakes_give_one_line_and_exit_2(
    walk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
    expected: tuple[str, ...],
) -> None:
    args = [a.format(walk=walk, tmp=tmp_path) for a in argv]
    assert main(args) == 2
    _one_line(capsys, *expected)


@pytest.mark.parametrize("argv", [
    ["report", "--carrier", "orange", "--out", "r.pdf"],
    ["import", "x.csv", "--carrier", "Orange"],
    ["probe", "measure", "--iperf3", "127.0.0.1", "--carrier", "orange"],
])
def test_unknown_carriers_are_refused_by_every_flag(argv: list[str],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "nhà mạng không hợp lệ" in err and "unknown carrier" in err


def test_usual_carrier_names_reach_the_report(walk: Path, tmp_path: Path) -> None:
    from lomsong.cli import build_parser

    parser = build_parser()
    for typed, code in (("Viettel", "viettel"), ("VinaPhone", "vnpt"), ("Mobifone", "mobifone")):
        args = parser.parse_args(["report", "--carrier", typed, "--out", "r.pdf"])
        assert args.carrier == code
    args = parser.parse_args(["import", "x.csv", "--carrier", "Vinaphone", "--out", "x.jsonl"])
    assert args.carrier == "vnpt"
    args = parser.parse_args(["probe", "measure", "--iperf3", "h", "--carrier", "VIETTEL"])
    assert args.carrier == "viettel"


@pytest.mark.db
@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
@pytest.mark.parametrize("argv", [
    ["analyze", "--out", "{tmp}/o.gpkg"],
    ["report", "--carrier", "viettel", "--ward", "Phường Ô Chợ Dừa", "--out", "{tmp}/r.pdf"],
    ["probes", "list"],
    ["users", "list"],
])
def test_a_database_without_the_schema_says_run_db_migrate(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
) -> None:
    args = [a.format(tmp=tmp_path) for a in argv] + ["--database-url", db_url]
    assert main(args) == 2
    _one_line(capsys, "chạy lomsong db migrate", "run lomsong db migrate")
    assert main(["db", "migrate", "--database-url", db_url]) == 0
    assert main(args) == 0
    if argv[0] == "analyze":
        assert "No measurements in the period" in capsys.readouterr().out


@pytest.mark.db
@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_the_environment_comes_after_the_flag(db_url: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "migrate", "--database-url", db_url]) == 0
    monkeypatch.setenv("LOMSONG_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    out = tmp_path / "o.gpkg"
    assert main(["analyze", "--database-url", db_url, "--out", str(out)]) == 0
    assert out.is_file()
    capsys.readouterr()
    assert main(["analyze", "--out", str(out)]) == 2  # the environment's (unreachable) database
    _one_line(capsys, "lomsong analyze:", "cannot reach the database")


@pytest.mark.db
@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_a_city_database_needs_the_ward_code(db_url: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    import psycopg

    from lomsong.collector.storage.wards import save_ward

    assert main(["db", "migrate", "--database-url", db_url]) == 0
    out = str(tmp_path / "o.gpkg")
    with psycopg.connect(db_url) as conn:
        save_ward(conn, "00316", "Phường Định Công", "01", "Thành phố Hà Nội", None)
    assert main(["analyze", "--database-url", db_url, "--out", out]) == 0  # its one ward
    with psycopg.connect(db_url) as conn:
        save_ward(conn, "00235", "Phường Đống Đa", "01", "Thành phố Hà Nội", None)
    capsys.readouterr()
    assert main(["analyze", "--database-url", db_url, "--out", out]) == 2
    _one_line(capsys, "--ward-code", "00235 (Phường Đống Đa)", "00316 (Phường Định Công)",
              "the database holds 2 wards")
    assert main(["analyze", "--database-url", db_url, "--out", out, "--ward-code", "00999"]) == 2
    _one_line(capsys, "--ward-code 00999", "no such ward")
    assert main(["analyze", "--database-url", db_url, "--out", out, "--ward-code", "00235"]) == 0
