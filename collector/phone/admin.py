"""The admin page's poster download: a fresh enrolment link for a service point, as a QR poster.

Posting the form (CSRF-checked, admins only) issues a new link valid for `POSTER_DAYS`, scoped to
the ward and the service point, and answers the poster's PDF. The link's address is the one the
admin's browser used to reach the collector.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Final

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from lomsong.collector.dashboard.web import AdminUser, CsrfChecked, Lang, WardScope
from lomsong.collector.deps import PoolDep, SettingsDep
from lomsong.collector.errors import StorageError
from lomsong.collector.phone.enrol import sign_token
from lomsong.collector.phone.posters import poster_filename, poster_pdf
from lomsong.collector.storage.enrolments import create_enrolment
from lomsong.collector.storage.sites import get_ward, list_sites

__all__ = ["POSTER_DAYS", "router"]

POSTER_DAYS: Final = 365

router = APIRouter(prefix="/admin", tags=["dashboard"], include_in_schema=False)


@router.post("/posters", dependencies=[CsrfChecked])
async def poster(request: Request, user: AdminUser, lang: Lang, pool: PoolDep,
                 settings: SettingsDep, scope: WardScope,
                 site_id: Annotated[str, Form(min_length=1, max_length=64)]) -> Response:
    """The QR poster (PDF) of a new link for service point `site_id`."""
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=POSTER_DAYS)

    def issue() -> tuple[str, str, int]:
        with pool.connection() as conn:
            ward = get_ward(conn, scope)
            site = next((s for s in list_sites(conn, scope) if s.site_id == site_id), None)
            if ward is None or site is None:
                raise HTTPException(404, detail="no such service point, or the ward is not set")
            made = create_enrolment(conn, ward=ward.name, site_id=site.site_id,
                                    label=f"poster by {user.username}", expires_at=expires,
                                    scope=scope)
        return ward.name, site.name, made.id

    try:
        ward_name, site_name, enrolment_id = await run_in_threadpool(issue)
    except StorageError as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    token = sign_token(settings.secret_key, enrolment_id, int(expires.timestamp()))
    link = f"{str(request.base_url).rstrip('/')}/do?t={token}"
    pdf = await run_in_threadpool(poster_pdf, site_name, ward_name, link, lang)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{poster_filename(site_id)}"',
        "Cache-Control": "no-store"})
