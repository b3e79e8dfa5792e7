"""The report's prose: the executive summary (plain words, counts, places) and the method.

Each function returns a list of translated, formatted paragraphs.

Example
-------
>>> from lomsong.maps.i18n import translator
>>> paragraphs = method_paragraphs(ReportInput.empty(), translator("vi"), "vi")
>>> "QCVN 34:2022/BTTTT" in paragraphs[2]
True
"""

from __future__ import annotations

import geopandas as gpd

from lomsong.maps.i18n import Gettext, format_mbps, format_number, format_percent
from lomsong.maps.labels import label
from lomsong.maps.report_input import ReportInput
from lomsong.maps.static import worst_status_per_cell

__all__ = ["FAILING", "method_paragraphs", "summary_paragraphs"]

FAILING: tuple[str, ...] = ("dead_spot", "confirmed_weak", "likely_weak")


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
        out.append(_(
            "Of {judged} map cells with enough measurements, {weak} ({share}) are weak or dead "
            "spots; {dead} are dead spots."
        ).format(judged=len(judged), weak=int(weak), share=format_percent(weak / len(judged), lang),
                 dead=int((judged["status"] == "dead_spot").sum())))
    if len(areas):
        causes = areas.groupby("cause")["area_km2"].sum().sort_values(ascending=False)
        out.append(_(
            "{count} weak areas cover {area} km²; the most common likely cause is {cause}."
        ).format(count=len(areas), area=format_number(float(areas["area_km2"].sum()), lang,
                                                      decimals=2),
                 cause=label("cause", str(causes.index[0]), _).lower()))
    return out


def method_paragraphs(survey: ReportInput, _: Gettext, lang: str) -> list[str]:
    """Probes, tools, targets with their legal sources, sample rules and intervals."""
    share = format_percent(survey.weak_share, lang)
    return [
        _("Measurements come from fixed probes (a Raspberry Pi at each public service point, one "
          "modem per carrier plus the fixed line, one test per path about every 30 minutes) and "
          "from volunteers walking set routes with a laptop. A failed test is kept: in a dead "
          "spot, the failure is the evidence."),
        _("Download and upload speeds are measured with iperf3 against the ward's own test "
          "server and with speedtest-cli against public servers in Vietnam; latency with ping; "
          "radio readings (RSRP, SINR, PCI, band) come from the modems."),
        _("Targets: 4G download at least 40 Mbps (2024 national target, measured with "
          "i-Speed); 5G at least 100 Mbps down and 50 Mbps up, with 95% of samples at least "
          "30 Mbps (2020 5G quality criteria); fixed broadband download at least 0.8 times the "
          "subscribed speed (QCVN 34:2022/BTTTT)."),
        _("The ward is divided into H3 hexagons (resolution 10, about 66 m edge). A cell is "
          "judged only with at least {min_samples} samples, otherwise it is marked \u201cnot "
          "enough data\u201d. A dead spot has at least {min_failed} failed tests or no service. "
          "A cell is weak (confirmed) when even the lower end of the 95% interval of its share "
          "of tests below the target exceeds {share}, and likely weak when the share itself "
          "exceeds {share}.").format(min_samples=survey.min_samples,
                                     min_failed=survey.min_failed, share=share),
        _("Shares below the target are given with a 95% Wilson score interval. Peak hours are "
          "{start}:00–{end}:00 local time (Asia/Ho_Chi_Minh); comparing peak and off-peak "
          "medians separates congestion from poor coverage.").format(
            start=f"{survey.peak_start_hour:02d}", end=f"{survey.peak_end_hour:02d}"),
    ]
