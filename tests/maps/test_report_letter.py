"""Issue 14: the carrier's report as a ward's letter whose asks each have a place, dates and cell
ids; a map with the ward's real streets and labels that never overlap; an honest period; counts
that agree. Checked as a reader would: pdftotext, pdftoppm images, label boxes."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from mapkit import CENTRE
from PIL import Image
from reportlab.lib.units import mm
from shapely import affinity
from shapely.geometry import Point, box

from lomsong.analysis.layers import read_layer
from lomsong.maps.letter import LetterConfig, load_letter_config
from lomsong.maps.pdf_layout import Styles, fitting_cell
from lomsong.maps.report import build_report, check_period
from lomsong.maps.report_input import ReportInput
from lomsong.maps.static import render_static_map_boxes

START, END = dt.date(2026, 11, 1), dt.date(2026, 11, 30)
WARD = "Phường Ô Chợ Dừa"
LAYERS = Path(__file__).parents[1] / "data" / "layers"
# Hand-drawn residential groups (constructed: no public tổ dân phố map exists).
GROUPS = gpd.GeoDataFrame({"name": ["Tổ dân phố 5", "Tổ dân phố 6"]}, crs=4326, geometry=[
    box(105.8230, 21.0170, 105.8262, 21.0205), box(105.8262, 21.0170, 105.8295, 21.0205)])


def text_of(pdf: bytes, path: Path, layout: bool = False) -> str:
    path.write_bytes(pdf)
    args = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    return out if layout else " ".join(out.split())


def moved(survey: ReportInput) -> ReportInput:
    """The constructed survey moved from Hoàn Kiếm onto the streets of Ô Chợ Dừa."""
    dx, dy = 105.8262 - CENTRE[1], 21.0190 - CENTRE[0]

    def shift(frame: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
        if frame is None:
            return None
        return frame.set_geometry(frame.geometry.apply(affinity.translate, xoff=dx, yoff=dy))

    return replace(survey, **{k: shift(getattr(survey, k)) for k in
                              ("cells", "weak_areas", "scorecards", "proposals", "routes",
                               "boundary")})


@pytest.fixture(scope="module")
def ward_survey(survey: ReportInput) -> ReportInput:
    return moved(survey)


@pytest.fixture(scope="module")
def streets() -> gpd.GeoDataFrame:
    return read_layer(LAYERS / "osm_o_cho_dua_streets_extract.geojson", "streets")


def test_letter_and_asks_with_places_from_real_streets(
        ward_survey: ReportInput, streets: gpd.GeoDataFrame, artifacts: Path) -> None:
    pdf = build_report(ward_survey, carrier="viettel", ward_name=WARD, period_start=START,
                       period_end=END, exports=[], streets=streets, groups=GROUPS)
    text = text_of(pdf, artifacts / "letter-viettel.pdf")
    letter = text.split("Trang 1/")[0]
    for part in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                 "ỦY BAN NHÂN DÂN PHƯỜNG Ô CHỢ DỪA", "Số:", "V/v chất lượng dịch vụ di động",
                 "Kính gửi: Viettel", "Nơi nhận:", "Như trên", "CHỦ TỊCH",
                 "Ủy ban nhân dân Phường Ô Chợ Dừa đề nghị Viettel:"):
        assert part in letter, part
    asks = re.findall(r"(\d)\. (?:Lắp|Nâng|Kiểm)", letter)
    assert asks == ["1", "2"]
    assert (re.search(r"tọa độ 21\.\d{5}, 105\.\d{5}", letter) and "gần Phố" in letter) \
        or "gần Ngõ" in letter or "gần Đường" in letter
    # each ask of the annex: place, dates, cell ids, tests and the deciding window
    annex = text.split("Các đề nghị", 1)[1].split("Phương pháp")[0]
    for number in ("1", "2"):
        assert f"Đề nghị {number}:" in annex
    for fact in ("Tọa độ (WGS 84)", "geo:21.", "Đường phố gần nhất", "Tổ dân phố",
                 "Điểm phục vụ gần nhất", "Ngày đo", "02/11/2026 – 20/11/2026", "Mã cell (ECI)",
                 "PCI / băng tần", "84 (30 thất bại)", "Khung giờ quyết định"):
        assert fact in annex, fact
    assert "Evidence" not in text and "p10" not in text          # one language


def test_letter_from_the_wards_toml_and_in_english(
        ward_survey: ReportInput, tmp_path: Path) -> None:
    config = tmp_path / "letter.toml"
    config.write_text('[letter]\nissuing_body = "ỦY BAN NHÂN DÂN\\nPHƯỜNG Ô CHỢ DỪA"\n'
                      'number = "Số: 125/UBND-VHXH"\nplace = "Hà Nội"\ndate = 2026-12-05\n'
                      'signer_name = "Nguyễn Văn A"\nrecipients = ["Như trên", "Lưu: VT"]\n'
                      '[letter.addressees]\nviettel = "Viettel Hà Nội"\n', encoding="utf-8")
    letter = load_letter_config(config)
    pdf = build_report(ward_survey, carrier="viettel", lang="en", ward_name=WARD,
                       period_start=START, period_end=END, exports=[], letter=letter)
    text = text_of(pdf, tmp_path / "en.pdf").split("Page 1/")[0]
    for part in ("SOCIALIST REPUBLIC OF VIET NAM", "Số: 125/UBND-VHXH", "Hà Nội, 05/12/2026",
                 "To: Viettel Hà Nội", "Nguyễn Văn A", "Recipients:", "asks Viettel Hà Nội to:"):
        assert part in text, part
    config.write_text('[letter]\nsigner = "x"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"letter.toml: unknown key letter\.signer"):
        load_letter_config(config)
    config.write_text('[letter]\ndate = "hôm nay"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"letter\.date: expected a date"):
        load_letter_config(config)
    assert LetterConfig().number == ""


def test_a_false_period_is_refused(survey: ReportInput) -> None:
    assert survey.data_dates() == (dt.date(2026, 11, 2), dt.date(2026, 11, 20))
    with pytest.raises(ValueError, match=r"no test in the period 2025-01-01 – 2025-01-31: the "
                                         r"data's tests are dated 2026-11-02 – 2026-11-20"):
        build_report(survey, carrier="viettel", ward_name=WARD,
                     period_start=dt.date(2025, 1, 1), period_end=dt.date(2025, 1, 31),
                     exports=[])
    check_period(survey, dt.date(2026, 11, 15), dt.date(2026, 12, 31))   # overlaps: allowed
    with pytest.raises(ValueError, match="ward name is empty"):
        build_report(survey, carrier="viettel", ward_name="-", period_start=START,
                     period_end=END, exports=[])


def test_summary_counts_equal_the_tables(ward_survey: ReportInput, artifacts: Path) -> None:
    pdf = build_report(ward_survey, carrier="viettel", ward_name=WARD, period_start=START,
                       period_end=END, exports=[])
    text = text_of(pdf, artifacts / "counts-viettel.pdf")
    areas = ward_survey.weak_areas[ward_survey.weak_areas["carrier"] == "viettel"]
    found = re.search(r"(\d+) vùng yếu rộng [\d,]+ km², trong đó (\d+) vùng lõm sóng", text)
    assert found is not None
    asks = re.findall(r"Đề nghị (\d+):", text)
    assert int(found.group(1)) == len(asks) == len(areas)
    annex = text.split("Các đề nghị", 1)[1]
    assert int(found.group(2)) == annex.split("Phương pháp")[0].count("Lõm sóng, ")
    failing = re.search(r"(\d+)/(\d+) điểm phục vụ hành chính công không đạt", text)
    assert failing is not None
    # the service point table, read with its layout: a row's first line has name and verdict
    layout = text_of(pdf, artifacts / "counts-viettel.pdf", layout=True)
    table = layout.split("\nĐiểm phục vụ hành chính công")[-1].split("\nĐề xuất")[0]
    names = sorted(set(ward_survey.scorecards["name"]))
    lines = [next(line for line in table.splitlines() if f"{n} (" in line) for n in names]
    bad = [n for n, line in zip(names, lines, strict=True)
           if re.search(r"Lõm sóng|Yếu \(đã|Có thể yếu", line)]  # a verdict may wrap
    assert (int(failing.group(1)), int(failing.group(2))) == (len(bad), len(names))


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_map_with_real_streets_has_labels_that_never_overlap(
        ward_survey: ReportInput, streets: gpd.GeoDataFrame, artifacts: Path) -> None:
    viettel = ward_survey.weak_areas["carrier"] == "viettel"
    sites = ward_survey.scorecards
    # crowd the map: eight more service points within 30 m of the first one
    first = sites.iloc[0]
    crowd = gpd.GeoDataFrame(
        [{**first.to_dict(), "site_id": f"X-{i}", "name": f"Điểm phụ số {i}",
          "geometry": Point(first.geometry.x + 0.0001 * (i % 3), first.geometry.y
                            + 0.0001 * (i // 3))} for i in range(8)], crs=4326)
    png, boxes = render_static_map_boxes(
        ward_survey.cells[ward_survey.cells["carrier"] == "viettel"],
        ward_survey.weak_areas[viettel], gpd.GeoDataFrame(
            [*sites.to_dict("records"), *crowd.to_dict("records")], crs=4326),
        ward_survey.boundary, dpi=100, streets=streets, groups=GROUPS,
        numbers={str(a): i for i, a in enumerate(ward_survey.weak_areas[viettel]["area_id"], 1)})
    (artifacts / "map-streets.png").write_bytes(png)
    assert len(boxes) >= 6                                  # numbers, sites, streets placed
    for a, b in itertools.combinations(boxes, 2):
        assert not _overlap(a, b), (a, b)
    image = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    assert image.std() > 20                                 # not a blank page
    # street lines are drawn: their grey is on the map
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    assert (np.abs(rgb.astype(int) - (0x8a, 0x8a, 0x8a)).sum(axis=1) < 12).sum() > 200


def test_table_cells_wrap_between_words_only() -> None:
    styles = Styles()
    for text, width in (("Xu hướng (Mbps/tuần)", 14), ("Trung vị / Phân vị 10", 16)):
        cell = fitting_cell(text, styles.small_bold, width * mm)
        cell.wrap(width * mm - 4, 1000)
        words = [w for line in cell.blPara.lines for w in line[1]]
        assert words == text.split(), words


def test_synthetic_data_is_marked_on_every_page(survey: ReportInput, tmp_path: Path) -> None:
    mixed = replace(survey, sources={"synthetic": 900, "probe": 100})
    pdf = build_report(mixed, carrier="viettel", ward_name=WARD, period_start=START,
                       period_end=END, exports=[])
    pages = text_of(pdf, tmp_path / "synthetic.pdf", layout=True).split("\f")[:-1]
    assert len(pages) >= 5
    for page in pages:
        assert "DỮ LIỆU TỔNG HỢP, KHÔNG PHẢI PHÉP ĐO THẬT (90% số phép đo)" in page
    text = " ".join(" ".join(pages).split())
    assert "Phép đo theo nguồn: Dữ liệu tổng hợp (mô phỏng) 90% (900); Đầu đo cố định 10% (100)." \
        in text
    assert "không đo mạng thật nào" in text
    only = replace(survey, sources={"synthetic": 50})
    text = text_of(build_report(only, carrier="viettel", ward_name=WARD, period_start=START,
                                period_end=END, exports=[]), tmp_path / "only.pdf")
    assert "Raspberry Pi" not in text and "Không phép đo nào trong báo cáo này đến từ" in text
    real = replace(survey, sources={"probe": 50})
    text = text_of(build_report(real, carrier="viettel", ward_name=WARD, period_start=START,
                                period_end=END, exports=[]), tmp_path / "real.pdf")
    assert "TỔNG HỢP" not in text and "Đầu đo cố định 100% (50)" in text
    unknown = text_of(build_report(survey, carrier="viettel", ward_name=WARD, period_start=START,
                                   period_end=END, exports=[]), tmp_path / "unknown.pdf")
    assert "Tệp đầu vào không ghi nguồn của các phép đo." in unknown


def test_checksum_table_stays_with_its_heading(ward_survey: ReportInput, tmp_path: Path) -> None:
    export = tmp_path / "cells.csv"
    export.write_text("cell,carrier\n", encoding="utf-8")
    pdf = build_report(ward_survey, carrier="viettel", ward_name=WARD, period_start=START,
                       period_end=END, exports=[export])
    pages = text_of(pdf, tmp_path / "annex.pdf", layout=True).split("\f")
    digest = hashlib.sha256(export.read_bytes()).hexdigest()
    holding = [p for p in pages if digest in p]
    assert len(holding) == 1 and "Phụ lục: dữ liệu xuất" in holding[0]
    assert "cells.csv" in holding[0]


def test_a_small_minority_of_sources_is_not_rounded_away() -> None:
    from lomsong.maps.i18n import translator
    from lomsong.maps.report_text import source_text

    text = source_text({"synthetic": 10998, "probe": 2}, translator("vi"), "vi")
    assert text == ("Phép đo theo nguồn: Dữ liệu tổng hợp (mô phỏng) 99,98% (10.998); "
                    "Đầu đo cố định 0,02% (2).")


def test_method_in_one_language_states_the_dead_spot_rule_the_code_applies(
        survey: ReportInput) -> None:
    from lomsong.maps.i18n import translator
    from lomsong.maps.report_text import method_paragraphs

    text = " ".join(method_paragraphs(survey, translator("vi"), "vi"))
    assert "quality criteria" not in text and "samples" not in text   # sources translated
    assert "QCVN 34:2022/BTTTT: tốc độ tải xuống băng rộng cố định" in text
    t = survey.thresholds.rules
    assert ("tỷ lệ thất bại trên 50% và cận dưới của khoảng tin cậy 68% của tỷ lệ đó cũng "
            "trên 50%") in text and t.weak_share == 0.5 and round(t.z_likely, 2) == 1.0


def test_whole_real_ward_map_with_its_streets_keeps_labels_apart(
        ward_survey: ReportInput, streets: gpd.GeoDataFrame, artifacts: Path) -> None:
    """The real 2025 boundary of Phường Ô Chợ Dừa frames the map (1.83 km²): more streets
    compete for room; read as a group layer, the ward polygon is a named outline too."""
    ward = read_layer(LAYERS / "00190_o_cho_dua.geojson", "groups")
    assert list(ward["name"]) == ["Ô Chợ Dừa"]
    viettel = ward_survey.weak_areas["carrier"] == "viettel"
    png, boxes = render_static_map_boxes(
        ward_survey.cells[ward_survey.cells["carrier"] == "viettel"],
        ward_survey.weak_areas[viettel], ward_survey.scorecards, ward, dpi=100,
        streets=streets, groups=GROUPS, numbers={"VT-01": 1, "VT-02": 2})
    (artifacts / "map-ward.png").write_bytes(png)
    assert len(boxes) >= 8
    for a, b in itertools.combinations(boxes, 2):
        assert not _overlap(a, b), (a, b)


def test_labels_keep_off_the_north_arrow(ward_survey: ReportInput) -> None:
    cells = ward_survey.cells[ward_survey.cells["carrier"] == "viettel"]
    _x0, _y0, x1, y1 = cells.total_bounds
    corner = gpd.GeoDataFrame(
        [{**ward_survey.scorecards.iloc[0].to_dict(), "name": "Nhà văn hóa góc bản đồ",
          "geometry": Point(x1, y1)}], crs=4326)
    _png, boxes = render_static_map_boxes(cells, None, corner, None, dpi=100, legend=False)
    size = 7.0 * 100                     # 7 in at 100 dpi; the axes span 2%–98% of the figure
    arrow_x = (0.02 + 0.96 * 0.94) * size
    half = 11 / 72 * 100 / 2             # the arrow head is 11 pt wide
    arrow = (arrow_x - half, (0.02 + 0.96 * 0.84) * size, arrow_x + half,
             (0.02 + 0.96 * 0.97) * size)
    assert len(boxes) == 1 and not _overlap(boxes[0], arrow), (boxes, arrow)
