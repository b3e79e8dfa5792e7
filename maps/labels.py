"""Translated labels for the analysis vocabulary: carriers, access, statuses, causes, actions.

Codes are the values found in the analysis outputs (``status == "dead_spot"``, ``carrier ==
"vnpt"``); labels go through the catalog, so the same code reads "Lõm sóng" in Vietnamese and
"Dead spot" in English. An unknown code is shown as it is rather than hidden.

Example
-------
>>> from lomsong.maps.i18n import translator
>>> label("status", "dead_spot", translator("vi"))
'Lõm sóng'
>>> label("carrier", "vnpt", translator("en"))
'VNPT (VinaPhone)'
"""

from __future__ import annotations

from lomsong.maps.i18n import N_, Gettext

__all__ = ["ACCESS_ORDER", "CARRIER_ORDER", "STATUS_ORDER", "VOCABULARY", "label"]

STATUS_ORDER: tuple[str, ...] = (
    "dead_spot", "confirmed_weak", "likely_weak", "likely_ok", "ok", "insufficient_data",
)

ACCESS_ORDER: tuple[str, ...] = ("4g", "5g_nsa", "5g_sa", "3g", "2g", "fixed", "wifi", "unknown")

CARRIER_ORDER: tuple[str, ...] = (
    "viettel", "vnpt", "mobifone", "vietnamobile", "gmobile", "itel",
    "fpt", "cmc", "sctv", "other", "unknown",
)

VOCABULARY: dict[str, dict[str, str]] = {
    "carrier": {
        "viettel": N_("Viettel"),
        "vnpt": N_("VNPT (VinaPhone)"),
        "mobifone": N_("MobiFone"),
        "vietnamobile": N_("Vietnamobile"),
        "gmobile": N_("Gmobile"),
        "itel": N_("iTel"),
        "fpt": N_("FPT Telecom"),
        "cmc": N_("CMC Telecom"),
        "sctv": N_("SCTV"),
        "other": N_("Other operator"),
        "unknown": N_("Unknown operator"),
        "all": N_("All carriers"),
    },
    "access": {
        "5g_sa": N_("5G SA"),
        "5g_nsa": N_("5G NSA"),
        "4g": N_("4G"),
        "3g": N_("3G"),
        "2g": N_("2G"),
        "fixed": N_("Fixed broadband"),
        "wifi": N_("Wi-Fi"),
        "unknown": N_("Unknown access"),
    },
    "status": {
        "dead_spot": N_("Dead spot"),
        "confirmed_weak": N_("Weak (confirmed)"),
        "likely_weak": N_("Likely weak"),
        "likely_ok": N_("Likely meets target"),
        "ok": N_("Meets target"),
        "insufficient_data": N_("Not enough data"),
    },
    "cause": {
        "coverage": N_("Coverage (weak signal)"),
        "interference": N_("Interference (good signal, poor quality)"),
        "congestion": N_("Congestion (slow at peak hours)"),
        "backhaul": N_("Backhaul (transmission link)"),
        "no_service": N_("No service"),
        "unknown": N_("Unknown cause"),
    },
    "action": {
        "new_site": N_("New base station"),
        "capacity_upgrade": N_("Capacity upgrade"),
        "nr_activation": N_("Activate 5G"),
        "fixed_upgrade": N_("Fixed broadband upgrade"),
        "investigate_interference": N_("Investigate interference"),
        "investigate_backhaul": N_("Investigate backhaul"),
    },
    "priority": {
        "high": N_("High"),
        "medium": N_("Medium"),
        "low": N_("Low"),
    },
    "certainty": {
        # how sure a weak area's cause is (analysis.causes)
        "high": N_("High"),
        "medium": N_("Medium"),
        "low": N_("Low"),
    },
    "window": {
        "all": N_("All day"),
        "peak": N_("Peak hours"),
        "offpeak": N_("Off-peak"),
    },
    "source": {
        # probe.record.Source: where a measurement came from
        "probe": N_("Fixed probes"),
        "import": N_("Imported files"),
        "synthetic": N_("Synthetic (simulated) data"),
        "browser": N_("Phones and browsers"),
    },
    "site_type": {
        # the codes of analysis.sites.SITE_TYPES
        "public_service_point": N_("Public administrative service point"),
        "community_house": N_("Community house"),
        "digital_literacy_point": N_("Digital-literacy point"),
        "school": N_("School"),
        "other": N_("Other site"),
    },
    "case_state": {
        # the states of collector.caseflow
        "draft": N_("Draft"),
        "sent": N_("Sent"),
        "acknowledged": N_("Acknowledged"),
        "planned": N_("Planned"),
        "done": N_("Done (carrier says)"),
        "verified": N_("Verified by re-test"),
        "reopened": N_("Reopened"),
        "closed": N_("Closed"),
    },
    "case_event": {
        "reply": N_("Reply"),
        "attachment": N_("File attached"),
        "retest": N_("Re-test planned"),
    },
    "alert_kind": {
        "site_below_target": N_("Service point below target"),
        "probe_silent": N_("Probe silent"),
        "spool_backlog": N_("Probe upload backlog"),
        "case_overdue": N_("Case overdue"),
    },
    "retest_outcome": {
        "met": N_("Target met"),
        "not_met": N_("Target not met"),
        "not_enough_data": N_("Not enough tests after the done date"),
    },
}


def label(kind: str, code: str, _: Gettext) -> str:
    """Translated label of `code` in vocabulary `kind` ("carrier", "status", ...).

    An unknown `kind` is a programming error (``KeyError``); an unknown code is returned as is.
    """
    return _(VOCABULARY[kind][code]) if code in VOCABULARY[kind] else str(code)
