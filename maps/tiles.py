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
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.transforms import Bbox
from PIL import Image, UnidentifiedImageError
from pyproj import Transformer

__all__ = ["MAX_CACHED_TILES", "MAX_TILES", "TileError", "TileSource", "draw_tiles", "tile_lonlat"]

MAX_TILES = 36
MAX_TILE_BYTES = 2 << 20
TIMEOUT_S = 10.0
# At most this many tiles are kept per tile server (about 1 GB at 20 kB a tile); beyond it only
# cached tiles are served, so no one can fill the disk or bulk-download through the collector.
MAX_CACHED_TILES = 50_000
_FETCHES = threading.BoundedSemaphore(4)  # tiles fetched from servers at once, in this process
_COUNT_LOCK = threading.Lock()
_COUNTS: dict[Path, int] = {}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A tile server's redirect is an error: tiles come from the configured server only."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        raise urllib.error.HTTPError(req.full_url, code, f"redirect to {newurl!r:.80} refused",
                                     headers, fp)


_OPENER = urllib.request.build_opener(_NoRedirect)
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
        try:
            self.url.format(z=0, x=0, y=0)
        except (KeyError, IndexError, ValueError) as exc:
            raise TileError("tile URL may hold only {z}, {x} and {y} as placeholders "
                            f"(got {self.url!r:.80})") from exc
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
        folder = path.parents[2]
        if _cached_count(folder) >= MAX_CACHED_TILES:
            raise TileError(f"tile cache full ({MAX_CACHED_TILES} tiles in {folder}): "
                            f"{z}/{x}/{y} not fetched")
        url = self.url.format(z=z, x=x, y=y)
        request = urllib.request.Request(url, headers={"User-Agent": "lomsong-report"})
        if not _FETCHES.acquire(timeout=TIMEOUT_S):
            raise TileError(f"{url}: too many tiles being fetched")
        try:
            data = _download(request, url)
        finally:
            _FETCHES.release()
        _decode(data, url)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{secrets.token_hex(4)}.part")
        partial.write_bytes(data)
        partial.replace(path)
        with _COUNT_LOCK:
            _COUNTS[folder] = _COUNTS.get(folder, 0) + 1
        return data, url


def _download(request: urllib.request.Request, url: str) -> bytes:
    """The tile's bytes: no redirects, at most `MAX_TILE_BYTES`, all within `TIMEOUT_S` (each
    read is bounded too, so a server trickling bytes cannot hold the thread)."""
    deadline = time.monotonic() + TIMEOUT_S
    chunks: list[bytes] = []
    size = 0
    try:
        with _OPENER.open(request, timeout=TIMEOUT_S) as response:
            while size <= MAX_TILE_BYTES:
                if time.monotonic() > deadline:
                    raise TileError(f"{url}: slower than {TIMEOUT_S:g} s")
                chunk = response.read(64 << 10)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    except (urllib.error.URLError, OSError) as exc:
        raise TileError(f"{url}: {exc}") from exc
    if size > MAX_TILE_BYTES:
        raise TileError(f"{url}: tile larger than {MAX_TILE_BYTES} bytes")
    return b"".join(chunks)


def _cached_count(folder: Path) -> int:
    """Tiles kept under `folder` (counted on disk once per process, then kept up to date)."""
    with _COUNT_LOCK:
        if folder not in _COUNTS:
            _COUNTS[folder] = sum(
                1 for _root, _dirs, files in os.walk(folder) for f in files if f.endswith(".png"))
        return _COUNTS[folder]


def tile_lonlat(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees of the Web Mercator tile z/x/y."""
    n = 2.0**z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y)


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
