"""probe.toml loading: the shipped example, token files, and errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from lomsong.probe.config import load_config, parse_config, split_host_port
from lomsong.probe.errors import ConfigError
from lomsong.probe.record import Access, Carrier, Setting
from lomsong.probe.spool import SpoolPolicy

EXAMPLE = Path(__file__).resolve().parents[2] / "probe" / "probe.example.toml"
HEAD = '[probe]\nid = "pi-1"\n[collector]\nurl = "http://c.invalid"\ntoken = "s3cret-token"\n'


def test_example_three_sims_and_a_fixed_line(tmp_path: Path) -> None:
    cfg = load_config(EXAMPLE)
    assert cfg.probe.id == "pi-ubnd-phuc-xa-01"
    assert [(p.carrier, p.access, p.interface) for p in cfg.paths] == [
        (Carrier.VIETTEL, Access.LTE, "wwan0"),
        (Carrier.VNPT, Access.LTE, "wwan1"),
        (Carrier.MOBIFONE, Access.LTE, "wwan2"),
        (Carrier.FPT, Access.FIXED, "eth0"),
    ]
    fixed = cfg.paths[3]
    assert (fixed.iperf3_host, fixed.iperf3_port, fixed.plan_down_mbps) == (
        "iperf.phuong.invalid", 5202, 150.0
    )  # fmt: skip
    assert cfg.paths[0].bytes_cap == 60_000_000 and cfg.paths[0].directions == ("down", "up")
    assert cfg.spool.policy is SpoolPolicy.DROP_OLDEST and cfg.spool.path is None
    assert cfg.site is not None and cfg.site.setting is Setting.INDOOR
    assert cfg.site.name == "UBND phường Phúc Xá (bộ phận một cửa)"
    # token_file is relative to the config file
    with pytest.raises(ConfigError, match=r"collector\.token_file: cannot read"):
        cfg.token()
    copy = tmp_path / "probe.toml"
    copy.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "collector.token").write_text("abc-123-token\n")
    assert load_config(copy).token() == "abc-123-token"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (HEAD + '[[path]]\nname = "a"\niperf3 = "h:99999"\n', r"path\[0\]\.iperf3: .*bad port"),
        (HEAD + '[[path]]\nname = "a"\niperf3 = "h"\ncarrier = "vinafone"\n', r"path\[0\]\.carrier"),
        (HEAD + "[spool]\npolicy = 'keep_all'\n", r"spool\.policy"),
        (HEAD + "[spool]\nmax_row = 5\n", r"spool\.max_row: Extra inputs"),
        ('[probe]\nid = "pi 1"\n', r"probe\.id: .*pattern.*collector: Field required"),
        (HEAD.replace('token = "s3cret-token"', ""), r"collector: .*token or token_file"),
        ("[probe\n", r"not valid TOML"),
    ],
)
def test_errors_name_file_and_key(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=r"^/etc/lomsong/probe\.toml: .*" + match):
        parse_config(text, source="/etc/lomsong/probe.toml")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: cannot read the probe config"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("h", ("h", 5201)), ("h:7", ("h", 7)), ("[fd00::1]", ("fd00::1", 5201)), ("fd00::1", ("fd00::1", 5201))],
)
def test_split_host_port(value: str, expected: tuple[str, int]) -> None:
    assert split_host_port(value) == expected
