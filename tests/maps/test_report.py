"""The PDF report, checked as a person would: rendered pages, extracted text, fonts, images."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import subprocess
from pathlib import Path

import pytest

from lomsong.maps.report import build_report
from lomsong.maps.report_input import ReportInput

START, END = dt.date(2026, 11, 1), dt.date(2026, 11, 30)
WARD = "Phường Hoàn Kiếm"


def run(args: list[str]) -> str:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout


def render(pdf: bytes, stem: str, artifacts: Path) -> tuple[str, list[Path]]:
    """Save the PDF, render every page with pdftoppm at 50 dpi; return its text and the PNGs."""
    path = artifacts / f"{stem}.pdf"
    path.write_bytes(pdf)
    for old in artifacts.glob(f"{stem}-*.png"):
        old.unlink()
    run(["pdftoppm", "-r", "50", "-png", str(path), str(artifacts / stem)])
    text = " ".join(run(["pdftotext", str(path), "-"]).split())  # table cells wrap: join lines
    return text, sorted(artifacts.glob(f"{stem}-*.png"))


def pages(path: Path) -> int:
    info = run(["pdfinfo", str(path)])
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


@pytest.fixture(scope="module")
def export_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("exports") / "cells-2026-11.csv"
    path.write_text("cell,carrier,samples\n8a4159a4a4b7fff,viettel,12\n", encoding="utf-8")
    return path


def test_carrier_report(survey: ReportInput, export_file: Path, artifacts: Path) -> None:
    pdf = build_report(survey, carrier="viettel", ward_name=WARD, period_start=START,
                       period_end=END, exports=[export_file])
    text, pngs = render(pdf, "report-viettel", artifacts)
    count = pages(artifacts / "report-viettel.pdf")
    assert count >= 4 and len(pngs) == count
    for heading in ("Báo cáo chất lượng mạng di động", "Tóm tắt", "Phương pháp", "Bản đồ",
                    "Vùng sóng yếu", "Điểm phục vụ hành chính công", "Đề xuất",
                    "Phụ lục: dữ liệu xuất", f"Trang 1/{count}", f"Trang {count}/{count}"):
        assert heading in text, heading
    assert "Kỳ báo cáo: 01/11/2026 – 30/11/2026" in text
    assert "Nhà mạng: Viettel" in text
    assert "QCVN 34:2022/BTTTT" in text and "40 Mbps" in text
    assert "Lắp trạm phát sóng mới" in text and "Cao" in text       # proposal action, priority
    layout = " ".join(run(["pdftotext", "-layout", str(artifacts / "report-viettel.pdf"),
                           "-"]).split())
    assert "Vùng phủ (tín" in layout and "chắc chắn: Cao" in layout  # cause, certainty
    assert "Bộ phận một cửa" in text and "1,5 Mbps" in text         # failing service point
    assert "VNPT" not in text.split("Phương pháp")[0].split("Tóm tắt")[1]  # one carrier only
    assert hashlib.sha256(export_file.read_bytes()).hexdigest() in text
    assert "cells-2026-11.csv" in text


def test_fonts_embedded_and_images_present(survey: ReportInput, artifacts: Path) -> None:
    pdf = build_report(survey, carrier="vnpt", ward_name=WARD, period_start=START,
                       period_end=END, exports=[])
    path = artifacts / "report-vnpt.pdf"
    path.write_bytes(pdf)
    fonts = run(["pdffonts", str(path)]).splitlines()[2:]
    assert fonts and all("DejaVuSans" in line for line in fonts)
    assert all(line.split()[-5] == "yes" for line in fonts)  # the "emb" column
    images = run(["pdfimages", "-list", str(path)]).splitlines()[2:]
    assert len(images) >= 1
    widths = sorted(int(line.split()[3]) for line in images)
    assert widths[-1] >= 800                   # the carrier's map, at 150 dpi
    assert len(widths) >= 2 and widths[0] < 800  # and an inset map per ask


def test_summary_report_for_the_ward(survey: ReportInput, artifacts: Path) -> None:
    pdf = build_report(survey, carrier=None, ward_name=WARD, period_start=START,
                       period_end=END, exports=[])
    text, _pngs = render(pdf, "report-summary", artifacts)
    assert "Báo cáo tổng hợp cho lãnh đạo phường (tất cả nhà mạng)" in text
    for carrier in ("Viettel", "VNPT (VinaPhone)", "MobiFone"):
        assert carrier in text
        assert f"Bản đồ: {carrier}" in text    # one map per carrier, never all overlaid


def test_english_report(survey: ReportInput, artifacts: Path) -> None:
    pdf = build_report(survey, carrier="mobifone", lang="en", ward_name=WARD,
                       period_start=START, period_end=END, exports=[])
    text, _pngs = render(pdf, "report-mobifone-en", artifacts)
    for heading in ("Summary", "Method", "Proposals", "Page 1/", "Carrier: MobiFone"):
        assert heading in text


def test_empty_period_says_so(artifacts: Path) -> None:
    pdf = build_report(ReportInput.empty(), carrier="viettel", ward_name=WARD,
                       period_start=START, period_end=END, exports=[])
    text, pngs = render(pdf, "report-empty", artifacts)
    assert "Không có dữ liệu đo trong kỳ này" in text
    assert "Phương pháp" in text
    assert len(pngs) == pages(artifacts / "report-empty.pdf")


def test_bad_arguments(survey: ReportInput) -> None:
    with pytest.raises(ValueError, match="unknown carrier 'orange'"):
        build_report(survey, carrier="orange", ward_name=WARD, period_start=START,
                     period_end=END, exports=[])
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        build_report(survey, carrier="viettel", lang="fr", ward_name=WARD,
                     period_start=START, period_end=END, exports=[])
    with pytest.raises(ValueError, match="before it starts"):
        build_report(survey, carrier="viettel", ward_name=WARD, period_start=END,
                     period_end=START, exports=[])


def test_report_shows_failed_tests_certainty_and_deciding_window(
        survey: ReportInput, artifacts: Path) -> None:
    pdf = build_report(survey, carrier="viettel", lang="en", ward_name=WARD, period_start=START,
                       period_end=END, exports=[])
    render(pdf, "report-viettel-evidence", artifacts)
    # Table cells wrap; the layout text keeps each line of a cell whole.
    text = run(["pdftotext", "-layout", str(artifacts / "report-viettel-evidence.pdf"), "-"])
    areas = text.split("\nWeak areas")[-1].split("\nService points")[0]
    assert "84 (30" in areas and "51 (0" in areas      # tests, and failed ones beside them
    assert "certainty: High" in areas
    assert "Peak hours:" in areas and "(74–97%)" in areas   # deciding window + interval
    assert "02/11/2026" in areas and "20/11/2026" in areas
    assert "96 (40" in text.split("\nService points")[-1]
    # The summary counts the dead spots among the weak areas (VT-01 of Viettel's two).
    assert re.search(r"2 weak areas cover [0-9.]+ km², 1 of them dead spots", " ".join(text.split()))


def test_method_text_follows_the_thresholds_in_use(survey: ReportInput, tmp_path: Path) -> None:
    from dataclasses import replace

    from lomsong.analysis.thresholds import load_thresholds
    from lomsong.maps.i18n import translator
    from lomsong.maps.report_text import method_paragraphs

    ward = tmp_path / "ward.toml"
    ward.write_text('[access."4g"]\ndown_mbps = 50.0\nsource = "Ward decision 7/QD"\n'
                    "[rules]\nmin_samples = 8\n[windows]\npeak_start_hour = 18\n",
                    encoding="utf-8")
    custom = replace(survey, thresholds=load_thresholds(override=ward))
    default = " ".join(method_paragraphs(survey, translator("en"), "en"))
    text = " ".join(method_paragraphs(custom, translator("en"), "en"))
    assert "4G: download at least 40 Mbps" in default and "58/KH-UBND" in default
    assert "at least 5 tests in at least 2 different 4-hour slots" in default
    assert "4G: download at least 50 Mbps (Ward decision 7/QD)" in text
    assert "at least 8 tests" in text and "18:00–22:00" in text
    assert "95% interval" in text and "68% interval" in text
