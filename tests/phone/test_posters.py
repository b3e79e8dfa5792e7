"""QR posters: rendered to images with poppler and the QR code read back with zxing-cpp."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from lomsong.collector.phone.enrol import check_token, verify_signature
from lomsong.collector.phone.posters import poster_filename, poster_pdf
from lomsong.collector.storage.enrolments import get_enrolment

from .conftest import SECRET, SITES, WARD

zxingcpp = pytest.importorskip("zxingcpp")
Image = pytest.importorskip("PIL.Image")
pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None,
                                reason="pdftoppm missing (apt-get install poppler-utils)")
TOOL_TIMEOUT_S = 60


def _read(pdf: Path) -> tuple[list[str], str]:
    """The QR codes found on the page rendered at 100 dpi, and the page's text."""
    subprocess.run(["pdftoppm", "-r", "100", "-png", "-singlefile", str(pdf),
                    str(pdf.with_suffix(""))], check=True, timeout=TOOL_TIMEOUT_S)
    image = Image.open(pdf.with_suffix(".png"))
    assert image.size == (827, 1170)  # A4 at 100 dpi
    codes = [r.text for r in zxingcpp.read_barcodes(image)
             if r.format == zxingcpp.BarcodeFormat.QRCode]
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=TOOL_TIMEOUT_S).stdout
    return codes, text


def test_poster_holds_the_link_the_place_and_the_steps(tmp_path: Path) -> None:
    link = "https://thu.example.vn/do?t=e1.12.1900000000.AbCdEfGhIjKlMnOpQrStUv"
    pdf = tmp_path / "p.pdf"
    pdf.write_bytes(poster_pdf("Bưu điện văn hóa <b>&</b>", WARD, link))
    codes, text = _read(pdf)
    assert codes == [link]
    assert "Bưu điện văn hóa <b>&</b>" in text
    assert "Đo sóng điện thoại tại đây" in text and "Quét mã QR" in text
    english = tmp_path / "en.pdf"
    english.write_bytes(poster_pdf("UBND", WARD, link, "en"))
    assert "Scan the QR code" in _read(english)[1]


@pytest.mark.parametrize(("site_id", "name"), [("ubnd", "poster-ubnd.pdf"),
                                               ("../a/b c", "poster-_a_b_c.pdf")])
def test_poster_file_names_are_safe(site_id: str, name: str) -> None:
    assert poster_filename(site_id) == name


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_cli_makes_one_poster_per_service_point(ward: psycopg.Connection[Any], migrated_url: str,
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from lomsong.cli import main

    monkeypatch.setenv("LOMSONG_DATABASE_URL", migrated_url)
    monkeypatch.setenv("LOMSONG_SECRET_KEY", SECRET)
    assert main(["posters", "--ward", WARD, "--out", str(tmp_path),
                 "--base-url", "https://thu.example.vn"]) == 0
    for site in SITES:
        codes, text = _read(tmp_path / poster_filename(site.site_id))
        assert site.name in text
        assert len(codes) == 1 and codes[0].startswith("https://thu.example.vn/do?t=e1.")
        token = codes[0].split("t=", 1)[1]
        granted = check_token(SECRET, token, get_enrolment(ward, verify_signature(SECRET, token)[0]),
                              datetime.now(UTC))
        assert (granted.ward, granted.site_id) == (WARD, site.site_id)
    assert main(["posters", "--ward", "Phường Khác", "--out", str(tmp_path)]) == 1


@pytest.mark.parametrize("db_server", ["plain"], indirect=True)
def test_admin_page_offers_the_poster_of_each_service_point(
        ward: psycopg.Connection[Any], migrated_url: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from lomsong.collector.app import create_app
    from lomsong.collector.settings import Settings
    from tests.dashboard.conftest import ADMIN, OFFICER, add_users, csrf_of, sign_in

    add_users(ward)
    settings = Settings(database_url=migrated_url, pool_min_size=1, pool_max_size=2,
                        secret_key=SECRET)
    with TestClient(create_app(settings), follow_redirects=False,
                    base_url="https://thu.example.vn") as client:
        assert sign_in(client, ADMIN).status_code == 303
        page = client.get("/admin").text
        assert page.count('action="/admin/posters"') == len(SITES)
        answer = client.post("/admin/posters", data={"site_id": "bdvh",
                                                     "csrf_token": csrf_of(page)})
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
        assert 'filename="poster-bdvh.pdf"' in answer.headers["content-disposition"]
        pdf = tmp_path / "admin.pdf"
        pdf.write_bytes(answer.content)
        codes, text = _read(pdf)
        assert codes[0].startswith("https://thu.example.vn/do?t=e1.") and SITES[1].name in text
        assert client.post("/admin/posters", data={"site_id": "bdvh"}).status_code == 403
        assert client.post("/admin/posters", data={
            "site_id": "nowhere", "csrf_token": csrf_of(page)}).status_code == 404
        client.post("/logout", data={"csrf_token": csrf_of(page)})
        client.cookies.clear()
        assert sign_in(client, OFFICER).status_code == 303
        officer_page = client.get("/map").text
        refused = client.post("/admin/posters", data={"site_id": "bdvh",
                                                      "csrf_token": csrf_of(officer_page)})
        assert refused.status_code == 403
