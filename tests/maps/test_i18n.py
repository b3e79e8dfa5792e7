"""Catalogs: every message used in maps/ is translated to Vietnamese; Vietnamese formatting."""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from lomsong.maps.i18n import (
    catalog_path,
    format_date,
    format_datetime,
    format_mbps,
    format_number,
    format_percent,
    translator,
)
from lomsong.maps.labels import VOCABULARY, label

MAPS_DIR = Path(__file__).resolve().parents[2] / "maps"


def used_msgids() -> set[str]:
    """Message ids marked with _() or N_() anywhere in maps/."""
    found = extract_from_dir(str(MAPS_DIR), method_map=[("**.py", "python")],
                             keywords={"_": None, "N_": None})
    return {message for _file, _line, message, _comments, _context in found}


def catalog(lang: str) -> dict[str, str]:
    with catalog_path(lang).open("rb") as stream:
        return {m.id: m.string for m in read_po(stream) if m.id}


def test_every_used_message_has_a_vietnamese_translation() -> None:
    # The catalog is shared with the dashboard (collector/dashboard checks its own messages).
    used = used_msgids()
    vi = catalog("vi")
    assert len(used) > 100
    missing = sorted(m for m in used if not vi.get(m))
    assert missing == []


def test_english_catalog_covers_the_same_messages() -> None:
    assert set(catalog("en")) == set(catalog("vi"))


def test_catalog_text_is_nfc() -> None:
    for text in catalog("vi").values():
        assert unicodedata.normalize("NFC", text) == text


def test_translator_vietnamese_default_and_english() -> None:
    assert translator()("Summary") == "Tóm tắt"
    assert translator("vi")("Method") == "Phương pháp"
    assert translator("vi")("Proposals") == "Đề xuất"
    assert translator("en")("Proposals") == "Proposals"


def test_translator_output_is_nfc_even_for_decomposed_input() -> None:
    decomposed = unicodedata.normalize("NFD", "Trường học")
    assert translator("vi")(decomposed) == "Trường học"


@pytest.mark.parametrize("lang", ["fr", "", "VI"])
def test_unknown_language(lang: str) -> None:
    with pytest.raises(ValueError, match=f"unknown language '{lang}'; choose vi or en"):
        translator(lang)


def test_status_and_carrier_labels() -> None:
    vi, en = translator("vi"), translator("en")
    assert label("status", "dead_spot", vi) == "Lõm sóng"
    assert label("status", "confirmed_weak", vi) == "Yếu (đã xác nhận)"
    assert label("status", "likely_weak", vi) == "Có thể yếu"
    assert label("status", "ok", vi) == "Đạt"
    assert label("status", "insufficient_data", vi) == "Chưa đủ dữ liệu"
    assert label("status", "dead_spot", en) == "Dead spot"
    assert label("carrier", "vnpt", vi) == "VNPT (VinaPhone)"
    assert label("access", "5g_nsa", vi) == "5G NSA"
    assert label("carrier", "martian", vi) == "martian"
    for kind, codes in VOCABULARY.items():
        for code in codes:
            assert label(kind, code, vi)


def test_number_formatting_vietnamese_and_english() -> None:
    assert format_mbps(38.5, "vi") == "38,5 Mbps"
    assert format_mbps(38.5, "en") == "38.5 Mbps"
    assert format_mbps(float("nan"), "vi") == "–"
    assert format_number(1234.5, "vi") == "1.234,5"
    assert format_number(-0.04, "vi") == "0,0" and format_number(-0.4, "en", decimals=0) == "0"
    assert format_percent(0.625, "vi") == "62%"
    assert format_percent(0.625, "vi", decimals=1) == "62,5%"


def test_date_formatting_in_local_time() -> None:
    assert format_date(dt.date(2026, 11, 23), "vi") == "23/11/2026"
    late_utc = dt.datetime(2026, 11, 22, 18, 30, tzinfo=dt.UTC)  # 01:30 next day in Hanoi
    assert format_date(late_utc, "vi") == "23/11/2026"
    assert format_datetime(late_utc, "vi") == "23/11/2026 01:30"
    with pytest.raises(ValueError, match="naive datetime"):
        format_datetime(dt.datetime(2026, 11, 23, 1, 30), "vi")
