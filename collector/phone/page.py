"""The measurement page a volunteer opens from a QR code or a campaign link (``/do?t=...``).

The page is plain HTML; everything the script needs (the link, the suggested carrier, the test's
limits, the messages in the page's language) is in ``data-`` attributes escaped by Jinja, and the
script is a static file: no inline script, no data becoming code.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Final

import jinja2
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from lomsong.collector.dashboard.web import language_of
from lomsong.collector.deps import PoolDep
from lomsong.collector.phone.enrol import (
    TOKEN_MAX_CHARS,
    EnrolmentRejected,
    PhoneLimits,
    check_token,
    verify_signature,
)
from lomsong.collector.phone.prefixes import PrefixTable
from lomsong.collector.settings import Settings
from lomsong.collector.storage.enrolments import Enrolment, get_enrolment
from lomsong.collector.storage.scope import Scope
from lomsong.collector.storage.sites import list_sites
from lomsong.maps import i18n
from lomsong.maps.labels import label
from lomsong.probe.record import Carrier

__all__ = ["CARRIERS", "router"]

# The carriers a volunteer can choose (mobile networks first), in the page's order.
CARRIERS: Final = (Carrier.VIETTEL, Carrier.VNPT, Carrier.MOBIFONE, Carrier.VIETNAMOBILE,
                   Carrier.ITEL, Carrier.FPT, Carrier.CMC, Carrier.OTHER, Carrier.UNKNOWN)
_env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
                          autoescape=True, undefined=jinja2.StrictUndefined)

router = APIRouter(tags=["phone page"], include_in_schema=False)


def _lookup(pool: PoolDep, enrolment_id: int) -> tuple[Enrolment | None, str | None]:
    with pool.connection() as conn:
        found = get_enrolment(conn, enrolment_id, Scope.all_wards())  # the signed link
        site_name = None
        if found is not None and found.site_id is not None:
            sites = list_sites(conn, Scope.ward(found.ward_code))
            site_name = next((s.name for s in sites if s.site_id == found.site_id),
                             found.site_id)
    return found, site_name


@router.get("/do", response_class=HTMLResponse)
async def measure_page(
    request: Request, pool: PoolDep,
    t: Annotated[str, Query(max_length=TOKEN_MAX_CHARS)] = "",
) -> HTMLResponse:
    """The page, or a page saying why the link does not work (403) or must wait (429)."""
    lang = language_of(request)
    _ = i18n.translator(lang)
    settings: Settings = request.app.state.settings
    limits: PhoneLimits = request.app.state.phone_limits
    client = request.client.host if request.client else "unknown"
    error: str | None = None
    status = 200
    enrolment: Enrolment | None = None
    site_name: str | None = None
    if limits.per_address.take(client, now_s=time.monotonic()) > 0:
        error, status = _("Too many requests from this address; try again in a minute."), 429
    else:
        try:
            enrolment_id, _expiry = verify_signature(settings.secret_key, t)
            found, site_name = await run_in_threadpool(_lookup, pool, enrolment_id)
            enrolment = check_token(settings.secret_key, t, found, datetime.now(UTC))
        except EnrolmentRejected:
            status = 403
            error = _("This link does not work: it is wrong, expired or withdrawn."
                      " Ask the ward for a new one.")
    table: PrefixTable = request.app.state.phone_prefixes
    suggested = table.carrier_of(client) or Carrier.UNKNOWN.value
    html = _env.get_template("measure.html").render(
        _=_, label=lambda kind, code: label(kind, str(code), _), lang=lang, error=error,
        enrolment=enrolment, site_name=site_name, token=t, suggested=suggested,
        carriers=CARRIERS, target_mbps=request.app.state.phone_target_mbps,
        payload_max_bytes=settings.phone_payload_max_bytes,
        walk_interval_s=settings.phone_walk_interval_s,
        test_server=settings.phone_test_server_url or "",
        other_lang="en" if lang == "vi" else "vi",
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    if settings.phone_test_server_url is not None:
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            f"connect-src 'self' {settings.phone_test_server_url}; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    return response
