"""The carriers' PDF report (and the ward leadership's summary), Vietnamese first.

Per carrier: cover, executive summary, method with the legal sources of the targets, static map,
weak areas and service points with their evidence, proposals, and an annex with the SHA-256
checksums of the data exports the report rests on. A period with no data gives a short report
that says so.

Example
-------
>>> pdf = build_report(survey, carrier="viettel", ward_name="Phường Hoàn Kiếm",
...                    period_start=date(2026, 11, 1), period_end=date(2026, 11, 30),
...                    exports=[Path("cells.csv")])                      # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from pathlib import Path

import geopandas as gpd
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, PageBreak, SimpleDocTemplate, Spacer

from lomsong.analysis.places import place_facts
from lomsong.maps.asks import ask_flowables, ask_line, ask_order
from lomsong.maps.i18n import (
    Gettext,
    format_date,
    format_mbps,
    format_number,
    translator,
)
from lomsong.maps.labels import VOCABULARY, label
from lomsong.maps.letter import LetterConfig, letter_flowables
from lomsong.maps.pdf_layout import FONT, PAGE_SIZE, Styles, numbered_canvas, para, table
from lomsong.maps.popups import (
    cause_text,
    congestion_text,
    count_text,
    dates_text,
    deciding_text,
    fmt_value,
    local_time,
    missing,
    share_interval,
)
from lomsong.maps.report_input import ReportInput
from lomsong.maps.report_maps import MAX_INSETS, carrier_maps, inset_map
from lomsong.maps.report_text import (
    method_paragraphs,
    share_text,
    source_text,
    summary_paragraphs,
)
from lomsong.maps.tiles import TileSource

__all__ = ["build_report", "check_period", "sha256_file"]


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_size(size_bytes: int, lang: str) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size_bytes >= scale:
            return f"{format_number(size_bytes / scale, lang)} {unit}"
    return f"{size_bytes} B"


def _spaced(values: object) -> str:
    """'0,7,28' -> '0, 7, 28': a list wraps between its items, never inside one."""
    return "\N{EN DASH}" if missing(values) else ", ".join(
        v.strip() for v in str(values).split(",") if v.strip()) or "\N{EN DASH}"


def _for_carrier(frame: gpd.GeoDataFrame, carrier: str | None) -> gpd.GeoDataFrame:
    return frame if carrier is None else frame[frame["carrier"] == carrier]


def _cover(styles: Styles, _: Gettext, lang: str, ward: str, carrier: str | None,
           start: dt.date, end: dt.date,
           data_dates: tuple[dt.date, dt.date] | None) -> list[Flowable]:
    who = (_("Carrier: {carrier}").format(carrier=label("carrier", carrier, _)) if carrier
           else _("Summary for the ward's leadership (all carriers)"))
    return [
        Spacer(1, 55 * mm),
        para(_("Mobile and fixed broadband quality report"), styles.title),
        para(_("Ward: {ward}").format(ward=ward), styles.cover),
        para(_("Period: {start} – {end}").format(start=format_date(start, lang),
                                                 end=format_date(end, lang)), styles.cover),
        para(_("Tests dated: {first} – {last}").format(
            first=format_date(data_dates[0], lang), last=format_date(data_dates[1], lang))
             if data_dates else _("Tests dated: no dated test in this data"), styles.cover),
        para(who, styles.cover),
        Spacer(1, 30 * mm),
        para(_("Prepared on {date} with lomsong").format(
            date=format_date(dt.datetime.now(dt.UTC), lang)), styles.cover),
        PageBreak(),
    ]


def _weak_area_table(areas: gpd.GeoDataFrame, order: list[str], styles: Styles, _: Gettext,
                     lang: str) -> list[Flowable]:
    if not len(areas):
        return [para(_("No weak areas were found."), styles.body)]
    header = [_("Ask"), _("Carrier"), _("Status"), _("Likely cause"), _("Deciding window"),
              _("Cells / km²"), _("Tests"), _("Dates"), _("Median / 10th percentile"),
              _("Peak / off-peak median"), _("RSRP / SINR"), _("PCIs / bands")]
    rows = []
    by_id = areas.set_index(areas["area_id"].astype(str))
    for number, area_id in enumerate(order, start=1):
        a = by_id.loc[area_id]
        peak_off = (congestion_text(a, _, lang) if a["cause"] == "congestion"
                    and not missing(a.get("congestion_p"))
                    else f"{format_mbps(a['peak_median_mbps'], lang)} / "
                         f"{format_mbps(a['offpeak_median_mbps'], lang)}")
        rows.append([
            str(number),
            f"{label('carrier', a['carrier'], _)} · {label('access', a['access'], _)}",
            label("status", a["status"], _), cause_text(a, _), deciding_text(a, _, lang),
            f"{fmt_value(a['cells'], lang)} / {fmt_value(a['area_km2'], lang, decimals=3)}",
            count_text(a, _, lang), dates_text(a, lang),
            f"{format_mbps(a['down_median_mbps'], lang)} / {format_mbps(a['down_p10_mbps'], lang)}",
            peak_off,
            f"{fmt_value(a['rsrp_median_dbm'], lang, 'dBm')} / "
            f"{fmt_value(a['sinr_median_db'], lang, 'dB')}",
            f"{_spaced(a['pcis'])} / {_spaced(a['bands'])}",
        ])
    widths = (11, 16, 17, 20, 19, 11, 12, 16, 16, 20, 14, 12)  # 184 of 186 mm
    return [table(header, rows, styles, widths)]


def _service_point_table(sites: gpd.GeoDataFrame, styles: Styles, _: Gettext,
                         lang: str) -> list[Flowable]:
    if not len(sites):
        return [para(_("No service point was measured."), styles.body)]
    header = [_("Service point"), _("Carrier"), _("Verdict"), _("Tests"),
              _("Median / 10th percentile"),
              _("Share below target (95% interval)"), _("Trend (Mbps/week)"),
              _("Last measured")]
    rows = []
    for _i, s in sites.sort_values(["name", "carrier", "access"]).iterrows():
        rows.append([
            f"{s['name']} ({s['address']})",
            f"{label('carrier', s['carrier'], _)} · {label('access', s['access'], _)}",
            label("status", s["verdict"], _), count_text(s, _, lang),
            f"{format_mbps(s['down_median_mbps'], lang)} / {format_mbps(s['down_p10_mbps'], lang)}",
            share_interval(s["share_below"], s["share_below_lo"], s["share_below_hi"], lang),
            fmt_value(s["trend_mbps_per_week"], lang, decimals=1),
            local_time(s["last_measured_at"], lang),
        ])
    return [table(header, rows, styles, (40, 24, 19, 16, 25, 25, 14, 21))]


def _proposal_table(proposals: gpd.GeoDataFrame, numbers: dict[str, int], styles: Styles,
                    _: Gettext, lang: str) -> list[Flowable]:
    if not len(proposals):
        return [para(_("No proposals: no weak area needs action."), styles.body)]
    header = [_("Rank"), _("Carrier"), _("Target"), _("Action"), _("Priority"),
              _("Impact score"), _("Service points affected"), _("Evidence: ask")]
    rows = []
    for _i, p in proposals.sort_values(["carrier", "rank"]).iterrows():
        rows.append([
            fmt_value(p["rank"], lang), label("carrier", p["carrier"], _),
            f"{p['target_name']} ({p['target_id']})", label("action", p["action"], _),
            label("priority", p["priority"], _), fmt_value(p["impact_score"], lang, decimals=1),
            fmt_value(p["service_points_affected"], lang),
            str(numbers.get(str(p["target_id"]), "\N{EN DASH}")),
        ])
    return [table(header, rows, styles, (10, 24, 48, 34, 17, 16, 22, 15))]


def _annex(exports: list[Path], styles: Styles, _: Gettext, lang: str) -> list[Flowable]:
    flow: list[Flowable] = [para(_("Annex: data exports"), styles.h1),
                            para(_("The SHA-256 checksums let a carrier check that the files it "
                                   "received are the ones this report is based on."),
                                 styles.body)]
    if not exports:
        return [*flow, para(_("No data export file was attached."), styles.body)]
    rows = [[path.name, _file_size(path.stat().st_size, lang), sha256_file(path)]
            for path in exports]
    # kept together: the checksum table never sits on a page without its heading
    return [KeepTogether([*flow, table([_("File"), _("Size"), _("SHA-256")], rows, styles,
                                       (50, 20, 116))])]


def check_period(survey: ReportInput, start: dt.date, end: dt.date) -> None:
    """Refuse a period the data cannot be from: ``ValueError`` when the tests' dates (see
    `ReportInput.data_dates`) lie wholly outside [start, end]."""
    if end < start:
        raise ValueError(f"period ends ({end}) before it starts ({start})")
    dates = survey.data_dates()
    if dates is not None and (dates[1] < start or dates[0] > end):
        raise ValueError(f"no test in the period {start} – {end}: the data's tests are dated "
                         f"{dates[0]} – {dates[1]}")


def build_report(
    survey: ReportInput,
    *,
    carrier: str | None,
    lang: str = "vi",
    ward_name: str,
    period_start: dt.date,
    period_end: dt.date,
    exports: list[Path],
    streets: gpd.GeoDataFrame | None = None,
    groups: gpd.GeoDataFrame | None = None,
    letter: LetterConfig | None = None,
    tiles: TileSource | None = None,
) -> bytes:
    """The PDF report for `carrier` (a carrier code such as "viettel"; None for the summary).

    A carrier's report opens with the ward's letter (`maps.letter`, `letter` or its defaults)
    whose numbered asks each have a place (`analysis.places`, with the ward's `streets` and
    residential `groups` when given); the evidence annex follows. `tiles` draws raster tiles
    under the maps (`maps.tiles`). Raises ``ValueError`` for an
    unknown carrier or language, an empty ward name, or a period that ends before it starts or
    holds none of the data's tests (`check_period`); a survey with no data at all gives a PDF
    that says so.
    """
    _ = translator(lang)
    if carrier is not None and carrier not in VOCABULARY["carrier"]:
        raise ValueError(f"unknown carrier {carrier!r}; choose one of "
                         f"{', '.join(c for c in VOCABULARY['carrier'] if c != 'all')}")
    if not ward_name.strip() or ward_name.strip() in ("-", "\N{EN DASH}"):
        raise ValueError("ward name is empty; give the ward's name")
    check_period(survey, period_start, period_end)
    styles = Styles()
    cells = _for_carrier(survey.cells, carrier)
    areas = _for_carrier(survey.weak_areas, carrier)
    sites = _for_carrier(survey.scorecards, carrier)
    proposals = _for_carrier(survey.proposals, carrier)
    order = ask_order(areas)
    places = place_facts(areas, survey.scorecards, streets=streets, groups=groups)
    has_data = bool(len(cells) and cells["samples"].fillna(0).sum() > 0) or bool(len(sites))
    story: list[Flowable] = []
    if carrier is not None:
        by_id = areas.set_index(areas["area_id"].astype(str))
        lines = [ask_line(n, by_id.loc[a], places.loc[a], proposals, _, lang)
                 for n, a in enumerate(order, start=1)]
        story += letter_flowables(letter or LetterConfig(), ward=ward_name,
                                  carrier_name=label("carrier", carrier, _), carrier=carrier,
                                  start=period_start, end=period_end, asks=lines,
                                  styles=styles, _=_, lang=lang)
    story += _cover(styles, _, lang, ward_name, carrier, period_start, period_end,
                    survey.data_dates())
    story += [para(_("Summary"), styles.h1), para(source_text(survey.sources, _, lang), styles.body)]
    if not has_data:
        story.append(para(_("No measurement data in this period"), styles.h2))
        story += [para(text, styles.body) for text in [
            _("No probe or walk recorded a measurement for this ward and carrier between these "
              "dates, so this report makes no finding. Check that the probes were online and "
              "uploading, or choose another period.")]]
    else:
        story += [para(text, styles.body)
                  for text in summary_paragraphs(cells, areas, sites, _, lang)]
    if has_data and order:
        by_id = areas.set_index(areas["area_id"].astype(str))
        insets = {a: inset_map(areas[areas["area_id"].astype(str) == a], n,
                               _for_carrier(cells, str(by_id.loc[a, "carrier"])),
                               _for_carrier(sites, str(by_id.loc[a, "carrier"])), lang,
                               streets=streets, groups=groups, tiles=tiles)
                  for n, a in enumerate(order[:MAX_INSETS], start=1)}
        story += [para(_("Asks"), styles.h1),
                  *ask_flowables(areas, order, places, proposals, styles, _, lang, insets)]
    story.append(para(_("Method"), styles.h1))
    story += [para(text, styles.body) for text in method_paragraphs(survey, _, lang)]
    if has_data:
        numbers = {area_id: n for n, area_id in enumerate(order, start=1)}
        story += [*carrier_maps(cells, areas, sites, survey.boundary, numbers, styles, _, lang,
                                streets=streets, groups=groups, tiles=tiles),
                  PageBreak(), para(_("Weak areas"), styles.h1),
                  *_weak_area_table(areas, order, styles, _, lang),
                  para(_("Service points"), styles.h1),
                  *_service_point_table(sites, styles, _, lang),
                  para(_("Proposals"), styles.h1),
                  *_proposal_table(proposals, numbers, styles, _, lang)]
    story += _annex(exports, styles, _, lang)
    buffer = io.BytesIO()
    who = label("carrier", carrier, _) if carrier else _("All carriers")
    document = SimpleDocTemplate(
        buffer, pagesize=PAGE_SIZE, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=15 * mm,
        bottomMargin=18 * mm, title=_("Mobile and fixed broadband quality report"),
        author="lomsong", subject=f"{ward_name} · {who}", initialFontName=FONT)
    synthetic = survey.sources.get("synthetic", 0)
    watermark = _("SYNTHETIC DATA, NOT REAL MEASUREMENTS ({share} of the tests)").format(
        share=share_text(synthetic, sum(survey.sources.values()), lang)) if synthetic else None
    document.build(story, canvasmaker=numbered_canvas(
        lambda page, total: _("Page {page}/{total}").format(page=page, total=total),
        f"lomsong · {ward_name} · {who}", watermark))
    return buffer.getvalue()
