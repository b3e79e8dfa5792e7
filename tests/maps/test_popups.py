"""Popups and legend: failed tests beside medians, the cause's certainty, "likely ok"."""

from __future__ import annotations

from mapkit import hexes, make_scorecards, make_weak_areas

from lomsong.maps.i18n import translator
from lomsong.maps.labels import STATUS_ORDER, label
from lomsong.maps.popups import service_point_popup, weak_area_popup
from lomsong.maps.style import STATUS_COLOURS


def test_weak_area_popup_states_failed_tests_certainty_and_deciding_window() -> None:
    area = make_weak_areas(hexes(60)).iloc[1].copy()
    area["cause"] = "congestion"
    area["congestion_p"] = 0.0004
    area["congestion_peak_median_mbps"] = 11.0
    area["congestion_offpeak_median_mbps"] = 44.0
    area["congestion_peak_n"] = 21
    area["congestion_offpeak_n"] = 30
    html = weak_area_popup(area, translator("en"), "en")
    assert "51 (0 failed)" in html
    assert "certainty: High" in html
    assert "Peak hours: 90% (74–97%)" in html
    assert "02/11/2026 – 20/11/2026" in html
    assert "11.0 Mbps / 44.0 Mbps (21 / 30 tests; Mann-Whitney p = &lt; 0.001)" in html
    vi = weak_area_popup(area, translator("vi"), "vi")
    assert "51 (0 thất bại)" in vi and "mức chắc chắn: Cao" in vi


def test_service_point_popup_counts_failed_tests() -> None:
    cards = make_scorecards()
    html = service_point_popup(cards[cards["site_id"] == "BP-01"], translator("en"), "en")
    assert "96 (40 failed)" in html


def test_likely_ok_is_drawn_and_named_apart_from_ok() -> None:
    assert STATUS_ORDER.index("likely_ok") == STATUS_ORDER.index("ok") - 1
    assert STATUS_COLOURS["likely_ok"] not in (STATUS_COLOURS["ok"], STATUS_COLOURS["likely_weak"])
    assert label("status", "likely_ok", translator("vi")) == "Có thể đạt chỉ tiêu"
    assert label("status", "likely_ok", translator("en")) == "Likely meets target"
