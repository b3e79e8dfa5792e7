"""`lomsong map` and `lomsong report` on a GeoPackage like the one `lomsong analyze` writes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from lomsong.cli import main
from lomsong.maps.report_input import ReportInput


@pytest.fixture(scope="module")
def gpkg(survey: ReportInput, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("survey") / "survey.gpkg"
    # the layer names lomsong analyze writes -> the ReportInput fields they fill
    for layer, field in (("cells", "cells"), ("weak_areas", "weak_areas"),
                         ("service_points", "scorecards"), ("proposals", "proposals"),
                         ("walk_route", "routes"), ("boundary", "boundary")):
        getattr(survey, field).to_file(path, layer=layer, driver="GPKG")
    return path


def test_map_command_writes_a_standalone_file(gpkg: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "map.html"
    assert main(["map", "--input", str(gpkg), "--out", str(out), "--lang", "en"]) == 0
    html = out.read_text(encoding="utf-8")
    assert "<script src=" not in html and re.search(r'src="https?://', html) is None
    assert "Ward boundary" in html or "Ward boundary".encode("unicode_escape").decode() in html
    assert "map.html" in capsys.readouterr().out


def test_report_command(gpkg: Path, tmp_path: Path) -> None:
    out = tmp_path / "viettel.pdf"
    code = main(["report", "--input", str(gpkg), "--carrier", "viettel", "--from", "2026-11-01",
                 "--to", "2026-11-30", "--ward", "Phường Hoàn Kiếm", "--out", str(out)])
    assert code == 0
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True,
                          timeout=60, check=True).stdout
    assert "Tóm tắt" in text and "survey.gpkg" in text  # the input is listed in the annex


@pytest.mark.parametrize(("flag", "value", "vietnamese", "english"), [
    ("--carrier", "orange", "nhà mạng không hợp lệ 'orange'", "unknown carrier 'orange'"),
    ("--lang", "fr", "ngôn ngữ không hợp lệ 'fr'", "unknown language 'fr'"),
])
def test_bad_arguments_exit_2_in_both_languages(
    gpkg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str,
    vietnamese: str, english: str,
) -> None:
    args = {"--carrier": "viettel", "--lang": "vi", "--from": "2026-11-01"}
    args[flag] = value
    argv = ["report", "--input", str(gpkg), "--to", "2026-11-30", "--ward", "X",
            "--out", str(tmp_path / "r.pdf")] + [x for kv in args.items() for x in kv]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert vietnamese in err and english in err


def test_missing_layers_and_files(tmp_path: Path, survey: ReportInput,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["map", "--input", str(tmp_path / "nope.gpkg"),
                 "--out", str(tmp_path / "m.html")]) == 2
    assert "không tìm thấy tệp" in capsys.readouterr().err
    partial = tmp_path / "partial.gpkg"
    survey.cells.to_file(partial, layer="cells", driver="GPKG")
    assert main(["map", "--input", str(partial), "--out", str(tmp_path / "m.html")]) == 2
    err = capsys.readouterr().err
    assert "thiếu lớp weak_areas, service_points, proposals" in err and "lacks layers" in err


def test_report_method_states_the_ward_thresholds_analyze_used(
        gpkg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ward = tmp_path / "ward.toml"
    ward.write_text("[rules]\nmin_samples = 9\n", encoding="utf-8")
    out = tmp_path / "ward.pdf"
    argv = ["report", "--input", str(gpkg), "--carrier", "viettel", "--from", "2026-11-01",
            "--to", "2026-11-30", "--lang", "en", "--ward", "Phường Hoàn Kiếm", "--out", str(out)]
    assert main([*argv, "--thresholds", str(ward)]) == 0
    text = " ".join(subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True,
                                   timeout=60, check=True).stdout.split())
    assert "at least 9 tests in at least 2 different 4-hour slots" in text
    ward.write_text("[rules]\nmin_sample = 9\n", encoding="utf-8")
    assert main([*argv, "--thresholds", str(ward)]) == 2
    assert "unknown key(s) ['min_sample']" in capsys.readouterr().err


def test_report_refuses_a_false_period_and_a_nameless_ward(
        gpkg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 14: `--from 2025-01-01 --to 2025-01-31` over November 2026 data printed a false
    period, and no --ward printed "Địa bàn: -"."""
    out = tmp_path / "r.pdf"
    argv = ["report", "--input", str(gpkg), "--carrier", "viettel", "--out", str(out)]
    assert main([*argv, "--from", "2025-01-01", "--to", "2025-01-31", "--ward", "X"]) == 2
    err = capsys.readouterr().err
    assert "kỳ báo cáo không có phép đo nào" in err and "dated 2026-11-02 – 2026-11-20" in err
    assert main([*argv, "--from", "2026-11-01", "--to", "2026-11-30"]) == 2
    assert "--ward: cần tên phường" in capsys.readouterr().err
    assert not out.exists()


def test_report_with_the_wards_layers_and_letter(
        gpkg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layers = Path(__file__).parents[1] / "data" / "layers"
    letter = tmp_path / "letter.toml"
    letter.write_text('[letter]\nnumber = "Số: 7/UBND"\n', encoding="utf-8")
    out = tmp_path / "r.pdf"
    argv = ["report", "--input", str(gpkg), "--carrier", "viettel", "--from", "2026-11-01",
            "--to", "2026-11-30", "--ward", "Phường Hoàn Kiếm", "--out", str(out)]
    assert main([*argv, "--streets", str(layers / "osm_o_cho_dua_streets_extract.geojson"),
                 "--letter", str(letter)]) == 0
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True,
                          timeout=60, check=True).stdout
    assert "Số: 7/UBND" in text and "Kính gửi" in text
    assert main([*argv, "--groups", str(layers / "osm_o_cho_dua_streets_extract.geojson")]) == 2
    assert "--groups: không dùng được lớp bản đồ" in capsys.readouterr().err
    letter.write_text("[letter]\nnumbr = 1\n", encoding="utf-8")
    assert main([*argv, "--letter", str(letter)]) == 2
    assert "unknown key letter.numbr" in capsys.readouterr().err
