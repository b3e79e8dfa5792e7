"""The report's prose: the executive summary (plain words, counts, places) and the method.

Each function returns a list of translated, formatted paragraphs.

Example
-------
>>> from lomsong.maps.i18n import translator
>>> paragraphs = method_paragraphs(ReportInput.empty(), translator("vi"), "vi")
>>> "QCVN 34:2022/BTTTT" in paragraphs[2], "58/KH-UBND" in paragraphs[2]
(True, True)
"""

from __future__ import annotations

import math

import geopandas as gpd
import pandas as pd

from lomsong.analysis.thresholds import Thresholds
from lomsong.maps.i18n import Gettext, format_mbps, format_number, format_percent
from lomsong.maps.labels import label
from lomsong.maps.report_input import ReportInput
from lomsong.maps.static import worst_status_per_cell

__all__ = ["FAILING", "SOURCE_ROWS_MAX", "method_paragraphs", "share_text", "source_sentence",
           "source_text", "summary_paragraphs"]

FAILING: tuple[str, ...] = ("dead_spot", "confirmed_weak", "likely_weak")
# The most (source, method) rows a text lists; the rest are summed.
SOURCE_ROWS_MAX = 12


def _site_lines(sites: gpd.GeoDataFrame, _: Gettext, lang: str) -> list[str]:
    failing = sites[sites["verdict"].isin(FAILING)].copy()
    failing["_rank"] = failing["verdict"].map({v: i for i, v in enumerate(FAILING)})
    lines = []
    for _i, s in failing.sort_values(["_rank", "down_median_mbps"]).head(8).iterrows():
        lines.append("• " + _(
            "{name} ({address}), {carrier} {access}: {verdict}; median {median}, "
            "10% of tests below {p10}, {share} of tests below the target."
        ).format(name=s["name"], address=s["address"], carrier=label("carrier", s["carrier"], _),
                 access=label("access", s["access"], _),
                 verdict=label("status", s["verdict"], _).lower(),
                 median=format_mbps(s["down_median_mbps"], lang),
                 p10=format_mbps(s["down_p10_mbps"], lang),
                 share=format_percent(s["share_below"], lang)))
    return lines


def summary_paragraphs(cells: gpd.GeoDataFrame, areas: gpd.GeoDataFrame,
                       sites: gpd.GeoDataFrame, _: Gettext, lang: str) -> list[str]:
    """Plain-language findings: how many service points fail, where, how badly."""
    out: list[str] = []
    if len(sites):
        total = sites["site_id"].nunique()
        failing = sites[sites["verdict"].isin(FAILING)]
        worst = failing.groupby("site_id")["verdict"].agg(
            lambda v: min(v, key=FAILING.index)) if len(failing) else failing["verdict"]
        out.append(_(
            "{failing} of {total} public service points do not reach the download target: "
            "{dead} with a dead spot, {weak} confirmed weak, {likely} likely weak."
        ).format(failing=failing["site_id"].nunique(), total=total,
                 dead=int((worst == "dead_spot").sum()),
                 weak=int((worst == "confirmed_weak").sum()),
                 likely=int((worst == "likely_weak").sum())))
        lines = _site_lines(sites, _, lang)
        if lines:
            out.append(_("Where it is worst:"))
            out += lines
        else:
            out.append(_("Every measured service point reaches the target."))
    per_cell = worst_status_per_cell(cells) if len(cells) else cells  # one row per hexagon
    judged = per_cell[per_cell["status"] != "insufficient_data"]
    if len(judged):
        weak = judged["status"].isin(FAILING).sum()
        out.append(_(  # dead spots are counted as areas (below): clustered failures, not cells
            "Of {judged} map cells with enough measurements, {weak} ({share}) do not reach the "
            "target in the all-day or peak-hour window."
        ).format(judged=len(judged), weak=int(weak), share=format_percent(weak / len(judged), lang)))
    if len(areas):
        causes = areas.groupby("cause")["area_km2"].sum().sort_values(ascending=False)
        out.append(_(
            "{count} weak areas cover {area} km², {dead} of them dead spots; the most common "
            "likely cause is {cause}."
        ).format(count=len(areas), area=format_number(float(areas["area_km2"].sum()), lang,
                                                      decimals=2),
                 dead=int((areas["status"] == "dead_spot").sum()),
                 cause=label("cause", str(causes.index[0]), _).lower()))
    return out


