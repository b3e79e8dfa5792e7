"""The volunteer's walk: GPX 1.1 file, stop order, words for each gap, SVG drawing."""

from __future__ import annotations

import doctest
import itertools
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely
from pyproj import Geod

import lomsong.maps.gpx
import lomsong.maps.routesvg
import lomsong.maps.walk_text
from lomsong.analysis.planner import GAP_COLUMNS
from lomsong.analysis.thresholds import load_thresholds
from lomsong.maps.gpx import GPX_NS, GpxPoint, walk_gpx
from lomsong.maps.i18n import catalog_path, translator
from lomsong.maps.walk_plan import Start, plan_walk
from lomsong.maps.walk_text import GAP_TEXTS

NS = f"{{{GPX_NS}}}"
# The child order the GPX 1.1 schema (topografix.com/GPX/1/1/gpx.xsd) requires, per element
# type, for the elements lomsong writes; `check_gpx` is a structural check against it.
SEQUENCES = {
    "gpx": ["metadata", "wpt", "rte", "trk", "extensions"],
    "metadata": ["name", "desc", "author", "copyright", "link", "time", "keywords", "bounds",
                 "extensions"],
    "wpt": ["ele", "time", "magvar", "geoidheight", "name", "cmt", "desc", "src", "link", "sym",
            "type", "fix", "sat", "hdop", "vdop", "pdop", "ageofdgpsdata", "dgpsid",
            "extensions"],
    "rte": ["name", "cmt", "desc", "src", "link", "number", "type", "extensions", "rtept"],
}
SEQUENCES["rtept"] = SEQUENCES["wpt"]
REPEATABLE = {"wpt", "rte", "trk", "link", "rtept"}


def check_gpx(data: bytes) -> ET.Element:
    """Parse `data` and check it against the GPX 1.1 schema's structure; return the root."""
    root = ET.fromstring(data)
    assert root.tag == NS + "gpx" and root.get("version") == "1.1" and root.get("creator")

    def walk(element: ET.Element) -> None:
        name = element.tag.removeprefix(NS)
        assert element.tag.startswith(NS), element.tag
        if name in ("wpt", "rtept"):
            lat, lon = float(element.get("lat", "nan")), float(element.get("lon", "nan"))
            assert -90 <= lat <= 90 and -180 <= lon < 180
            assert set(element.attrib) == {"lat", "lon"}
        if name == "time":
            datetime.strptime(element.text or "", "%Y-%m-%dT%H:%M:%SZ")
        order = SEQUENCES.get(name)
        if order is None:
            assert len(element) == 0, f"{name} has children"
            return
        positions = [order.index(child.tag.removeprefix(NS)) for child in element]
        assert positions == sorted(positions), f"{name}: children out of schema order"
        names = [child.tag.removeprefix(NS) for child in element]
        for child in set(names) - REPEATABLE:
            assert names.count(child) == 1, f"{name}: {child} more than once"
        for child in element:
            walk(child)

    walk(root)
    return root


def test_gpx_is_gpx_1_1_with_waypoints_and_a_route_and_escaped_names() -> None:
    hostile = 'Nhà văn hoá <tổ 5> & "Ngõ 12" </name><script>'
    data = walk_gpx([GpxPoint(21.03, 105.85, "1", "19:00-22:00. Viettel 4G"),
                     GpxPoint(21.031, 105.851, "2", hostile)],
                    name=hostile, start=GpxPoint(21.029, 105.849, hostile),
                    made_at=datetime(2026, 12, 5, 3, 4, 5, tzinfo=UTC))
    root = check_gpx(data)
    assert b"<script>" not in data and b"&lt;script&gt;" in data
    waypoints = root.findall(NS + "wpt")
    assert [w.findtext(NS + "name") for w in waypoints] == [hostile, "1", "2"]
    assert [w.findtext(NS + "type") for w in waypoints] == ["start", "stop", "stop"]
    assert waypoints[2].findtext(NS + "desc") == hostile
    points = root.findall(f"{NS}rte/{NS}rtept")
    assert [(p.get("lat"), p.get("lon")) for p in points] == [
        ("21.029000", "105.849000"), ("21.030000", "105.850000"), ("21.031000", "105.851000")]
    assert root.findtext(f"{NS}metadata/{NS}time") == "2026-12-05T03:04:05Z"
    assert root.findtext(f"{NS}metadata/{NS}name") == hostile


