"""The city's PDF: every ward compared per carrier, with a map of the wards coloured by status.

Consumes what the city page shows (`analysis.city.ward_summary` rows and `ward_status`), passed
in as plain values: this module reads no database. Text is escaped for reportlab's markup
(`pdf_layout.para`) and NFC-normalised.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import shapely
from reportlab.graphics.shapes import Drawing, Polygon
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, SimpleDocTemplate, Spacer

from lomsong.maps.citysvg import projected_rings
from lomsong.maps.i18n import format_date, format_number, format_percent, translator
from lomsong.maps.labels import label
from lomsong.maps.pdf_layout import FONT, PAGE_SIZE, Styles, numbered_canvas, para, table

__all__ = ["STATUS_COLOURS", "CityWard", "build_city_report"]

# The same colours as the city page (collector/dashboard/static/dashboard.css).
STATUS_COLOURS = {"dead_spot": "#1a1a1a", "weak": "#c62828", "ok": "#2e7d32",
                  "insufficient_data": "#8a8f98"}
_MAP_WIDTH_MM = 180.0


@dataclass(frozen=True)
class CityWard:
    code: str
    name: str
    status: str  # `analysis.city.ward_status`
    measurements: int
    carriers: list[dict[str, Any]]  # `analysis.city.ward_summary` rows
    outline: shapely.Geometry | None  # WGS 84 polygon(s), None when the ward has none


def _map(wards: Sequence[CityWard]) -> Drawing | None:
    drawn = [w for w in wards if w.outline is not None and not w.outline.is_empty]
    if not drawn:
        return None
    frame = gpd.GeoDataFrame(geometry=[w.outline for w in drawn], crs=4326)
    width, height, rings = projected_rings(frame, width=_MAP_WIDTH_MM * mm)
    limit = 120 * mm
    scale = min(1.0, limit / height) if height else 1.0
    drawing = Drawing(width * scale, height * scale)
    for ward, ward_rings in zip(drawn, rings, strict=True):
        fill = colors.HexColor(STATUS_COLOURS.get(ward.status, "#8a8f98"))
        for ring in ward_rings:
            points = [v for x, y in ring for v in (x * scale, (height - y) * scale)]
            drawing.add(Polygon(points, fillColor=fill, strokeColor=colors.white,
                                strokeWidth=0.6))
    return drawing


def build_city_report(wards: Sequence[CityWard], *, lang: str = "vi", period_start: dt.date,
                      period_end: dt.date, baseline: tuple[dt.date, dt.date] | None = None
                      ) -> bytes:
    """The PDF comparing `wards` over the period (and the indicator against `baseline`)."""
    if period_end < period_start:
        raise ValueError(f"period ends ({period_end}) before it starts ({period_start})")
    _ = translator(lang)
    styles = Styles()

    def status_text(status: str) -> str:
        return _("weak area") if status == "weak" else label("status", status, _)

    period = f"{format_date(period_start, lang)} – {format_date(period_end, lang)}"
    story: list[Flowable] = [para(_("Wards compared"), styles.title), para(period, styles.cover)]
    if baseline is not None:
        story.append(para(_("Baseline from") + f" {format_date(baseline[0], lang)} – "
                          f"{format_date(baseline[1], lang)}", styles.cover))
    story.append(Spacer(1, 6 * mm))
    drawing = _map(wards)
    if drawing is not None:
        story.append(drawing)
        story.append(para(" · ".join(f"{status_text(s)}" for s in STATUS_COLOURS), styles.small))
    rows = []
    for w in wards:
        head = [w.code, f"{w.name} ({status_text(w.status)}; "
                + _("{count} measurements in this period").format(
                    count=format_number(w.measurements, lang, decimals=0)) + ")"]
        if not w.carriers:
            rows.append([*head, "–", _("No measurement data in this period"), "", "", "", ""])
        for c in w.carriers:
            indicator = "–" if c["groups_dead_at_start"] is None else (
                f"{c['groups_covered']} / {c['groups_dead_at_start']}"
                + ("" if c["indicator_share"] is None
                   else f" ({format_percent(c['indicator_share'], lang)})"))
            measured = ([_("No measurement data in this period"), "", ""]
                        if c["points_measured"] is None else
                        [f"{c['points_meeting_target']} / {c['points_measured']}",
                         str(c["dead_spots"]), str(c["weak_areas"])])
            asks = f"{c.get('open_asks', 0)} ({c.get('overdue_asks', 0)})"
            rows.append([*head, label("carrier", str(c["carrier"]), _), *measured, indicator,
                         asks])
    story.append(Spacer(1, 4 * mm))
    story.append(table([_("Code"), _("Ward"), _("Carrier"), _("Service points meeting the target"),
                        _("Dead spots"), _("Weak areas"),
                        _("Residential groups in a dead spot at the baseline, covered since"),
                        _("Open asks (overdue)")],
                       rows, styles, [14, 44, 20, 26, 16, 16, 30, 20]))
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=PAGE_SIZE, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=15 * mm,
        bottomMargin=18 * mm, title=_("Wards compared"), author="lomsong", initialFontName=FONT)
    document.build(story, canvasmaker=numbered_canvas(
        lambda page, total: _("Page {page}/{total}").format(page=page, total=total),
        f"lomsong · {period}"))
    return buffer.getvalue()
