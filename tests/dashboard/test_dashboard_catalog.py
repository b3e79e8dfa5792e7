"""Every message the dashboard shows (Python and templates) is in both catalogs."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from lomsong.maps.i18n import catalog_path

DASHBOARD = Path(__file__).resolve().parents[2] / "collector" / "dashboard"


def _used() -> set[str]:
    found = extract_from_dir(
        str(DASHBOARD),
        method_map=[("**.py", "python"), ("templates/**.html", "jinja2.ext:babel_extract")],
        keywords={"_": None, "N_": None})
    return {message for _file, _line, message, _comments, _context in found}


def test_dashboard_messages_are_translated() -> None:
    used = _used()
    assert len(used) > 80
    for lang in ("vi", "en"):
        with catalog_path(lang).open("rb") as stream:
            catalog = {m.id: m.string for m in read_po(stream) if m.id}
        missing = sorted(m for m in used if not catalog.get(m))
        assert missing == [], f"{lang}: {missing}"
