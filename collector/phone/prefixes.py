"""Which Vietnamese carrier announces a client's address: a longest-prefix table of BGP prefixes.

The page suggests a carrier from the address the phone connects from; the person always confirms
it. The table ships with the package (`vn_carrier_prefixes.txt`: one ``prefix asn carrier`` line
per announced prefix, a ``#`` header naming its source and date) and an admin can rebuild it from
newer announced-prefix files with ``lomsong phone prefixes DIR``, which writes
``<data_dir>/vn_carrier_prefixes.txt``; that copy, when present, replaces the shipped one.

Prefixes overlap between networks (AS24086 announces /19-/24 pieces inside AS7552's
116.96.0.0/12), so the most specific prefix decides. An address inside a carrier's prefix is not
always that carrier's subscriber (CDN caches are hosted in carriers' networks): it is a suggestion.

Example
-------
>>> table = PrefixTable.parse("# test\\n116.96.0.0/12 7552 viettel\\n116.97.0.0/19 24086 viettel\\n"
...                           "14.160.0.0/11 45899 vnpt\\n")
>>> table.carrier_of("14.161.2.3"), table.carrier_of("8.8.8.8")
('vnpt', None)
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Final

__all__ = ["ASN_CARRIERS", "TABLE_NAME", "PrefixTable", "PrefixTableError", "build_table",
           "load_table"]

TABLE_NAME: Final = "vn_carrier_prefixes.txt"
MAX_TABLE_LINES: Final = 200_000

# Autonomous systems of the carriers the page can suggest (numbers and names from the files'
# own `asn`, `handle` and `description` fields).
ASN_CARRIERS: Final[dict[int, str]] = {
    7552: "viettel",     # VIETEL-AP, Viettel Group
    24086: "viettel",    # VIETTEL-VN, Viettel Corporation
    45899: "vnpt",       # VNPT-VN, VNPT Corp
    135905: "vnpt",      # VNPT-VN, Vietnam Posts and Telecommunications Group
    7643: "vnpt",        # VNPT-VN, Vietnam Posts and Telecommunications (VNPT)
    131429: "mobifone",  # MOBIFONE-VN, MOBIFONE Corporation
    18403: "fpt",        # FPT-AP, FPT Telecom Company
    45903: "cmc",        # CMCTELECOM-VN, CMC Telecom Infrastructure Company
}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(version: int, value: int, length: int) -> Network:
    if version == 4:
        return ipaddress.IPv4Network((value, length))
    return ipaddress.IPv6Network((value, length))


class PrefixTableError(ValueError):
    """A prefix table or an announced-prefix file is malformed (the message names file and line)."""


@dataclass(frozen=True)
class PrefixTable:
    """Announced prefixes by family and length, for longest-prefix lookups."""

    header: tuple[str, ...]
    # (version, prefix length) -> {network address as int: (asn, carrier)}
    _by_length: dict[tuple[int, int], dict[int, tuple[int, str]]] = field(repr=False)
    _lengths: dict[int, tuple[int, ...]] = field(repr=False)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[Network, int, str]],
                  header: Iterable[str] = ()) -> PrefixTable:
        by_length: dict[tuple[int, int], dict[int, tuple[int, str]]] = {}
        for net, asn, carrier in rows:
            slot = by_length.setdefault((net.version, net.prefixlen), {})
            slot[int(net.network_address)] = (asn, carrier)
        lengths = {v: tuple(sorted((n for ver, n in by_length if ver == v), reverse=True))
                   for v in (4, 6)}
        return cls(tuple(header), by_length, lengths)

    @classmethod
    def parse(cls, text: str, name: str = TABLE_NAME) -> PrefixTable:
        """Read a table written by `PrefixTable.dump` (``prefix asn carrier`` per line)."""
        header: list[str] = []
        rows: list[tuple[Network, int, str]] = []
        lines = text.splitlines()
        if len(lines) > MAX_TABLE_LINES:
            raise PrefixTableError(f"{name}: more than {MAX_TABLE_LINES} lines")
        for number, line in enumerate(lines, 1):
            if line.startswith("#"):
                header.append(line[1:].strip())
                continue
            if not line.strip():
                continue
            parts = line.split()
            try:
                if len(parts) != 3:
                    raise ValueError("expected 'prefix asn carrier'")
                net = ipaddress.ip_network(parts[0])
                asn = int(parts[1])
            except ValueError as exc:
                raise PrefixTableError(f"{name}, line {number}: {exc}") from exc
            rows.append((net, asn, parts[2]))
        return cls.from_rows(rows, header)

    def __len__(self) -> int:
        return sum(len(slot) for slot in self._by_length.values())

    def lookup(self, address: str) -> tuple[Network, int, str] | None:
        """The most specific announced prefix holding `address`, its ASN and carrier, or None."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        bits = ip.max_prefixlen
        value = int(ip)
        for length in self._lengths[ip.version]:
            network = value >> (bits - length) << (bits - length)
            hit = self._by_length[(ip.version, length)].get(network)
            if hit is not None:
                return _network(ip.version, network, length), hit[0], hit[1]
        return None

    def carrier_of(self, address: str) -> str | None:
        """The carrier announcing the most specific prefix that holds `address`, or None."""
        hit = self.lookup(address)
        return None if hit is None else hit[2]

    def dump(self) -> str:
        lines = [f"# {h}" for h in self.header]
        for (version, length), slot in sorted(self._by_length.items()):
            for value, (asn, carrier) in sorted(slot.items()):
                net = _network(version, value, length)
                lines.append(f"{net} {asn} {carrier}")
        return "\n".join(lines) + "\n"


def build_table(asn_dir: Path, *, built_on: date) -> PrefixTable:
    """Build the table from announced-prefix files (ipverse ``as/<asn>/aggregated.json`` format:
    ``{"asn": N, "subnets": {"ipv4": [...], "ipv6": [...]}}``) for the ASNs in `ASN_CARRIERS`.

    Files of other ASNs are skipped; a malformed file is an error naming it.
    """
    rows: list[tuple[Network, int, str]] = []
    used: list[str] = []
    for path in sorted(asn_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text("utf-8"))
            asn = int(data["asn"])
            if asn not in ASN_CARRIERS:
                continue
            subnets = data["subnets"]
            for family in ("ipv4", "ipv6"):
                rows.extend((ipaddress.ip_network(p), asn, ASN_CARRIERS[asn])
                            for p in subnets.get(family, []))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PrefixTableError(f"{path.name}: not an announced-prefix file: {exc}") from exc
        used.append(f"AS{asn} {ASN_CARRIERS[asn]} ({path.name})")
    if not rows:
        raise PrefixTableError(f"{asn_dir}: no announced-prefix file of a known carrier ASN")
    header = ["Announced BGP prefixes of Vietnamese carriers, longest prefix wins.",
              "Source: ipverse/asn-ip as/<asn>/aggregated.json (public BGP routing data).",
              f"Built on {built_on.isoformat()} by `lomsong phone prefixes` from:",
              *used]
    return PrefixTable.from_rows(rows, header)


def load_table(data_dir: Path | None = None) -> PrefixTable:
    """The admin's table in `data_dir` if there is one, else the table shipped with lomsong."""
    if data_dir is not None and (data_dir / TABLE_NAME).is_file():
        path = data_dir / TABLE_NAME
        return PrefixTable.parse(path.read_text("utf-8"), str(path))
    text = resources.files("lomsong.collector.phone").joinpath(TABLE_NAME).read_text("utf-8")
    return PrefixTable.parse(text)
