"""The cover letter from the ward to a carrier, in the form of Decree 30/2020/NĐ-CP (Vietnamese
administrative documents): issuing body and national heading side by side, number and symbol,
place and date, subject ("V/v ..."), "Kính gửi" the carrier's named unit, the body with numbered
asks, then "Nơi nhận" (recipients) beside the signature block. The evidence annex follows it.

Every field is configurable per ward in a TOML file (`load_letter_config`); without one the
defaults name the ward's People's Committee and leave the number, signer's name and recipients
for the ward to fill by hand (dotted lines), never inventing them.

Example TOML::

    [letter]
    issuing_body = "ỦY BAN NHÂN DÂN\nPHƯỜNG Ô CHỢ DỪA"
    issuer_in_text = "Ủy ban nhân dân phường Ô Chợ Dừa"
    parent_body = "THÀNH PHỐ HÀ NỘI"
    number = "Số: 125/UBND-VHXH"
    place = "Hà Nội"
    date = 2026-12-05
    signer_title = "KT. CHỦ TỊCH\\nPHÓ CHỦ TỊCH"
    signer_name = "Nguyễn Văn A"
    recipients = ["Như trên", "Sở Khoa học và Công nghệ", "Lưu: VT"]
    [letter.addressees]
    viettel = "Viettel Hà Nội - Chi nhánh Tập đoàn Công nghiệp - Viễn thông Quân đội"
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, PageBreak, Spacer, Table, TableStyle

from lomsong.maps.i18n import Gettext, format_date
from lomsong.maps.pdf_layout import FONT, FONT_BOLD, Styles, para

__all__ = ["LetterConfig", "letter_flowables", "load_letter_config"]

_MAX_TEXT = 300
_MAX_RECIPIENTS = 20


@dataclass(frozen=True)
class LetterConfig:
    """What a ward fills in once; empty strings mean "leave a dotted line to fill by hand"."""

    issuing_body: str = ""
    issuer_in_text: str = ""
    parent_body: str = ""
    number: str = ""
    place: str = ""
    date: dt.date | None = None
    signer_title: str = ""
    signer_name: str = ""
    recipients: tuple[str, ...] = ()
    addressees: dict[str, str] = field(default_factory=dict)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected text, got {type(value).__name__}")
    if len(value) > _MAX_TEXT:
        raise ValueError(f"{where}: longer than {_MAX_TEXT} characters")
    return value.strip()


def load_letter_config(path: Path) -> LetterConfig:
    """Read the ``[letter]`` table of a TOML file; ``ValueError`` naming the file and key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    table = data.get("letter")
    if not isinstance(table, dict):
        raise ValueError(f"{path}: no [letter] table")
    known = {f.name for f in fields(LetterConfig)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ValueError(f"{path}: unknown key letter.{unknown[0]}; known: {', '.join(sorted(known))}")
    values: dict[str, object] = {}
    for key, value in table.items():
        where = f"{path}: letter.{key}"
        if key == "date":
            if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
                raise ValueError(f"{where}: expected a date such as 2026-12-05")
            values[key] = value
        elif key == "recipients":
            if not isinstance(value, list) or len(value) > _MAX_RECIPIENTS:
                raise ValueError(f"{where}: expected a list of at most {_MAX_RECIPIENTS} texts")
            values[key] = tuple(_text(v, f"{where}[{i}]") for i, v in enumerate(value))
        elif key == "addressees":
            if not isinstance(value, dict):
                raise ValueError(f"{where}: expected a table carrier = \"unit name\"")
            values[key] = {str(k): _text(v, f"{where}.{k}") for k, v in value.items()}
        else:
            values[key] = _text(value, where)
    return LetterConfig(**values)  # type: ignore[arg-type]


_DOTS = "\N{HORIZONTAL ELLIPSIS}" * 8


def _centred(styles: Styles, bold: bool = False) -> ParagraphStyle:
    return ParagraphStyle("c", parent=styles.body, alignment=1, leading=14,
                          fontName=FONT_BOLD if bold else styles.body.fontName)


def _lines(text: str, style: ParagraphStyle) -> list[Flowable]:
    return [para(line, style) for line in text.split("\n")]


def letter_flowables(config: LetterConfig, *, ward: str, carrier_name: str, carrier: str,
                     start: dt.date, end: dt.date, asks: list[str], styles: Styles,
                     _: Gettext, lang: str) -> list[Flowable]:
    """The letter's page(s); `asks` are the one-line asks, numbered here."""
    bold, plain = _centred(styles, True), _centred(styles)
    issuer = config.issuing_body or _("PEOPLE'S COMMITTEE OF {ward}").format(ward=ward.upper())
    # in the body the issuer is named in sentence case, not in the heading's capitals
    in_text = config.issuer_in_text or _("The People's Committee of {ward}").format(ward=ward)
    left = ([para(config.parent_body, plain)] if config.parent_body else []) + _lines(issuer, bold)
    left.append(para(config.number or _("No.: {dots}").format(dots=_DOTS), plain))
    left.append(para(_("Re: the quality of {carrier}'s mobile service in {ward}").format(
        carrier=carrier_name, ward=ward), plain))
    right = [para(_("SOCIALIST REPUBLIC OF VIET NAM"), bold),
             para(_("Independence - Freedom - Happiness"), bold)]
    date = config.date or dt.datetime.now(dt.UTC).date()
    right.append(para(_("{place}, day {day} month {month} year {year}").format(
        place=config.place or _DOTS, day=f"{date.day:02d}", month=f"{date.month:02d}",
        year=date.year), plain))
    head = Table([[left, right]], colWidths=[80 * mm, 106 * mm])
    head.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONTNAME", (0, 0), (-1, -1), FONT)]))
    addressee = config.addressees.get(carrier) or carrier_name
    body = ParagraphStyle("letter", parent=styles.body, fontSize=10.5, leading=15,
                          firstLineIndent=8 * mm, alignment=4)
    flow: list[Flowable] = [head, Spacer(1, 8 * mm),
                            para(_("To: {addressee}").format(addressee=addressee), bold),
                            Spacer(1, 5 * mm),
                            para(_("From {start} to {end}, {issuer} measured the quality of mobile "
                                   "service in {ward}. The measurements, the method and the data "
                                   "checksums are in the annex to this letter.").format(
                                start=format_date(start, lang), end=format_date(end, lang),
                                issuer=in_text, ward=ward), body)]
    if asks:
        flow.append(para(_("{issuer} asks {addressee} to:").format(
            issuer=in_text, addressee=addressee), body))
        flow += [para(f"{number}. {text}", body) for number, text in enumerate(asks, start=1)]
        flow.append(para(_("Please reply in writing with the measures taken and their dates."),
                         body))
    else:
        flow.append(para(_("The measurements found no area that needs action from {carrier} in "
                           "this period.").format(carrier=carrier_name), body))
    recipients = config.recipients or (_("As above"), _("Archive"))
    left_sign = [para(_("Recipients:"), ParagraphStyle("r", parent=styles.small_bold,
                                                        fontSize=9, leading=12))]
    left_sign += [para(f"- {r};", styles.small) for r in recipients]
    sign = _lines(config.signer_title or _("CHAIR"), bold)
    sign += [Spacer(1, 22 * mm), para(config.signer_name or _DOTS, bold)]
    foot = Table([[left_sign, sign]], colWidths=[80 * mm, 106 * mm])
    foot.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONTNAME", (0, 0), (-1, -1), FONT)]))
    return [*flow, Spacer(1, 8 * mm), foot, PageBreak()]
