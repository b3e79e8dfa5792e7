"""The admin page of enrolment links: list, issue, revoke after confirmation; CSRF, admins only,
escaped output; a link issued there opens the phone page, and once revoked it does not."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from lomsong.collector.app import create_app
from lomsong.collector.settings import Settings
from lomsong.collector.storage.enrolments import get_enrolment, list_enrolments
from tests.dashboard.conftest import ADMIN, OFFICER, add_users, csrf_of, sign_in

from .conftest import SECRET, SITES

pytestmark = pytest.mark.parametrize("db_server", ["plain"], indirect=True)

HOSTILE = '<script>alert(1)</script>"${x}'
_NEW_LINK = re.compile(r'<code id="new-link">([^<]+)</code>')


@pytest.fixture
def client(ward: psycopg.Connection[Any], migrated_url: str) -> Iterator[TestClient]:
    add_users(ward)
    settings = Settings(database_url=migrated_url, pool_min_size=1, pool_max_size=2,
                        secret_key=SECRET)
    with TestClient(create_app(settings), follow_redirects=False,
                    base_url="https://thu.example.vn") as test_client:
        yield test_client


def _issue(client: TestClient, **form: str) -> Any:
    page = client.get("/admin/links").text
    return client.post("/admin/links", data={"days": "30", **form, "csrf_token": csrf_of(page)})


def test_issue_list_and_revoke_after_confirmation(client: TestClient,
                                                  ward: psycopg.Connection[Any]) -> None:
    assert sign_in(client, ADMIN).status_code == 303
    assert 'href="/admin/links"' in client.get("/admin").text
    empty = client.get("/admin/links?lang=en")
    assert empty.status_code == 200 and "No link issued yet." in empty.text
    assert empty.text.count("<option") == 1 + len(SITES)

    issued = _issue(client, site_id="bdvh", label=HOSTILE)
    assert issued.status_code == 200
    assert HOSTILE not in issued.text and str(escape(HOSTILE)) in issued.text
    assert str(escape(SITES[1].name)) in issued.text  # the service point's name, escaped
    (link,) = list_enrolments(ward)
    assert (link.site_id, link.label, link.revoked_at) == ("bdvh", HOSTILE, None)
    found = _NEW_LINK.search(issued.text)
    assert found is not None
    address = html.unescape(found.group(1))
    assert address.startswith(f"https://thu.example.vn/do?t=e1.{link.id}.")
    assert client.get(address.removeprefix("https://thu.example.vn")).status_code == 200

    listed = client.get("/admin/links").text
    assert str(escape(address)) in listed
    # Revoking asks first; the link still works until confirmed.
    asked = client.post("/admin/links/revoke", data={"enrolment_id": str(link.id),
                                                     "csrf_token": csrf_of(listed)})
    assert asked.status_code == 200 and 'id="confirm-revoke"' in asked.text
    assert str(escape(HOSTILE)) in asked.text and HOSTILE not in asked.text
    assert get_enrolment(ward, link.id).revoked_at is None  # type: ignore[union-attr]
    done = client.post("/admin/links/revoke", data={
        "enrolment_id": str(link.id), "confirm": "yes", "csrf_token": csrf_of(asked.text)})
    assert done.status_code == 303 and done.headers["location"] == "/admin/links?done=revoked"
    assert get_enrolment(ward, link.id).revoked_at is not None  # type: ignore[union-attr]
    assert client.get(address.removeprefix("https://thu.example.vn")).status_code != 200
    after = client.get("/admin/links?done=revoked&lang=en").text
    assert "The link was revoked." in after and str(escape(address)) not in after
    again = client.post("/admin/links/revoke", data={
        "enrolment_id": str(link.id), "confirm": "yes", "csrf_token": csrf_of(after)})
    assert again.status_code == 404 and f"no active link {link.id}" in again.text


def test_bad_forms_are_refused_and_name_the_field(client: TestClient,
                                                  ward: psycopg.Connection[Any]) -> None:
    assert sign_in(client, ADMIN).status_code == 303
    assert client.post("/admin/links", data={"days": "30"}).status_code == 403  # no CSRF token
    assert _issue(client, days="0").status_code == 422
    assert _issue(client, days="99999").status_code == 422
    assert _issue(client, label="x" * 201).status_code == 422
    unknown = _issue(client, site_id="nowhere")
    assert unknown.status_code == 409 and "no service point &#39;nowhere&#39;" in unknown.text
    assert list_enrolments(ward) == []
    page = client.get("/admin/links").text
    assert client.post("/admin/links/revoke", data={
        "enrolment_id": "abc", "csrf_token": csrf_of(page)}).status_code == 422


def test_only_admins_may_manage_links(client: TestClient, ward: psycopg.Connection[Any]) -> None:
    assert sign_in(client, OFFICER).status_code == 303
    assert client.get("/admin/links").status_code == 403
    page = client.get("/map").text
    assert client.post("/admin/links", data={"days": "30", "csrf_token": csrf_of(page)}
                       ).status_code == 403
    assert list_enrolments(ward) == []
