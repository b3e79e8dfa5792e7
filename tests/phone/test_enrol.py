"""Enrolment links: signed, expiring, revocable, scoped to the ward and a service point."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from lomsong.collector.errors import StorageError
from lomsong.collector.phone.enrol import (
    EnrolmentRejected,
    check_token,
    sign_token,
    verify_signature,
)
from lomsong.collector.storage.enrolments import (
    create_enrolment,
    get_enrolment,
    list_enrolments,
    revoke_enrolment,
)

from .conftest import SECRET, WARD

PLAIN = pytest.mark.parametrize("db_server", ["plain"], indirect=True)
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _issue(conn: psycopg.Connection[Any], site: str | None = "ubnd",
           expires: datetime = NOW + timedelta(days=30)) -> str:
    made = create_enrolment(conn, ward=WARD, site_id=site, label="poster", expires_at=expires)
    return sign_token(SECRET, made.id, int(expires.timestamp()))


def _check(conn: psycopg.Connection[Any], token: str, now: datetime = NOW) -> Any:
    enrolment_id, _ = verify_signature(SECRET, token)
    return check_token(SECRET, token, get_enrolment(conn, enrolment_id), now)


@PLAIN
def test_a_link_grants_its_ward_and_service_point(ward: psycopg.Connection[Any]) -> None:
    granted = _check(ward, _issue(ward))
    assert (granted.ward, granted.site_id) == (WARD, "ubnd")
    assert _check(ward, _issue(ward, site=None)).site_id is None


@PLAIN
def test_expired_link_is_refused(ward: psycopg.Connection[Any]) -> None:
    token = _issue(ward, expires=NOW + timedelta(hours=1))
    with pytest.raises(EnrolmentRejected, match="expired"):
        _check(ward, token, now=NOW + timedelta(hours=2))


@PLAIN
def test_revoked_link_is_refused(ward: psycopg.Connection[Any]) -> None:
    token = _issue(ward)
    enrolment_id, _ = verify_signature(SECRET, token)
    assert revoke_enrolment(ward, enrolment_id)
    assert not revoke_enrolment(ward, enrolment_id)
    with pytest.raises(EnrolmentRejected, match="revoked"):
        _check(ward, token)


@pytest.mark.parametrize("altered", [
    "e1.2.1900000000.{mac}",        # another link's id
    "e1.1.1900086400.{mac}",        # a later expiry
    "e1.1.1900000000.{forged}",     # a made-up signature
])
def test_altered_link_is_refused(altered: str) -> None:
    token = sign_token(SECRET, 1, 1_900_000_000)
    mac = token.rsplit(".", 1)[1]
    forged = ("B" if mac[0] == "A" else "A") + mac[1:]
    with pytest.raises(EnrolmentRejected, match="signature"):
        verify_signature(SECRET, altered.format(mac=mac, forged=forged))


def test_a_link_signed_with_another_key_is_refused() -> None:
    token = sign_token("another-collector-" + "x" * 32, 1, int(NOW.timestamp()) + 3600)
    with pytest.raises(EnrolmentRejected, match="signature"):
        verify_signature(SECRET, token)


@pytest.mark.parametrize("text", ["", "e1", "e1.0.1.AAAAAAAAAAAAAAAAAAAAAA", "x" * 60,
                                  "e1.1.1.<script>alert(1)</script>"])
def test_malformed_link_is_refused(text: str) -> None:
    with pytest.raises(EnrolmentRejected, match="malformed"):
        verify_signature(SECRET, text)


@PLAIN
def test_links_are_scoped_to_this_ward_and_its_service_points(
        ward: psycopg.Connection[Any]) -> None:
    with pytest.raises(StorageError, match="serves the ward"):
        create_enrolment(ward, ward="Phường Khác", site_id=None, label="", expires_at=NOW)
    with pytest.raises(StorageError, match="no service point 'nowhere'"):
        create_enrolment(ward, ward=WARD, site_id="nowhere", label="", expires_at=NOW)


@PLAIN
def test_cli_issues_lists_and_revokes(ward: psycopg.Connection[Any], migrated_url: str,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from lomsong.cli import main

    monkeypatch.setenv("LOMSONG_DATABASE_URL", migrated_url)
    monkeypatch.setenv("LOMSONG_SECRET_KEY", SECRET)
    assert main(["enrol", "issue", "--ward", WARD, "--site", "ubnd", "--days", "7",
                 "--base-url", "https://thu.example.vn/"]) == 0
    link = capsys.readouterr().out.splitlines()[1]
    assert link.startswith("https://thu.example.vn/do?t=e1.1.")
    granted = _check(ward, link.split("t=", 1)[1], now=datetime.now(UTC))
    assert granted.site_id == "ubnd"
    assert main(["enrol", "list"]) == 0
    assert "1\tactive\tPhường Đống Đa\tubnd" in capsys.readouterr().out
    assert main(["enrol", "revoke", "1"]) == 0
    assert main(["enrol", "revoke", "1"]) == 1
    assert [e.revoked_at is not None for e in list_enrolments(ward)] == [True]
    assert main(["enrol", "issue", "--ward", "Nowhere"]) == 1
    assert "serves the ward" in capsys.readouterr().err
