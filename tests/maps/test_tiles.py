"""Raster tiles under the static map from a real HTTP tile server on a loopback socket: drawn,
credited, cached on disk (a rebuild needs no server), bad tiles refused naming the URL."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image

from lomsong.maps.report_input import ReportInput
from lomsong.maps.static import render_static_map
from lomsong.maps.tiles import TileError, TileSource

MAGENTA = (255, 0, 255)


class _Tiles(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        if self.path.startswith("/bad/"):
            body, kind = b"<html>not a tile</html>", "text/html"
        else:
            buffer = io.BytesIO()
            Image.new("RGB", (256, 256), MAGENTA).save(buffer, format="PNG")
            body, kind = buffer.getvalue(), "image/png"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Tiles)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Tiles.requests.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


def _magenta(png: bytes) -> int:
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3).astype(int)
    return int((np.abs(rgb - MAGENTA).sum(axis=1) < 30).sum())


def test_tiles_drawn_credited_and_cached(survey: ReportInput, server: str, tmp_path: Path) -> None:
    source = TileSource(f"{server}/{{z}}/{{x}}/{{y}}.png", "© Bản đồ nền thử nghiệm",
                        tmp_path / "cache")
    cells = survey.cells[survey.cells["carrier"] == "viettel"]
    without = render_static_map(cells, dpi=60)
    png = render_static_map(cells, dpi=60, tiles=source)
    assert _magenta(without) == 0 and _magenta(png) > 2000
    fetched = len(_Tiles.requests)
    assert 1 <= fetched <= 36 and all(r.endswith(".png") for r in _Tiles.requests)
    assert len(list((tmp_path / "cache").rglob("*.png"))) == fetched
    _Tiles.requests.clear()
    assert render_static_map(cells, dpi=60, tiles=source) == png   # from the cache
    assert _Tiles.requests == []


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
