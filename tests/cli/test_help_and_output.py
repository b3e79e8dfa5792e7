"""Help texts say the right thing in both languages; numbers are rounded for people and CSV."""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point

from lomsong.analysis.export import write_csv
from lomsong.cli import build_parser
from lomsong.maps.i18n import format_number


def _subparser(parser: argparse.ArgumentParser, *path: str) -> argparse.ArgumentParser:
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def _helps(parser: argparse.ArgumentParser) -> dict[str, str]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {c.dest: c.help or "" for c in action._choices_actions}


def test_users_enable_and_disable_say_what_they_do() -> None:
    helps = _helps(_subparser(build_parser(), "users"))
    assert "ends their sessions" not in helps["enable"] and "mở khóa" in helps["enable"]
    assert "kết thúc các phiên" in helps["disable"] and "end their sessions" in helps["disable"]


def test_probes_and_readers_have_their_own_descriptions() -> None:
    helps = _helps(build_parser())
    assert helps["probes"] != helps["readers"]
    assert "đầu đo" in helps["probes"] and "API" in helps["readers"]


def test_schema_has_a_description() -> None:
    schema = _subparser(build_parser(), "schema")
    assert schema.description and "Measurement" in schema.description


@pytest.mark.parametrize("command", [
    ("serve",), ("db", "migrate"), ("db", "status"), ("probes", "add"), ("readers", "list"),
    ("users", "add"), ("users", "list"), ("analyze",), ("report",), ("demo",),
])
def test_every_database_command_has_a_bilingual_database_url(command: tuple[str, ...]) -> None:
    parser = _subparser(build_parser(), *command)
    option = next(a for a in parser._actions if "--database-url" in a.option_strings)
    assert option.help and "mặc định LOMSONG_DATABASE_URL" in option.help
    assert "default LOMSONG_DATABASE_URL" in option.help


def test_csv_numbers_have_no_binary_noise(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame({"down_median_mbps": [9.340000000000002, 22145.860104630887]},
                             geometry=[Point(105.8512345678, 21.0281234567)] * 2, crs=4326)
    text = write_csv(tmp_path / "cells.csv", frame).read_text(encoding="utf-8")
    assert "9.34," in text and "22145.8601," in text and "9.340000000000002" not in text
    assert "105.8512346" in text  # positions keep about a centimetre


def test_speeds_for_people_are_rounded_with_the_locale_separators() -> None:
    assert format_number(22145.860104630887, "vi", decimals=0) == "22.146"
    assert format_number(22145.860104630887, "en", decimals=0) == "22,146"
