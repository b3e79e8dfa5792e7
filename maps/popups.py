"""HTML popups for weak areas and service points (every carrier of a site in one table).

Values are formatted the Vietnamese way and every piece of data is HTML-escaped.

Example
-------
>>> import pandas as pd
>>> from lomsong.maps.i18n import translator
>>> row = pd.Series({"area_id": "A1", "carrier": "viettel", "access": "4g",
...     "status": "confirmed_weak", "cause": "coverage", "cells": 3, "area_km2": 0.04,
...     "samples": 40, "down_median_mbps": 12.5, "down_p10_mbps": 3.0, "share_below": 0.9,
...     "worst_hour": 20, "pcis": "101", "bands": "B3", "rsrp_median_dbm": -112.0,
...     "sinr_median_db": 4.0, "peak_median_mbps": 9.0, "offpeak_median_mbps": 15.0,
...     "failed": 4, "cause_certainty": "high", "deciding_window": "all",
...     "deciding_share_below": 0.9, "deciding_share_lo": 0.77, "deciding_share_hi": 0.96})
>>> "Vùng phủ" in weak_area_popup(row, translator("vi"), "vi")
True
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

import pandas as pd

from lomsong.maps.i18n import (
    Gettext,
    format_date,
    format_datetime,
    format_mbps,
    format_number,
    format_percent,
)
from lomsong.maps.labels import label

__all__ = [
    "cause_text", "congestion_text", "count_text", "dates_text", "deciding_text", "evidence_text",
    "fmt_value",
    "local_time", "missing", "service_point_popup", "share_interval", "weak_area_popup",
]


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def fmt_value(value: Any, lang: str, unit: str = "", decimals: int = 0) -> str:
    """A number with unit, or "–" when missing."""
    if missing(value):
        return "–"
    text = format_number(float(value), lang, decimals=decimals)
    return f"{text} {unit}".strip()


def share_interval(share: Any, low: Any, high: Any, lang: str) -> str:
    """'62% (48–75%)': share below the target with its 95% interval."""
    if missing(share):
        return "–"
    text = format_percent(float(share), lang)
    if not missing(low) and not missing(high):
        text += f" ({format_number(100 * float(low), lang, decimals=0)}–"
        text += f"{format_percent(float(high), lang)})"
    return text


def local_time(value: Any, lang: str) -> str:
    """Format a stored time (UTC; naive values from a GeoPackage are taken as UTC)."""
    if missing(value):
        return "–"
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return format_datetime(stamp.to_pydatetime(), lang)


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{escape(head)}</th><td>{escape(value)}</td></tr>"
                    for head, value in rows)
    return f"<table class='lomsong-popup'>{cells}</table>"


def _link(href: str | None, text: str) -> str:
    """A link to the dashboard's drill-down, opened in the top window (not the map's frame)."""
    if href is None:
        return ""
    return (f"<p class='lomsong-drill'><a href=\"{escape(href)}\" target=\"_top\">"
            f"{escape(text)}</a></p>")


def weak_area_popup(area: pd.Series, _: Gettext, lang: str, link: str | None = None) -> str:
    """Popup of one weak area: carrier, status, likely cause and the evidence behind it; `link`
    (the dashboard's) leads to its measurements."""
    head = (f"{label('carrier', area['carrier'], _)} · {label('access', area['access'], _)} · "
            f"{_('Weak area')} {area['area_id']}")
    worst = area["worst_hour"]
    rows = [
        (_("Status"), label("status", area["status"], _)),
        (_("Likely cause"), cause_text(area, _)),
        (_("Deciding window"), deciding_text(area, _, lang)),
        (_("Cells"), fmt_value(area["cells"], lang)),
        (_("Area"), fmt_value(area["area_km2"], lang, "km²", 3)),
        (_("Tests"), count_text(area, _, lang)),
        (_("Dates"), dates_text(area, lang)),
        (_("Median download"), format_mbps(area["down_median_mbps"], lang)),
        (_("10th percentile"), format_mbps(area["down_p10_mbps"], lang)),
        (_("Share below target"), format_percent(area["share_below"], lang)),
        (_("Peak / off-peak median"), f"{format_mbps(area['peak_median_mbps'], lang)} / "
                                      f"{format_mbps(area['offpeak_median_mbps'], lang)}"),
        (_("Worst hour"), "–" if missing(worst) else f"{int(worst):02d}:00"),
        (_("RSRP median"), fmt_value(area["rsrp_median_dbm"], lang, "dBm")),
        (_("SINR median"), fmt_value(area["sinr_median_db"], lang, "dB")),
        (_("PCIs seen"), "–" if missing(area["pcis"]) else str(area["pcis"])),
        (_("Bands seen"), "–" if missing(area["bands"]) else str(area["bands"])),
    ]
    if area["cause"] == "congestion" and not missing(area.get("congestion_p")):
        rows.insert(3, (_("Peak / off-peak at the same places"), congestion_text(area, _, lang)))
    return f"<b>{escape(head)}</b>{_table(rows)}{_link(link, _('Measurements in this area'))}"


def evidence_text(row: pd.Series, _: Gettext, lang: str) -> str:
    """The evidence behind a weak area or a service point's verdict, in one language:
    tests (failed), dates, median download, share below the target, deciding window."""
    share = share_interval(row.get("share_below"), row.get("share_below_lo"),
                           row.get("share_below_hi"), lang)
    parts = [f"{_('Tests')}: {count_text(row, _, lang)}",
             f"{_('Median download')}: {format_mbps(row.get('down_median_mbps'), lang)}",
             f"{_('Share below target')}: {share}"]
    if not missing(row.get("first_date")):
        parts.insert(1, f"{_('Dates')}: {dates_text(row, lang)}")
    if not missing(row.get("deciding_window")) and row.get("deciding_window"):
        parts.append(f"{_('Deciding window')}: {deciding_text(row, _, lang)}")
    return "; ".join(parts)


def count_text(row: pd.Series, _: Gettext, lang: str) -> str:
    """'40 (12 failed)': tests with the failed ones beside them (a failure is no speed)."""
    failed = row.get("failed")
    return _("{tests} ({failed} failed)").format(
        tests=fmt_value(row["samples"], lang), failed=fmt_value(0 if missing(failed) else failed,
                                                                lang))


def cause_text(area: pd.Series, _: Gettext) -> str:
    """'Coverage (weak signal), certainty: High'."""
    certainty = area.get("cause_certainty")
    text = label("cause", area["cause"], _)
    if not missing(certainty) and certainty:
        text += ", " + _("certainty: {level}").format(level=label("certainty", certainty, _))
    return text


def deciding_text(area: pd.Series, _: Gettext, lang: str) -> str:
    """'Peak hours: 90% (74–97%)': the window that decided the status, share below, interval."""
    window = area.get("deciding_window")
    if missing(window) or not window:
        return "–"
    share = share_interval(area.get("deciding_share_below"), area.get("deciding_share_lo"),
                           area.get("deciding_share_hi"), lang)
    return f"{label('window', str(window), _)}: {share}"


def dates_text(area: pd.Series, lang: str) -> str:
    first, last = area.get("first_date"), area.get("last_date")
    if missing(first) or missing(last) or first is None or last is None:
        return "–"
    return f"{format_date(pd.Timestamp(first).date(), lang)} – " \
           f"{format_date(pd.Timestamp(last).date(), lang)}"


def congestion_text(area: pd.Series, _: Gettext, lang: str) -> str:
    """Matched peak / off-peak medians with test counts and the Mann-Whitney p."""
    return _("{peak} / {offpeak} ({n_peak} / {n_offpeak} tests; Mann-Whitney p = {p})").format(
        peak=format_mbps(area["congestion_peak_median_mbps"], lang),
        offpeak=format_mbps(area["congestion_offpeak_median_mbps"], lang),
        n_peak=fmt_value(area["congestion_peak_n"], lang),
        n_offpeak=fmt_value(area["congestion_offpeak_n"], lang),
        p=_p_value(float(area["congestion_p"]), lang))


def _p_value(p: float, lang: str) -> str:
    return "< " + format_number(0.001, lang, decimals=3) if p < 0.001 else format_number(
        p, lang, decimals=3)


def service_point_popup(site: pd.DataFrame, _: Gettext, lang: str, link: str | None = None) -> str:
    """Popup of one service point: one line per carrier x access with its verdict and figures;
    `link` (the dashboard's) leads to its measurements."""
    first = site.iloc[0]
    heads = [_("Carrier"), _("Access"), _("Verdict"), _("Tests"), _("Median download"),
             _("10th percentile"), _("Share below target"), _("Trend (Mbps/week)"),
             _("Last measured")]
    lines = []
    for _index, row in site.sort_values(["carrier", "access"]).iterrows():
        values = [
            label("carrier", row["carrier"], _), label("access", row["access"], _),
            label("status", row["verdict"], _), count_text(row, _, lang),
            format_mbps(row["down_median_mbps"], lang),
            format_mbps(row["down_p10_mbps"], lang),
            share_interval(row["share_below"], row["share_below_lo"], row["share_below_hi"],
                           lang),
            fmt_value(row["trend_mbps_per_week"], lang, decimals=1),
            local_time(row["last_measured_at"], lang),
        ]
        lines.append("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in values) + "</tr>")
    header = "".join(f"<th>{escape(h)}</th>" for h in heads)
    title = f"<b>{escape(str(first['name']))}</b><br>{escape(str(first['address']))} · "
    title += escape(label("site_type", str(first["site_type"]), _))
    return (f"{title}<table class='lomsong-popup'><tr>{header}</tr>{''.join(lines)}</table>"
            f"{_link(link, _('Measurements at this point'))}")