def share_text(part: int, total: int, lang: str) -> str:
    """A share as a whole percentage, with two decimals when rounding would hide a minority:
    2 of 11 000 is '0,02%', not '0%', and 10 998 of 11 000 is '99,98%', not '100%'."""
    share = part / total
    rounded = round(100 * share)
    hides = (rounded == 0 and part > 0) or (rounded == 100 and part < total)
    return format_percent(share, lang, decimals=2 if hides else 0)


def source_text(sources: dict[str, int], _: Gettext, lang: str) -> str:
    """'Measurements by source: Fixed probes 80% (1.200), ...', or that they are unknown."""
    total = sum(sources.values())
    if not total:
        return _("The sources of the measurements are not recorded in this input.")
    parts = [f"{label('source', s, _)} {share_text(n, total, lang)} "
             f"({format_number(n, lang, decimals=0)})"
             for s, n in sorted(sources.items(), key=lambda item: -item[1])]
    return _("Measurements by source: {parts}.").format(parts="; ".join(parts))


def _confidence(z: float) -> str:
    """Two-sided coverage of a normal interval of half-width `z` (1.96 -> 95%)."""
    return f"{100 * math.erf(z / math.sqrt(2)):.0f}%"


def _targets(t: Thresholds, _: Gettext) -> str:
    parts = []
    for access, target in t.access.items():
        if target.down_mbps is not None:
            text = _("{access}: download at least {down} Mbps").format(
                access=label("access", access, _), down=f"{target.down_mbps:g}")
            if target.up_mbps is not None:
                text += _(", upload at least {up} Mbps").format(up=f"{target.up_mbps:g}")
            if target.floor_mbps is not None and target.floor_share is not None:
                text += _(", {share} of samples at least {floor} Mbps").format(
                    share=f"{100 * target.floor_share:g}%", floor=f"{target.floor_mbps:g}")
        elif target.plan_fraction is not None:
            text = _("{access}: download at least {fraction} times the subscribed speed").format(
                access=label("access", access, _), fraction=f"{target.plan_fraction:g}")
        else:
            continue
        # the default targets' sources are catalog entries; a ward's own source stays as written
        parts.append(f"{text} ({_(target.source)})")
    return "; ".join(parts)


def source_sentence(sources: pd.DataFrame, _: Gettext, lang: str) -> str:
    """How many measurements came from each source and by which method, and which of them the
    cell statistics count (`analysis.sources.source_table`)."""
    if sources.empty:
        return _("No measurements in this period.")
    parts = [_("{source}, {method}: {count} ({share})").format(
        source=label("source", str(row["source"]), _), method=str(row["method"]) or "\u2013",
        count=format_number(int(row["count"]), lang, decimals=0),
        share=format_percent(float(row["share"]), lang))
        for row in sources.head(SOURCE_ROWS_MAX).to_dict("records")]
    if len(sources) > SOURCE_ROWS_MAX:
        parts.append(_("{n} other methods: {count}").format(
            n=len(sources) - SOURCE_ROWS_MAX,
            count=format_number(int(sources["count"].iloc[SOURCE_ROWS_MAX:].sum()), lang,
                                decimals=0)))
    counted = [label("source", s, _) for s in dict.fromkeys(
        sources.loc[sources["in_statistics"].astype(bool), "source"].astype(str))]
    left = [label("source", s, _) for s in dict.fromkeys(
        sources.loc[~sources["in_statistics"].astype(bool), "source"].astype(str))]
    text = _("Measurements by source and method: {parts}.").format(parts="; ".join(parts))
    if left:
        text += " " + _("The cell statistics count {counted} only; {left} are shown apart and "
                        "not counted (the ward's choice).").format(
            counted=", ".join(counted) or "\u2013", left=", ".join(left))
    return text


