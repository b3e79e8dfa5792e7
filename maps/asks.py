"""The numbered asks of a carrier's report: one per weak area, each with its place and evidence.

An ask says what is wanted (the proposal's action when one targets the area, else a check of the
area), where (centroid in WGS 84 with a ``geo:`` link a phone opens, the nearest named street and
residential group when the ward loaded them, the nearest service point with its distance), when
(first and last test dates), on what (cell ids/ECI, PCIs, bands seen) and on which evidence (tests,
failed tests, the window that decided the status, the likely cause and its certainty). Asks are
ordered dead spots first, then by share below the target; the number is the marker on the maps.

Example
-------
>>> order = ask_order(weak_areas)                         # doctest: +SKIP
>>> flow = ask_flowables(weak_areas, order, places, proposals, styles, _, "vi")  # doctest: +SKIP
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Table, TableStyle

from lomsong.maps.i18n import Gettext, format_number
from lomsong.maps.labels import STATUS_ORDER, label
from lomsong.maps.pdf_layout import FONT, Styles, para, table
from lomsong.maps.popups import cause_text, count_text, dates_text, deciding_text, missing

__all__ = ["ask_flowables", "ask_order"]


def ask_order(areas: gpd.GeoDataFrame) -> list[str]:
    """Area ids in ask order: most severe status first, then the largest share below target."""
    if not len(areas):
        return []
    rank = areas["status"].map({s: i for i, s in enumerate(STATUS_ORDER)}).fillna(len(STATUS_ORDER))
    ordered = areas.assign(_rank=rank).sort_values(["_rank", "share_below", "area_id"],
                                                   ascending=[True, False, True])
    return [str(a) for a in ordered["area_id"]]


def _text(value: object) -> str:
    return "–" if missing(value) or value is pd.NA or not str(value).strip() else str(value)


def _metres(value: object, lang: str) -> str:
    return f"{format_number(float(value), lang, decimals=0)} m"  # type: ignore[arg-type]


def _place(place: pd.Series, _: Gettext, lang: str) -> list[tuple[str, str]]:
    rows = [(_("Coordinates (WGS 84)"),
             f"{place['lat']:.5f}, {place['lon']:.5f} · {place['geo_uri']}")]
    if not pd.isna(place.get("street_name")):
        rows.append((_("Nearest named street"), _("{street}, {distance} away").format(
            street=place["street_name"], distance=_metres(place["street_distance_m"], lang))))
    if not pd.isna(place.get("group_name")):
        text = (_("inside {group}") if bool(place["group_inside"])
                else _("{distance} from {group}")).format(
            group=place["group_name"], distance=_metres(place["group_distance_m"], lang))
        rows.append((_("Residential group"), text))
    if not pd.isna(place.get("site_name")):
        rows.append((_("Nearest service point"), _("{site}, {distance} away").format(
            site=place["site_name"], distance=_metres(place["site_distance_m"], lang))))
    return rows


def _what(area: pd.Series, proposals: pd.DataFrame, _: Gettext) -> str:
    match = proposals[proposals["target_id"].astype(str) == str(area["area_id"])]
    if len(match):
        return _("{action} ({priority} priority)").format(
            action=label("action", match.iloc[0]["action"], _),
            priority=label("priority", match.iloc[0]["priority"], _).lower())
    return _("Check and fix the service in this area")


def ask_flowables(areas: gpd.GeoDataFrame, order: list[str], places: pd.DataFrame,
                  proposals: pd.DataFrame, styles: Styles, _: Gettext, lang: str,
                  insets: dict[str, Flowable] | None = None) -> list[Flowable]:
    """One titled two-column fact table per ask, in `order` (see `ask_order`), with its inset
    map beside it when `insets` has one."""
    by_id = areas.set_index(areas["area_id"].astype(str))
    flow: list[Flowable] = []
    for number, area_id in enumerate(order, start=1):
        area = by_id.loc[area_id]
        title = _("Ask {number}: {what}").format(number=number, what=_what(area, proposals, _))
        rows = [
            (_("Area"), _("{area_id}: {status}, {access}, {cells} cells, {km2} km²").format(
                area_id=area_id, status=label("status", area["status"], _),
                access=label("access", area["access"], _),
                cells=format_number(float(area["cells"]), lang, decimals=0),
                km2=format_number(float(area["area_km2"]), lang, decimals=3))),
            *_place(places.loc[area_id], _, lang),
            (_("Test dates"), dates_text(area, lang)),
            (_("Tests"), count_text(area, _, lang)),
            (_("Deciding window"), deciding_text(area, _, lang)),
            (_("Likely cause"), cause_text(area, _)),
            (_("Cell ids (ECI)"), _text(area["cell_ids"])),
            (_("PCIs / bands"), f"{_text(area['pcis'])} / {_text(area['bands'])}"),
        ]
        inset = (insets or {}).get(area_id)
        facts = table([_("Fact"), _("Value")], [list(r) for r in rows], styles,
                      (34, 88) if inset is not None else (45, 141))
        body: Flowable = facts
        if inset is not None:
            body = Table([[facts, inset]], colWidths=[124 * mm, 62 * mm])
            body.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                      ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                      ("FONTNAME", (0, 0), (-1, -1), FONT)]))
        flow.append(KeepTogether([para(title, styles.h2), body]))
    return flow


def ask_line(number: int, area: pd.Series, place: pd.Series, proposals: pd.DataFrame,
             _: Gettext, lang: str) -> str:
    """The ask as one sentence for the letter, pointing to its details in the annex."""
    where = (_("near {street}").format(street=place["street_name"])
             if not pd.isna(place.get("street_name")) else
             _("near {site}").format(site=place["site_name"])
             if not pd.isna(place.get("site_name")) else "")
    return _("{what} in area {area_id} ({status}, {dates}){where}, at {lat}, {lon}; details "
             "in ask {number} of the annex.").format(
        what=_what(area, proposals, _), area_id=area["area_id"],
        status=label("status", area["status"], _).lower(), dates=dates_text(area, lang),
        where=f", {where}" if where else "", lat=f"{place['lat']:.5f}",
        lon=f"{place['lon']:.5f}", number=number)
