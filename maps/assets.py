"""Vendored Leaflet assets: local URLs for folium's template, or inlined for a standalone file.

folium's map template loads its scripts and style sheets from public CDNs; the officer's browser
may have no internet, so every one of them is replaced by a file under ``maps/assets/vendor``
(see its README for packages, versions and licences). The collector serves that folder at
`asset_base_url`; `inline_assets` instead copies each file into the HTML (images and fonts
referenced by the style sheets become ``data:`` URIs), so a map works opened from a file.

Example
-------
>>> js, css = asset_links("/static/vendor")
>>> js[0]
('leaflet', '/static/vendor/leaflet/leaflet.js')
"""

from __future__ import annotations

import base64
import mimetypes
import re
from pathlib import Path

__all__ = ["CSS_FILES", "JS_FILES", "VENDOR_DIR", "asset_links", "inline_assets"]

VENDOR_DIR = Path(__file__).with_name("assets") / "vendor"

# Same names and order as folium's Map.default_js / default_css, so folium keeps one link each;
# then lomsong's own script.
JS_FILES: tuple[tuple[str, str], ...] = (
    ("leaflet", "leaflet/leaflet.js"),
    ("jquery", "jquery/jquery.min.js"),
    ("bootstrap", "bootstrap/js/bootstrap.bundle.min.js"),
    ("awesome_markers", "leaflet.awesome-markers/leaflet.awesome-markers.js"),
    ("lomsong_map", "lomsong/map.js"),  # lomsong's own: draws the map's JSON data
)
CSS_FILES: tuple[tuple[str, str], ...] = (
    ("leaflet_css", "leaflet/leaflet.css"),
    ("bootstrap_css", "bootstrap/css/bootstrap.min.css"),
    ("awesome_markers_font_css", "fontawesome-free/css/all.min.css"),
    ("awesome_markers_css", "leaflet.awesome-markers/leaflet.awesome-markers.css"),
)

_SCRIPT_RE = re.compile(r'<script src="(?P<url>[^"]+)"></script>')
_LINK_RE = re.compile(r'<link rel="stylesheet" href="(?P<url>[^"]+)"\s*/>')
_CSS_URL_RE = re.compile(r"url\((?P<quote>['\"]?)(?P<ref>[^'\")]+)(?P=quote)\)")


def asset_links(asset_base_url: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(default_js, default_css) for a folium map whose assets are served at `asset_base_url`."""
    base = asset_base_url.rstrip("/")
    return (
        [(name, f"{base}/{path}") for name, path in JS_FILES],
        [(name, f"{base}/{path}") for name, path in CSS_FILES],
    )


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or (
        "font/woff2" if path.suffix == ".woff2" else "application/octet-stream"
    )
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _inline_css(path: Path) -> str:
    """The style sheet at `path` with each local file it references turned into a data URI.

    Each file is embedded once, at its first reference: Font Awesome declares the same font
    under several family names (its version 4 and 5 aliases), which the map never uses, and
    embedding every alias would triple the file. Later references, and references to files that
    are not vendored (the ``.ttf`` fallbacks after ``.woff2``), stay relative; a browser asks for
    them only if a page uses those aliases, and then only beside the file, never the internet.
    """
    embedded: set[Path] = set()

    def replace(match: re.Match[str]) -> str:
        ref = match.group("ref")
        target = (path.parent / ref).resolve()
        if ref.startswith(("data:", "#")) or not target.is_file() or target in embedded:
            return match.group(0)
        embedded.add(target)
        return f"url({_data_uri(target)})"

    return _CSS_URL_RE.sub(replace, path.read_text(encoding="utf-8"))


def _local_file(url: str, base: str) -> Path:
    if not url.startswith(base + "/"):
        raise ValueError(f"asset {url!r} is not under the asset base {base!r}")
    path = (VENDOR_DIR / url[len(base) + 1:]).resolve()
    if VENDOR_DIR.resolve() not in path.parents or not path.is_file():
        raise ValueError(f"asset {url!r} is not a vendored file")
    return path


def inline_assets(html: str, asset_base_url: str) -> str:
    """Replace each ``<script src>``/``<link>`` under `asset_base_url` by the file's content.

    Raises ``ValueError`` if the page links a script or style sheet from anywhere else, since the
    result is meant to work from a file with no network.
    """
    base = asset_base_url.rstrip("/")

    def script(match: re.Match[str]) -> str:
        code = _local_file(match.group("url"), base).read_text(encoding="utf-8")
        return "<script>" + code.replace("</script", "<\\/script") + "</script>"

    def style(match: re.Match[str]) -> str:
        css = _inline_css(_local_file(match.group("url"), base))
        return "<style>" + css.replace("</style", "<\\/style") + "</style>"

    return _SCRIPT_RE.sub(script, _LINK_RE.sub(style, html))
