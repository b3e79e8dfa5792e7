"""Raster tiles under the static map from a real HTTP tile server on a loopback socket: drawn,
credited, cached on disk (a rebuild needs no server), bad tiles refused naming the URL."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tileserver import tile_server

from lomsong.maps.report_input import ReportInput
from lomsong.maps.static import render_static_map
from lomsong.maps.tiles import TileError, TileSource

MAGENTA = (255, 0, 255)


@pytest.fixture
def served() -> Iterator[tuple[str, list[str]]]:
    with tile_server(MAGENTA) as both:
        yield both


@pytest.fixture
def server(served: tuple[str, list[str]]) -> str:
    return served[0]


@pytest.fixture
def asked(served: tuple[str, list[str]]) -> list[str]:
    return served[1]


def _magenta(png: bytes) -> int:
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3).astype(int)
    return int((np.abs(rgb - MAGENTA).sum(axis=1) < 30).sum())


def test_tiles_drawn_credited_and_cached(survey: ReportInput, server: str, asked: list[str],
                                        tmp_path: Path) -> None:
    source = TileSource(f"{server}/{{z}}/{{x}}/{{y}}.png", "© Bản đồ nền thử nghiệm",
                        tmp_path / "cache")
    cells = survey.cells[survey.cells["carrier"] == "viettel"]
    without = render_static_map(cells, dpi=60)
    png = render_static_map(cells, dpi=60, tiles=source)
    assert _magenta(without) == 0 and _magenta(png) > 2000
    fetched = len(asked)
    assert 1 <= fetched <= 36 and all(r.endswith(".png") for r in asked)
    assert len(list((tmp_path / "cache").rglob("*.png"))) == fetched
    asked.clear()
    assert render_static_map(cells, dpi=60, tiles=source) == png   # from the cache
    assert asked == []


def test_bad_tiles_and_settings_are_refused(survey: ReportInput, server: str,
                                            tmp_path: Path) -> None:
    cells = survey.cells[survey.cells["carrier"] == "viettel"]
    bad = TileSource(f"{server}/bad/{{z}}/{{x}}/{{y}}.png", "© x", tmp_path)
    with pytest.raises(TileError, match=r"/bad/\d+/\d+/\d+\.png: not an image"):
        render_static_map(cells, dpi=40, tiles=bad)
    assert not list(tmp_path.rglob("*.png"))                        # nothing bad cached
    with pytest.raises(TileError, match="must contain"):
        TileSource(f"{server}/tiles.png", "© x", tmp_path)
    with pytest.raises(TileError, match="http:// or https://"):
        TileSource("file:///etc/{z}/{x}/{y}", "© x", tmp_path)
    with pytest.raises(TileError, match="attribution"):
        TileSource(f"{server}/{{z}}/{{x}}/{{y}}.png", " ", tmp_path)


def test_report_command_with_tiles(survey: ReportInput, server: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess

    from lomsong.cli import main

    gpkg = tmp_path / "survey.gpkg"
    for layer, field in (("cells", "cells"), ("weak_areas", "weak_areas"),
                         ("service_points", "scorecards"), ("proposals", "proposals")):
        getattr(survey, field).to_file(gpkg, layer=layer, driver="GPKG")
    out = tmp_path / "r.pdf"
    argv = ["report", "--input", str(gpkg), "--carrier", "viettel", "--from", "2026-11-01",
            "--to", "2026-11-30", "--ward", "Phường Hoàn Kiếm", "--out", str(out),
            "--tiles", f"{server}/{{z}}/{{x}}/{{y}}.png", "--tiles-cache", str(tmp_path / "c")]
    assert main(argv) == 2
    assert "--tiles: máy chủ ảnh nền không hợp lệ" in capsys.readouterr().err   # no attribution
    assert main([*argv, "--tiles-attribution", "© Nền thử"]) == 0
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(out), str(tmp_path / "page")],
                   check=True, timeout=60)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert any(_magenta(p.read_bytes()) > 500 for p in pages)       # the map page shows tiles
