"""PDF building blocks: the embedded Vietnamese font, paragraph styles, tables, "Trang 3/12".

The font is DejaVu Sans as shipped inside matplotlib (full Vietnamese glyphs, free licence),
registered with reportlab as a TrueType font, so it is embedded (subset) in every PDF.

Example
-------
>>> register_fonts()
'DejaVuSans'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import matplotlib
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, Table, TableStyle

from lomsong.maps.i18n import nfc

__all__ = [
    "FONT",
    "FONT_BOLD",
    "PAGE_SIZE",
    "Styles",
    "fitting_cell",
    "numbered_canvas",
    "para",
    "register_fonts",
    "table",
]

FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
PAGE_SIZE = A4
_FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@cache
def register_fonts() -> str:
    """Register DejaVu Sans (regular and bold) with reportlab; return the family name."""
    pdfmetrics.registerFont(TTFont(FONT, str(_FONT_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(_FONT_DIR / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT,
                                  boldItalic=FONT_BOLD)
    return FONT


class Styles:
    """The report's paragraph styles, all in the embedded font."""

    def __init__(self) -> None:
        register_fonts()
        self.body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13,
                                   spaceAfter=4)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=7, leading=8.6,
                                    spaceAfter=0)
        self.small_bold = ParagraphStyle("small_bold", parent=self.small, fontName=FONT_BOLD)
        self.h1 = ParagraphStyle("h1", parent=self.body, fontName=FONT_BOLD, fontSize=15,
                                 leading=19, spaceBefore=6, spaceAfter=8,
                                 textColor=colors.HexColor("#1f3a5f"))
        self.h2 = ParagraphStyle("h2", parent=self.h1, fontSize=11.5, leading=15, spaceBefore=8,
                                 spaceAfter=4)
        self.title = ParagraphStyle("title", parent=self.h1, fontSize=22, leading=28,
                                    alignment=1, spaceAfter=16)
        self.cover = ParagraphStyle("cover", parent=self.body, fontSize=13, leading=19,
                                    alignment=1)


def para(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (escaped for reportlab's mini-markup), NFC-normalised."""
    escaped = nfc(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Paragraph(escaped, style)


_PADDING_PT = 4.0  # LEFTPADDING + RIGHTPADDING below
_MIN_FONT = 5.0


def fitting_cell(text: str, style: ParagraphStyle, width_pt: float) -> Paragraph:
    """A table cell that wraps only between words: long words are never split
    (``splitLongWords=0``); when the longest word is wider than the column, the cell's font
    shrinks until it fits (not below 5 pt, where a word may overflow rather than break)."""
    words = nfc(text).split()
    size = style.fontSize
    while size > _MIN_FONT and words and max(
            pdfmetrics.stringWidth(w, style.fontName, size) for w in words) > width_pt - _PADDING_PT:
        size = max(_MIN_FONT, size - 0.5)
    fitted = ParagraphStyle(f"{style.name}-{size}", parent=style, fontSize=size,
                            leading=size * 1.23, splitLongWords=0)
    return para(text, fitted)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], styles: Styles,
          col_widths_mm: Sequence[float]) -> Table:
    """A table of wrapped small text with a bold shaded header row repeated on each page;
    cells wrap between words only (`fitting_cell`)."""
    widths = [w * mm for w in col_widths_mm]
    data: list[list[Any]] = [[fitting_cell(h, styles.small_bold, w)
                              for h, w in zip(header, widths, strict=True)]]
    data += [[fitting_cell(cell, styles.small, w) for cell, w in zip(row, widths, strict=True)]
             for row in rows]
    result = Table(data, colWidths=widths, repeatRows=1)
    result.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde5f0")),
        ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#9aa5b1")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
    ]))
    return result


def numbered_canvas(page_label: Callable[[int, int], str], footer: str,
                    watermark: str | None = None) -> type[Canvas]:
    """A canvas class that writes "Trang n/N" (via `page_label`) and `footer` on every page,
    and `watermark` (e.g. that the data is synthetic) in red at the top of every page.

    The total N is known only at the end, so pages are kept until `save` and numbered then.
    """

    class NumberedCanvas(Canvas):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                width, _height = PAGE_SIZE
                self.setFont(FONT, 8)
                self.setFillColor(colors.HexColor("#555555"))
                self.drawRightString(width - 15 * mm, 10 * mm,
                                     nfc(page_label(self._pageNumber, total)))
                self.drawString(15 * mm, 10 * mm, nfc(footer))
                if watermark:
                    self.setFont(FONT_BOLD, 9)
                    self.setFillColor(colors.HexColor("#b2182b"))
                    self.drawCentredString(width / 2, _height - 8 * mm, nfc(watermark))
                super().showPage()
            super().save()

    return NumberedCanvas
