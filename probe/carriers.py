"""Carrier names as people type them, turned into the codes of `probe.record.Carrier`.

Any case, spaces and hyphens are accepted, and the usual brand names: VinaPhone is VNPT's mobile
network, Mobifone is MobiFone, FPT Telecom is FPT. Only the standard library is imported, so the
command line can check a carrier before pydantic loads. Every place a user types a carrier (the
`--carrier` flags, imported files) goes through `carrier_code`.

Example
-------
>>> carrier_code("VinaPhone")
'vnpt'
>>> carrier_code(" Viettel ")
'viettel'
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

__all__ = ["CARRIER_CODES", "UnknownCarrier", "carrier_arg", "carrier_code"]

# The values of `probe.record.Carrier` (a test keeps them equal).
CARRIER_CODES: tuple[str, ...] = (
    "viettel", "vnpt", "mobifone", "vietnamobile", "gmobile", "itel", "fpt", "cmc", "sctv",
    "other", "unknown",
)

# Usual names, after lower-casing and dropping spaces, hyphens, dots and underscores.
_ALIASES: dict[str, str] = {
    "vinaphone": "vnpt", "vnptvinaphone": "vnpt",
    "viettelmobile": "viettel", "viettelnetwork": "viettel", "viettelidc": "viettel",
    "vms": "mobifone",
    "vnmobile": "vietnamobile", "vnmobi": "vietnamobile",
    "beeline": "gmobile",
    "itelecom": "itel",
    "fpttelecom": "fpt",
    "cmctelecom": "cmc", "cmcti": "cmc",
}
_SEPARATORS = re.compile(r"[\s\-._]+")
_MAX_CHARS = 40


class UnknownCarrier(ValueError):
    """The name is no carrier lomsong knows; the message is bilingual and lists the codes."""


def carrier_code(name: str, allowed: tuple[str, ...] = CARRIER_CODES) -> str:
    """The carrier code for `name`, which must be one of `allowed`.

    >>> carrier_code("Orange")
    Traceback (most recent call last):
    ...
    lomsong.probe.carriers.UnknownCarrier: nhà mạng không hợp lệ 'Orange'; chọn một trong: \
viettel, vnpt (VinaPhone), mobifone, vietnamobile, gmobile, itel, fpt, cmc, sctv, other, unknown \
(unknown carrier 'Orange'; choose one of: viettel, vnpt (VinaPhone), mobifone, vietnamobile, \
gmobile, itel, fpt, cmc, sctv, other, unknown)
    """
    key = _SEPARATORS.sub("", name.strip().lower())
    code = _ALIASES.get(key, key)
    if code not in allowed:
        shown = name if len(name) <= _MAX_CHARS else name[:_MAX_CHARS] + "..."
        names = ", ".join("vnpt (VinaPhone)" if c == "vnpt" else c for c in allowed)
        raise UnknownCarrier(f"nhà mạng không hợp lệ '{shown}'; chọn một trong: {names} "
                             f"(unknown carrier '{shown}'; choose one of: {names})")
    return code


def carrier_arg(allowed: tuple[str, ...] = CARRIER_CODES) -> Callable[[str], str]:
    """An argparse ``type=`` that accepts any usual name of a carrier in `allowed`."""

    def carrier(value: str) -> str:
        try:
            return carrier_code(value, allowed)
        except UnknownCarrier as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return carrier