def test_the_structural_check_catches_a_misordered_file() -> None:
    bad = (f'<gpx xmlns="{GPX_NS}" version="1.1" creator="x"><wpt lat="1" lon="2">'
           "<name>a</name><ele>3</ele></wpt></gpx>").encode()
    with pytest.raises(AssertionError, match="out of schema order"):
        check_gpx(bad)
    with pytest.raises(ValueError, match="outside WGS 84"):
        GpxPoint(91.0, 0.0, "x")


def _gaps(rows: list[tuple[str, str, str, str, int, int]]) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        dict(zip(GAP_COLUMNS, map(list, zip(*rows, strict=True)), strict=True)),
        geometry=[shapely.Polygon([(b, a) for a, b in h3.cell_to_boundary(r[0])]) for r in rows],
        crs=4326)
    return frame


def _line_of_cells(n: int) -> list[str]:
    """`n` resolution-10 cells (about 65 m across) along a street going east, 156 m apart."""
    cells = [h3.latlng_to_cell(21.03, 105.850 + 0.0015 * i, 10) for i in range(n)]
    assert len(set(cells)) == n
    return cells


def test_plan_orders_stops_from_the_start_and_words_every_gap() -> None:
    cells = _line_of_cells(6)
    shuffled = [cells[i] for i in (3, 0, 5, 1, 4, 2)]
    rows = [(c, "viettel", "4g", "no_peak_samples", 0, 1) for c in shuffled]
    rows += [(shuffled[0], "vnpt", "any", "carrier_missing", 0, 5),
             (shuffled[1], "mobifone", "5g_nsa", "too_few_samples", 2, 3),
             (shuffled[2], "viettel", "4g", "too_few_time_slots", 6, 0)]
    gaps = _gaps(rows)
    thresholds = load_thresholds()
    start = Start(21.03, 105.8490, "UBND <phường>")
    for lang in ("vi", "en"):
        plan = plan_walk(gaps, translator(lang), thresholds, start=start)
        assert [s.cell for s in plan.stops] == cells           # a straight walk east
        legs = np.array([s.leg_m for s in plan.stops])
        path = [(start.lat, start.lon), *(h3.cell_to_latlng(c) for c in cells)]
        geodesic = [Geod(ellps="WGS84").inv(a[1], a[0], b[1], b[0])[2]
                    for a, b in itertools.pairwise(path)]
        assert legs == pytest.approx(geodesic, abs=1.0)         # UTM metres, straight lines
        assert plan.stops[-1].cumulative_m == pytest.approx(legs.sum(), abs=0.5)
        every = " ".join(n for s in plan.stops for n in s.needs) + " ".join(
            s.window for s in plan.stops)
        for code in GAP_TEXTS:
            assert code not in every
        assert all(s.peak for s in plan.stops)
    vi = plan_walk(gaps, translator("vi"), thresholds, start=start)
    needs = {n for s in vi.stops for n in s.needs}
    assert "Viettel 4G: chưa có lần đo nào vào giờ cao điểm buổi tối; hãy đo ít nhất 1 lần ở " \
           "đây trong khoảng 19:00 đến 22:00" in needs
    assert "VNPT (VinaPhone): chưa từng được đo ở đây; hãy đo 5 lần bằng SIM của nhà mạng " \
           "này" in needs
    assert "MobiFone 5G NSA: mới có 2 lần đo dùng được ở đây; hãy đo thêm 3 lần" in needs
    assert any(n.startswith("Viettel 4G: mọi lần đo ở đây đều trong cùng một khung 4 giờ")
               for n in needs)
    assert vi.stops[0].window == "19:00-22:00 (cao điểm buổi tối)"
    assert vi.carriers == ["viettel", "vnpt", "mobifone"] and vi.accesses == ["4g", "5g_nsa"]


