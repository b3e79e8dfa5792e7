"""The carrier-from-address table, on the real announced prefixes in ../shared/realdata/asn."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from lomsong.collector.phone.prefixes import (
    TABLE_NAME,
    PrefixTable,
    PrefixTableError,
    build_table,
    load_table,
)


@pytest.fixture(scope="module")
def shipped() -> PrefixTable:
    return load_table()


@pytest.mark.parametrize(("address", "prefix", "asn", "carrier"), [
    ("27.72.1.9", "27.64.0.0/12", 7552, "viettel"),
    # AS24086's /18 lies inside AS7552's 116.96.0.0/12: the longer prefix decides.
    ("116.100.200.1", "116.100.192.0/18", 24086, "viettel"),
    ("116.101.0.1", "116.96.0.0/12", 7552, "viettel"),
    # AS7552 announces a /24 inside AS24086's 103.84.76.0/22.
    ("103.84.76.10", "103.84.76.0/24", 7552, "viettel"),
    ("103.84.77.10", "103.84.76.0/22", 24086, "viettel"),
    ("14.161.2.3", "14.160.0.0/11", 45899, "vnpt"),
    ("42.1.64.7", "42.1.64.0/20", 131429, "mobifone"),
    ("1.53.0.1", "1.52.0.0/14", 18403, "fpt"),
    ("2402:9d80::1", "2402:9d80::/47", 131429, "mobifone"),
    # AS135905's /40 inside AS45899's 2001:ee0::/31.
    ("2001:ee0:300::5", "2001:ee0:300::/40", 135905, "vnpt"),
    ("2001:ee0:1::5", "2001:ee0::/31", 45899, "vnpt"),
    ("::ffff:14.161.2.3", "14.160.0.0/11", 45899, "vnpt"),
])
def test_longest_announced_prefix_names_the_carrier(
    shipped: PrefixTable, address: str, prefix: str, asn: int, carrier: str
) -> None:
    hit = shipped.lookup(address)
    assert hit is not None
    assert (str(hit[0]), hit[1], hit[2]) == (prefix, asn, carrier)


@pytest.mark.parametrize("address", ["8.8.8.8", "127.0.0.1", "2001:db8::1", "not an address", ""])
def test_foreign_private_or_malformed_addresses_have_no_carrier(
    shipped: PrefixTable, address: str
) -> None:
    assert shipped.carrier_of(address) is None


def test_longest_prefix_wins_across_carriers() -> None:
    table = PrefixTable.parse("10.0.0.0/8 7552 viettel\n10.1.0.0/16 131429 mobifone\n")
    assert table.carrier_of("10.1.2.3") == "mobifone"
    assert table.carrier_of("10.2.2.3") == "viettel"


def test_shipped_table_is_the_one_built_from_the_real_files(realdata: Path,
                                                            shipped: PrefixTable) -> None:
    rebuilt = build_table(realdata / "asn", built_on=date(2026, 12, 5))
    body = [line for line in rebuilt.dump().splitlines() if not line.startswith("#")]
    assert body == [line for line in shipped.dump().splitlines() if not line.startswith("#")]
    assert len(shipped) == 573
    assert any("Source: ipverse/asn-ip" in h for h in shipped.header)
    assert any(h.startswith("Built on 2026-12-05") for h in shipped.header)


def test_admin_table_in_data_dir_replaces_the_shipped_one(tmp_path: Path) -> None:
    (tmp_path / TABLE_NAME).write_text("# mine\n27.64.0.0/12 131429 mobifone\n", "utf-8")
    assert load_table(tmp_path).carrier_of("27.72.1.9") == "mobifone"
    assert load_table(tmp_path / "absent").carrier_of("27.72.1.9") == "viettel"


def test_bad_lines_are_named(tmp_path: Path) -> None:
    with pytest.raises(PrefixTableError, match=r"line 2: .*does not appear to be"):
        PrefixTable.parse("# h\n300.1.0.0/16 7552 viettel\n", "t.txt")
    (tmp_path / "x.json").write_text('{"asn": 7552, "subnets": {"ipv4": ["nope"]}}', "utf-8")
    with pytest.raises(PrefixTableError, match=r"x\.json: not an announced-prefix file"):
        build_table(tmp_path, built_on=date(2026, 12, 5))


def test_admin_rebuilds_the_table_with_the_cli(realdata: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from lomsong.cli import main

    monkeypatch.setenv("LOMSONG_DATA_DIR", str(tmp_path))
    assert main(["phone", "prefixes", str(realdata / "asn")]) == 0
    assert load_table(tmp_path).carrier_of("116.100.200.1") == "viettel"
    assert main(["phone", "prefixes", str(tmp_path / "empty")]) == 1


def test_the_cli_loads_no_server_libraries_for_the_phone_commands() -> None:
    import subprocess
    import sys

    code = ("import sys; from lomsong.cli import build_parser; build_parser();"
            " print(sorted(m for m in ('fastapi', 'psycopg', 'segno', 'reportlab')"
            " if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == "[]"
