"""The web map: offline (no URL outside the asset base), layers present, small enough."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from mapkit import hexes, make_cells

from lomsong.maps.assets import CSS_FILES, JS_FILES, VENDOR_DIR, asset_links
from lomsong.maps.heatmap import build_map, render_html
from lomsong.maps.report_input import ReportInput

URL_RE = re.compile(r"https?://[^\s\"'<>)]+")
# What a page loads: script/img src, <link href>, CSS url(). Anchors (<a href>) load nothing.
LOADS_RE = re.compile(
    r"""(?:\bsrc\s*=\s*|<link\b[^>]*\bhref\s*=\s*)["']([^"']+)["']|url\(\s*["']?([^"')]+)""")


def present(text: str, html: str) -> bool:
    """`text` is in the page, as is or as a JSON string escape (how folium writes layer names)."""
    return text in html or json.dumps(text)[1:-1] in html


def full_html(survey: ReportInput, **kwargs: object) -> str:
    return render_html(survey.cells, survey.weak_areas, survey.scorecards, survey.routes,
                       survey.boundary, **kwargs)  # type: ignore[arg-type]


def test_every_vendored_asset_exists_with_its_licence() -> None:
    for _name, path in (*JS_FILES, *CSS_FILES):
        assert (VENDOR_DIR / path).is_file(), path
    for package in ("leaflet", "jquery", "bootstrap", "fontawesome-free",
                    "leaflet.awesome-markers"):
        assert list((VENDOR_DIR / package).glob("LICENSE*")), package
    readme = (VENDOR_DIR / "README.md").read_text(encoding="utf-8")
    assert "1.9.3" in readme and "BSD-2-Clause" in readme


def test_css_references_resolve_to_vendored_files() -> None:
    for _name, path in CSS_FILES:
        css = (VENDOR_DIR / path).read_text(encoding="utf-8")
        for ref in re.findall(r"url\(['\"]?([^'\")]+)", css):
            if ref.startswith(("data:", "#")) or ref.endswith(".ttf"):
                continue
            assert ((VENDOR_DIR / path).parent / ref).is_file(), (path, ref)


def test_no_url_outside_the_asset_base(survey: ReportInput) -> None:
    html = full_html(survey, asset_base_url="http://127.0.0.1:8000/static/vendor")
    outside = [u for u in URL_RE.findall(html)
               if not u.startswith("http://127.0.0.1:8000/static/vendor/")]
    assert outside == []
    js, css = asset_links("http://127.0.0.1:8000/static/vendor")
    for _name, url in (*js, *css):
        assert url in html
    assert "tileLayer" not in html


def test_default_base_is_relative_and_has_no_cdn(survey: ReportInput) -> None:
    html = full_html(survey)
    assert URL_RE.findall(html) == []
    assert 'src="/static/vendor/leaflet/leaflet.js"' in html
    for cdn in ("jsdelivr", "cdnjs", "bootstrapcdn", "code.jquery", "openstreetmap"):
        assert cdn not in html


def test_basemap_only_when_asked(survey: ReportInput) -> None:
    html = full_html(survey, basemap_url="http://127.0.0.1:9000/tiles/{z}/{x}/{y}.png")
    assert "tileLayer" in html and "127.0.0.1:9000/tiles" in html


def test_inline_standalone_loads_nothing_from_outside(survey: ReportInput) -> None:
    html = full_html(survey, inline=True)
    loads = [a or b for a, b in LOADS_RE.findall(html)]
    external = [u for u in loads if re.match(r"(?:https?:)?//", u)]
    assert external == []
    assert "/static/vendor" not in html
    assert "<script src=" not in html and '<link rel="stylesheet"' not in html
    assert "data:font/woff2;base64," in html


def test_layers_and_legend(survey: ReportInput) -> None:
    html = full_html(survey, lang="vi")
    for name in ("Viettel · 4G · Cả ngày", "Viettel · 4G · Giờ cao điểm",
                 "Viettel · 4G · Ngoài giờ cao điểm", "VNPT (VinaPhone) · 4G · Cả ngày",
                 "MobiFone · 4G · Cả ngày", "Vùng sóng yếu", "Điểm phục vụ hành chính công",
                 "Tuyến đi bộ đo", "Ranh giới phường"):
        assert present(name, html), name
    for text in ("Ngưỡng tải xuống: 40 Mbps (4G)", "Lõm sóng", "Khung giờ",
                 "Nhiễu (tín hiệu mạnh, chất lượng kém)",  # a weak area's cause, in its popup
                 "UBND phường Hoàn Kiếm", "Yếu (đã xác nhận)"):
        assert present(text, html), text
    assert "L.control.layers" in html


def test_english_and_speed_mode(survey: ReportInput) -> None:
    html = full_html(survey, lang="en", mode="speed")
    assert present("Median download speed", html) and present("40–100 Mbps", html)
    assert present("Viettel · 4G · Peak hours", html)


def test_bad_input_is_named() -> None:
    cells = make_cells(hexes(3)).drop(columns=["status"])
    with pytest.raises(ValueError, match="cells: missing columns status"):
        build_map(cells)
    with pytest.raises(ValueError, match="unknown language 'de'"):
        build_map(make_cells(hexes(3)), lang="de")
    with pytest.raises(ValueError, match="unknown mode"):
        build_map(make_cells(hexes(3)), mode="rainbow")


def test_coordinates_are_micro_degrees(survey: ReportInput) -> None:
    html = full_html(survey)
    rings = re.search(r'"rings":\[\[(-?\d+),(-?\d+),', html)
    assert rings is not None
    assert 21_000_000 < int(rings.group(1)) < 21_100_000
    assert 105_800_000 < int(rings.group(2)) < 105_900_000


@pytest.mark.parametrize(("hex_count", "carriers", "windows"), [
    (20_000, ("viettel",), ("all",)),            # 20,000 distinct cells: the worst case
    (2_223, ("viettel", "vnpt", "mobifone"), ("all", "peak", "offpeak")),  # 20,007 rows
])
def test_twenty_thousand_cells_stay_under_3_mb(hex_count: int, carriers: tuple[str, ...],
                                               windows: tuple[str, ...], artifacts: Path) -> None:
    cells = make_cells(hexes(hex_count), carriers=carriers, windows=windows)
    assert len(cells) >= 20_000
    html = render_html(cells)
    size = len(html.encode("utf-8"))
    (artifacts / f"map-{hex_count}.size.txt").write_text(f"{len(cells)} rows {size} bytes\n")
    assert size <= 3_000_000