def test_choosing_a_carrier_and_technology_keeps_their_gaps_and_missing_carriers() -> None:
    cells = _line_of_cells(4)
    gaps = _gaps([(cells[0], "viettel", "4g", "too_few_samples", 1, 4),
                  (cells[1], "vnpt", "4g", "too_few_samples", 1, 4),
                  (cells[2], "viettel", "any", "carrier_missing", 0, 5),
                  (cells[3], "viettel", "5g_nsa", "no_download_tests", 0, 5)])
    _ = translator("en")
    t = load_thresholds()
    assert [s.cell for s in plan_walk(gaps, _, t, carrier="viettel").stops] == [
        cells[0], cells[2], cells[3]]
    viettel_4g = plan_walk(gaps, _, t, carrier="viettel", access="4g")
    assert [s.cell for s in viettel_4g.stops] == [cells[0], cells[2]]
    assert viettel_4g.stops[0].window == "any time of day" and not viettel_4g.stops[0].peak
    assert viettel_4g.start is None and viettel_4g.stops[0].leg_m == 0
    assert plan_walk(gaps, _, t, carrier="mobifone").stops == []


def test_a_plan_without_gaps_and_its_gpx() -> None:
    empty = _gaps([(h3.latlng_to_cell(21.03, 105.85, 10), "viettel", "4g", "too_few_samples",
                    1, 4)]).iloc[0:0]
    plan = plan_walk(empty, translator("vi"), load_thresholds())
    assert plan.stops == [] and plan.length_m == 0 and plan.svg.path == ""
    root = check_gpx(plan.gpx(name="Không có điểm"))
    assert root.findall(NS + "wpt") == []


def test_the_svg_fits_the_box_and_puts_the_start_first() -> None:
    cells = _line_of_cells(3)
    boundary = gpd.GeoDataFrame(geometry=[shapely.box(105.848, 21.028, 105.853, 21.032)],
                                crs=4326)
    gaps = _gaps([(c, "viettel", "4g", "too_few_samples", 1, 4) for c in cells])
    plan = plan_walk(gaps, translator("en"), load_thresholds(),
                     start=Start(21.0295, 105.8485, "Office"), boundary=boundary)
    svg = plan.svg
    assert svg.view_box == "0 0 800 800" and svg.size == 800
    points = [tuple(map(float, p.split(","))) for p in svg.path.split()]
    assert points[0] == svg.start and points[1:] == svg.stops
    numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", svg.outline + " ".join(svg.cells))]
    assert numbers and min(numbers) >= 0 and max(numbers) <= 800
    assert xs_increase([p[0] for p in svg.stops])              # east is to the right
    assert 0 < svg.scale_px < 800 and svg.scale_m in (50, 100, 200)


def xs_increase(xs: list[float]) -> bool:
    return all(a < b for a, b in itertools.pairwise(xs))


def test_every_walk_message_is_in_both_catalogs() -> None:
    from babel.messages.pofile import read_po

    used = set(GAP_TEXTS.values()) | {"{what}: more tests needed here", "any time of day",
                                      "{start}-{end} (evening peak)"}
    for lang in ("vi", "en"):
        with catalog_path(lang).open("rb") as stream:
            catalog = {m.id: m.string for m in read_po(stream) if m.id}
        assert sorted(m for m in used if not catalog.get(m)) == [], lang


@pytest.mark.parametrize("module", [lomsong.maps.gpx, lomsong.maps.routesvg,
                                    lomsong.maps.walk_text])
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


def test_gpx_drops_characters_xml_cannot_hold() -> None:
    import xml.etree.ElementTree as ET

    from lomsong.maps.gpx import GpxPoint, walk_gpx

    hostile = "Tổ\x0b 5\x00 <&> \ud800\ufffe"
    data = walk_gpx([GpxPoint(21.03, 105.85, hostile, hostile)], name=hostile, desc=hostile)
    root = ET.fromstring(data)  # an unreadable file would raise here
    names = [e.text for e in root.iter() if e.tag.endswith("name")]
    assert names and all(n == "Tổ 5 <&> " for n in names)
