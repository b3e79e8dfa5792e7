"""Translation catalogs and Vietnamese-style formatting of numbers and dates.

The catalogs are gettext ``.po`` files under ``maps/locale/<lang>/LC_MESSAGES/lomsong.po``; the
``.po`` file is the source and is compiled in memory with Babel when first used, so there is no
compiled ``.mo`` file to keep in step. Message ids are English; Vietnamese is the default language.
Every string that leaves this module is NFC-normalised (Vietnamese has several ways to compose the
same letter; PDF text extraction and search need one).

Example
-------
>>> _ = translator("vi")
>>> _("Summary")
'Tóm tắt'
>>> format_mbps(38.5, "vi")
'38,5 Mbps'
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date as _babel_format_date
from babel.dates import format_datetime as _babel_format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from lomsong.maps.codes import LANGUAGES as CODE_LANGUAGES

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LOCAL_TZ",
    "N_",
    "Gettext",
    "catalog_path",
    "check_language",
    "format_date",
    "format_datetime",
    "format_mbps",
    "format_number",
    "format_percent",
    "nfc",
    "translator",
]

LANGUAGES: tuple[str, ...] = CODE_LANGUAGES
DEFAULT_LANGUAGE = "vi"
LOCAL_TZ = "Asia/Ho_Chi_Minh"
DOMAIN = "lomsong"
_LOCALE_DIR = Path(__file__).with_name("locale")

Gettext = Callable[[str], str]


def N_(message: str) -> str:
    """Mark a message id for extraction without translating it (translated where it is shown)."""
    return message


def nfc(text: str) -> str:
    """Return `text` in Unicode normalisation form C."""
    return unicodedata.normalize("NFC", text)


def check_language(lang: str) -> str:
    """Return `lang` if it is a supported language, else raise ``ValueError``."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose vi or en")
    return lang


def catalog_path(lang: str) -> Path:
    """Path of the ``.po`` source catalog of `lang`."""
    return _LOCALE_DIR / check_language(lang) / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=len(LANGUAGES))
def _translations(lang: str) -> gettext.GNUTranslations:
    path = catalog_path(lang)
    with path.open("rb") as po_file:
        catalog = read_po(po_file, locale=lang, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def translator(lang: str = DEFAULT_LANGUAGE) -> Gettext:
    """Return the gettext function of `lang` ("vi" or "en"); its results are NFC-normalised.

    Raises ``ValueError("unknown language 'xx'; choose vi or en")`` for any other language.

    Example
    -------
    >>> translator("en")("Summary")
    'Summary'
    """
    translations = _translations(check_language(lang))

    def _(message: str) -> str:
        return nfc(translations.gettext(message))

    return _


def format_number(value: float, lang: str, *, decimals: int = 1) -> str:
    """Format a number with the locale's separators: ``format_number(1234.5, "vi")`` is '1.234,5'."""
    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return nfc(format_decimal(value, pattern, locale=check_language(lang)))


def format_mbps(value_mbps: float | None, lang: str) -> str:
    """Format a speed: ``format_mbps(38.5, "vi")`` is '38,5 Mbps'; a missing value is '–'."""
    if value_mbps is None or value_mbps != value_mbps:
        return "–"
    return f"{format_number(value_mbps, lang, decimals=1)} Mbps"


def format_percent(share: float | None, lang: str, *, decimals: int = 0) -> str:
    """Format a share in [0, 1] as a percentage: ``format_percent(0.625, "vi")`` is '62%'."""
    if share is None or share != share:
        return "–"
    return f"{format_number(100.0 * share, lang, decimals=decimals)}%"


def format_date(value: dt.date, lang: str) -> str:
    """Format a date as day/month/year, the Vietnamese way: '23/11/2026'.

    A datetime is first converted to local time (Asia/Ho_Chi_Minh).
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}; pass a timezone-aware datetime")
        return nfc(_babel_format_datetime(value, "dd/MM/yyyy", tzinfo=ZoneInfo(LOCAL_TZ),
                                          locale=check_language(lang)))
    return nfc(_babel_format_date(value, "dd/MM/yyyy", locale=check_language(lang)))


def format_datetime(value: dt.datetime, lang: str) -> str:
    """Format an aware datetime in local time (Asia/Ho_Chi_Minh): '23/11/2026 14:05'.

    A time so near the end of the calendar that local time does not exist (a row stored at
    9999-12-31 23:00 UTC) is shown in UTC, marked so.
    """
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}; pass a timezone-aware datetime")
    try:
        return nfc(_babel_format_datetime(value, "dd/MM/yyyy HH:mm", tzinfo=ZoneInfo(LOCAL_TZ),
                                          locale=check_language(lang)))
    except OverflowError:
        return value.astimezone(dt.UTC).strftime("%d/%m/%Y %H:%M UTC")
