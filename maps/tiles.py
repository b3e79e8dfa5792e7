"""Optional raster tiles under the static map, from a server the ward configures, cached on disk.

A `TileSource` names an XYZ tile server (``https://host/{z}/{x}/{y}.png``), the attribution its
licence requires (printed on the map) and a cache folder: a tile fetched once is read from disk
afterwards, so a report can be rebuilt offline. The zoom is the largest at which the map needs at
most `MAX_TILES` tiles. Tiles are Web Mercator; the map is drawn in UTM 48N, so the mosaic is
resampled pixel by pixel into the map's metres (no approximation by a rotated image).

Example
-------
>>> source = TileSource("https://tiles.example/{z}/{x}/{y}.png", "© Example", Path("cache"))
...                                                               # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import io
import math
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.transforms import Bbox
from PIL import Image, UnidentifiedImageError
from pyproj import Transformer

__all__ = ["MAX_TILES", "TileError", "TileSource", "draw_tiles"]

MAX_TILES = 36
MAX_TILE_BYTES = 2 << 20
TIMEOUT_S = 10.0
_SIZE = 256
_MAX_ZOOM = 19


class TileError(ValueError):
    """A tile server or tile that cannot be used; the message names the URL or setting."""


@dataclass(frozen=True)
class TileSource:
    """An XYZ tile server, its required attribution and the cache folder."""

    url: str
    attribution: str
    cache_dir: Path

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")) or len(self.url) > 500:
            raise TileError(f"tile URL must start with http:// or https:// (got {self.url!r:.80})")
        if not all(part in self.url for part in ("{z}", "{x}", "{y}")):
            raise TileError("tile URL must contain {z}, {x} and {y}")
        if not self.attribution.strip() or len(self.attribution) > 200:
            raise TileError("tiles need their attribution (1 to 200 characters)")

    def _cached(self, z: int, x: int, y: int) -> Path:
        key = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        return self.cache_dir / key / str(z) / str(x) / f"{y}.png"

    def tile(self, z: int, x: int, y: int) -> np.ndarray:
        """The tile as RGB pixels, from the cache or the server (then cached)."""
        data, where = self._fetch(z, x, y)
        return _decode(data, where)

    def tile_bytes(self, z: int, x: int, y: int) -> bytes:
        """The tile's file as the server sent it (checked to be a 256 x 256 image), from the cache
        or the server (then cached): what the dashboard hands its map, so the browser only ever
        asks the collector."""
        if not (0 <= z <= _MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
            raise TileError(f"no tile {z}/{x}/{y}: zoom 0-{_MAX_ZOOM}, x and y 0-{2**z - 1}")
        data, where = self._fetch(z, x, y)
        _decode(data, where)
        return data

    def _fetch(self, z: int, x: int, y: int) -> tuple[bytes, str]:
        path = self._cached(z, x, y)
        if path.is_file():
            return path.read_bytes(), str(path)
        url = self.url.format(z=z, x=x, y=y)
        request = urllib.request.Request(url, headers={"User-Agent": "lomsong-report"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                data = response.read(MAX_TILE_BYTES + 1)
        except (urllib.error.URLError, OSError) as exc:
            raise TileError(f"{url}: {exc}") from exc
        if len(data) > MAX_TILE_BYTES:
            raise TileError(f"{url}: tile larger than {MAX_TILE_BYTES} bytes")
        _decode(data, url)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{secrets.token_hex(4)}.part")
        partial.write_bytes(data)
        partial.replace(path)
        return data, url


def _decode(data: bytes, where: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.size != (_SIZE, _SIZE):
                raise TileError(f"{where}: tile of {image.size}, expected 256 x 256 pixels")
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise TileError(f"{where}: not an image ({exc})") from exc


def _xy(lon: np.ndarray, lat: np.ndarray, z: int) -> tuple[np.ndarray, np.ndarray]:
    """Global pixel coordinates of WGS 84 points at zoom `z` (Web Mercator)."""
    scale = _SIZE * 2**z
    x = (lon + 180.0) / 360.0 * scale
    rad = np.radians(lat)
    y = (1.0 - np.log(np.tan(rad) + 1.0 / np.cos(rad)) / math.pi) / 2.0 * scale
    return x, y


def draw_tiles(ax: mpl.axes.Axes, view: Bbox, metric_crs: int, source: TileSource,
               pixels: int = 900) -> None:
    """Resample the tiles covering `view` (metres in `metric_crs`) into the axes, under all."""
    to_wgs = Transformer.from_crs(metric_crs, 4326, always_xy=True)
    xs = np.linspace(view.x0, view.x1, pixels)
    ys = np.linspace(view.y1, view.y0, pixels)           # top row first
    gx, gy = np.meshgrid(xs, ys)
    lon, lat = to_wgs.transform(gx, gy)
    zoom = _MAX_ZOOM
    while zoom > 0:
        px, py = _xy(lon, lat, zoom)
        tiles_x = int(px.max() // _SIZE) - int(px.min() // _SIZE) + 1
        tiles_y = int(py.max() // _SIZE) - int(py.min() // _SIZE) + 1
        if tiles_x * tiles_y <= MAX_TILES:
            break
        zoom -= 1
    tx0, ty0 = int(px.min() // _SIZE), int(py.min() // _SIZE)
    mosaic = np.zeros((tiles_y * _SIZE, tiles_x * _SIZE, 3), dtype=np.uint8)
    for i in range(tiles_x):
        for j in range(tiles_y):
            mosaic[j * _SIZE:(j + 1) * _SIZE, i * _SIZE:(i + 1) * _SIZE] = source.tile(
                zoom, tx0 + i, ty0 + j)
    col = np.clip((px - tx0 * _SIZE).astype(int), 0, mosaic.shape[1] - 1)
    row = np.clip((py - ty0 * _SIZE).astype(int), 0, mosaic.shape[0] - 1)
    ax.imshow(mosaic[row, col], extent=(view.x0, view.x1, view.y0, view.y1), origin="upper",
              zorder=0, interpolation="bilinear")