def method_paragraphs(survey: ReportInput, _: Gettext, lang: str) -> list[str]:
    """Probes, tools, targets with their sources, sample rules and intervals: written from the
    same `Thresholds` the analysis applied."""
    t = survey.thresholds
    r, c, w = t.rules, t.cause, t.windows
    share = format_percent(r.weak_share, lang)
    sources = survey.sources
    origin = [source_text(sources, _, lang)]
    if survey.source_table is not None and len(survey.source_table):
        origin.append(source_sentence(survey.source_table, _, lang))
    if not sources or sources.get("probe"):
        origin.append(_("Measurements come from fixed probes (a Raspberry Pi at each public "
                        "service point, one modem per carrier plus the fixed line, one test per "
                        "path about every 30 minutes) and from volunteers walking set routes "
                        "with a laptop. A failed test is kept: in a dead spot, the failure is "
                        "the evidence."))
    else:
        origin.append(_("No measurement in this report comes from the ward's fixed probes. A "
                        "failed test is kept: in a dead spot, the failure is the evidence."))
    if sources.get("synthetic"):
        origin.append(_("Synthetic measurements were generated by lomsong's simulator to show "
                        "the method: they measure no real network, and no finding based on them "
                        "is evidence for a carrier."))
    return [
        " ".join(origin),
        _("Download and upload speeds are measured with iperf3 against the ward's own test "
          "server and with speedtest-cli against public servers in Vietnam; latency with ping; "
          "radio readings (RSRP, SINR, PCI, band) come from the modems."),
        *sources,
        _("Targets and their sources: {targets}.").format(targets=_targets(t, _)),
        _("The ward is divided into H3 hexagons (about 66 m edge at resolution 10). The same "
          "rule applies to every cell, service point and time window: it is judged only with at "
          "least {min_samples} tests in at least {min_slots} different {slot_hours}-hour slots, "
          "otherwise it is marked \u201cnot enough data\u201d. Failed tests count as below the "
          "target and are never given a speed. It is weak (confirmed) when the {conf} interval "
          "of its share of tests below the target lies wholly above {share}, likely weak when "
          "the {likely} interval does; it meets the target when the {conf} interval lies wholly "
          "below {share}, likely meets it when the {likely} interval does; otherwise the data "
          "cannot tell.").format(
            min_samples=r.min_samples, min_slots=r.min_slots, slot_hours=r.slot_hours,
            conf=_confidence(r.z), likely=_confidence(r.z_likely), share=share),
        _("Dead spots are found from the failed tests themselves: failed tests (no service, "
          "attach failure, timeout) less than {link} m apart are grouped; a group of at least "
          "{min_failed} failures in at least {min_slots} time slots is a dead spot when, of all "
          "tests inside the outline of its failures, the share that failed is above {share} "
          "and the lower end of its {likely} interval is too. It is drawn {margin} m around its "
          "failures, even when working tests share its hexagon.").format(
            link=f"{r.dead_spot_link_m:g}", min_failed=r.min_failed, min_slots=r.min_slots,
            share=share, likely=_confidence(r.z_likely), margin=f"{r.dead_spot_margin_m:g}"),
        _("Likely causes, in this order: no service (most tests failed); coverage (median RSRP "
          "below {rsrp} dBm); interference (median SINR below {sinr} dB); congestion (at the "
          "same places, the peak median is under the target and under {ratio} times the "
          "off-peak median, which meets it, with a Mann-Whitney test p < {p}); backhaul (good "
          "radio, RSRP at least {good_rsrp} dBm and SINR at least {good_sinr} dB, slow at all "
          "hours); otherwise unknown. Each cause states how sure it is.").format(
            rsrp=f"{c.rsrp_poor_dbm:g}", sinr=f"{c.sinr_poor_db:g}",
            ratio=f"{c.peak_drop_ratio:g}", p=f"{c.congestion_p:g}",
            good_rsrp=f"{c.rsrp_good_dbm:g}", good_sinr=f"{c.sinr_good_db:g}"),
        _("Shares below the target are given with a {conf} Wilson score interval. Peak hours "
          "are {start}:00\u2013{end}:00 local time ({tz}).").format(
            conf=_confidence(r.z), start=f"{w.peak_start_hour:02d}",
            end=f"{w.peak_end_hour:02d}", tz=w.timezone),
    ]
