"""QR posters: one A4 page per service point with the enrolment link as a QR code, the place's
name and short instructions (Vietnamese by default).

The QR code is drawn as vector squares from segno's module matrix (error correction M, the
standard four-module quiet zone), so it stays sharp at any print size.

Example
-------
>>> pdf = poster_pdf("UBND phường", "Phường Đống Đa", "https://x.vn/do?t=e1.1.2.AAAAAAAAAAAAAAAAAAAAAA")
>>> pdf[:5]
b'%PDF-'
"""

from __future__ import annotations

import io
import re
from typing import Final

import segno
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Frame

from lomsong.maps.i18n import N_, translator
from lomsong.maps.pdf_layout import FONT, FONT_BOLD, PAGE_SIZE, para, register_fonts

__all__ = ["poster_filename", "poster_pdf"]

QR_SIDE_MM: Final = 120.0
STEPS: Final = (
    N_("Scan the QR code with your phone's camera."),
    N_("Read what is collected and agree."),
    N_("Choose your carrier and whether you use mobile data or Wi-Fi."),
    N_("Keep the page open for about a minute, until the result is sent."),
)


def poster_filename(site_id: str) -> str:
    """A safe file name for the poster of `site_id` (anything unusual becomes ``_``)."""
    return "poster-" + re.sub(r"[^A-Za-z0-9._-]", "_", site_id).lstrip(".") + ".pdf"


def _draw_qr(canvas: Canvas, link: str, x: float, y: float, side: float) -> None:
    qr = segno.make_qr(link, error="m", boost_error=False)
    matrix = qr.matrix
    border = 4
    count = len(matrix) + 2 * border
    module = side / count
    canvas.setFillColor(colors.white)
    canvas.rect(x, y, side, side, stroke=0, fill=1)
    canvas.setFillColor(colors.black)
    for row_index, row in enumerate(matrix):
        top = y + side - (row_index + border + 1) * module
        for col_index, dark in enumerate(row):
            if dark:
                canvas.rect(x + (col_index + border) * module, top, module, module,
                            stroke=0, fill=1)


def poster_pdf(place_name: str, ward_name: str, link: str, lang: str = "vi") -> bytes:
    """One A4 page: title, place, QR code of `link`, numbered steps, the privacy note."""
    _ = translator(lang)
    register_fonts()
    width, height = PAGE_SIZE
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=PAGE_SIZE, invariant=True)
    canvas.setTitle(f"{_('Measure the network')}: {place_name}")
    title = ParagraphStyle("title", fontName=FONT_BOLD, fontSize=26, leading=32,
                           alignment=TA_CENTER, textColor=colors.HexColor("#1f3a5f"))
    place = ParagraphStyle("place", fontName=FONT_BOLD, fontSize=18, leading=23,
                           alignment=TA_CENTER)
    body = ParagraphStyle("body", fontName=FONT, fontSize=13, leading=18, spaceAfter=3)
    small = ParagraphStyle("small", fontName=FONT, fontSize=8, leading=10, alignment=TA_CENTER)
    ward = ParagraphStyle("ward", parent=small, fontSize=12, leading=16)
    header = [para(_("Measure your phone's network here"), title),
              para(place_name, place), para(ward_name, ward)]
    Frame(15 * mm, height - 65 * mm, width - 30 * mm, 50 * mm, showBoundary=0).addFromList(
        header, canvas)
    side = QR_SIDE_MM * mm
    qr_y = height - 70 * mm - side
    _draw_qr(canvas, link, (width - side) / 2, qr_y, side)
    steps = [para(f"{i}. {_(step)}", body) for i, step in enumerate(STEPS, 1)]
    steps.append(para(_("No name, phone number or address is collected; the phone gets a "
                        "random id."), body))
    steps.append(para(link, small))
    Frame(20 * mm, 12 * mm, width - 40 * mm, qr_y - 16 * mm, showBoundary=0).addFromList(
        steps, canvas)
    canvas.showPage()
    canvas.save()
    return out.getvalue()
