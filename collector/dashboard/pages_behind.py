"""The measurements behind a cell, a weak area or a service point: a page, CSV and GeoJSON.

``/measurements?target=cell|area|site&id=...`` lists them newest first, `behind.PAGE_SIZE` a
page (keyset: ``after`` is the opaque position of the last row shown), filtered by carrier,
technology, time window, outcome and period (``from``/``to``, the dashboard's one period
parser); ``/measurements.csv`` and ``/measurements.geojson`` export the same selection, read in
one pass into a temporary file and streamed from it, at most `behind.EXPORT_MAX_ROWS` rows (the
newest; ``X-Lomsong-Truncated`` and the GeoJSON's ``truncated`` say when the file was cut).
Links come from the map's cell, weak-area and service-point popups, the weak-area table and the
service-point table. The ward is the
signed-in account's (`web.WardScope`), applied in the SQL.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from lomsong.collector.dashboard import behind
from lomsong.collector.dashboard.behind_export import csv_chunks, geojson_chunks, geojson_tail
from lomsong.collector.dashboard.pages_map import load_survey, period_of
from lomsong.collector.dashboard.survey import Period
from lomsong.collector.dashboard.web import CurrentUser, Lang, Page, WardScope, render
from lomsong.collector.storage.measurements import decode_cursor, encode_cursor
from lomsong.collector.storage.scope import Scope
from lomsong.maps.i18n import N_, translator
from lomsong.maps.labels import label

__all__ = ["ERROR_KINDS", "KINDS", "POSITION_SOURCES", "behind_href", "router"]

router = APIRouter(tags=["dashboard"], include_in_schema=False)
_CODE = "^[a-z0-9_]{1,20}$"
TargetQuery = Annotated[str, Query(pattern="^(cell|area|site)$")]
IdQuery = Annotated[str, Query(alias="id", min_length=1, max_length=64)]
CodeQuery = Annotated[str | None, Query(pattern=_CODE)]
WindowQuery = Annotated[str | None, Query(pattern="^(all|peak|offpeak)$")]
OutcomeQuery = Annotated[str, Query(pattern="^(all|failed|ok)$")]
FromQuery = Annotated[str | None, Query(alias="from", max_length=40)]
ToQuery = Annotated[str | None, Query(alias="to", max_length=40)]
AfterQuery = Annotated[str | None, Query(max_length=200)]

# probe.record codes as the page names them.
KINDS = {"throughput_down": N_("Download"), "throughput_up": N_("Upload"),
         "latency": N_("Latency"), "udp_quality": N_("UDP quality"), "dns": N_("DNS lookup"),
         "web_page": N_("Web page"), "radio_snapshot": N_("Radio reading")}
ERROR_KINDS = {
    "no_service": N_("No service"), "attach_failed": N_("Could not attach to the network"),
    "timeout": N_("Timed out"), "connection_refused": N_("Connection refused"),
    "dns_failure": N_("DNS failure"), "network_unreachable": N_("Network unreachable"),
    "server_busy": N_("Test server busy"), "tls_failure": N_("TLS failure"),
    "http_error": N_("HTTP error"), "interrupted": N_("Interrupted"),
    "budget_exhausted": N_("Data budget used up"), "tool_missing": N_("Test tool missing"),
    "tool_error": N_("Test tool error"), "parse_error": N_("Unreadable tool output"),
    "modem_error": N_("Modem error")}
POSITION_SOURCES = {"site": N_("Service point (fixed)"), "gps": N_("GPS"),
                    "gpx_match": N_("Matched to a GPX track"), "import": N_("Imported"),
                    "browser": N_("Browser location"), "none": N_("No position")}
_ACTIVE = {"cell": "map", "area": "weak", "site": "sites"}
# An export is written to a temporary file (memory up to this size, then disk), then streamed.
_SPOOL_BYTES = 8 * 1024 * 1024
_CHUNK_BYTES = 256 * 1024


def behind_href(target: str, ident: str, period: Period, **filters: str | None) -> str:
    """The link to the measurements behind a target (``/measurements?...``)."""
    query = {"target": target, "id": ident, "from": period.first.isoformat(),
             "to": period.last.isoformat(), **filters}
    return "/measurements?" + urlencode({k: v for k, v in query.items() if v})


def _ask(target: str, ident: str, carrier: str | None, access: str | None,
         window: str | None, outcome: str) -> behind.Ask:
    return behind.Ask(target, ident.strip(), carrier or None, access or None, window or None,
                      outcome)


async def _resolve(request: Request, scope: Scope, ask: behind.Ask, period: Period,
                   ) -> tuple[behind.Target, Any]:
    survey = await load_survey(request, period, scope)
    return await run_in_threadpool(behind.resolve, survey, ask), survey


def _query(target: behind.Target, period: Period, **more: str | None) -> str:
    a = target.ask
    query = {"target": a.target, "id": a.ident, "carrier": None if target.fixed else a.carrier,
             "access": None if target.fixed else a.access, "window": a.window,
             "outcome": None if a.outcome == "all" else a.outcome,
             "from": period.first.isoformat(), "to": period.last.isoformat(), **more}
    return urlencode({k: v for k, v in query.items() if v})


@router.get("/measurements", response_class=HTMLResponse)
async def measurements_page(
    request: Request, user: CurrentUser, scope: WardScope, lang: Lang, target: TargetQuery,
    ident: IdQuery, carrier: CodeQuery = None, access: CodeQuery = None,
    window: WindowQuery = None, outcome: OutcomeQuery = "all", first: FromQuery = None,
    last: ToQuery = None, after: AfterQuery = None,
) -> HTMLResponse:
    page = Page(request, lang, user, _ACTIVE.get(target, "map"))
    _ = translator(lang)
    period = period_of(first, last, lang=lang)
    if isinstance(period, str):
        return render(page, "error.html", 422, message=period)
    try:
        position = decode_cursor(after) if after else None
        resolved, survey = await _resolve(
            request, scope, _ask(target, ident, carrier, access, window, outcome), period)
    except behind.NotFound:
        return render(page, "error.html", 404,
                      message=_("This weak area or service point is not in the analysis of "
                                "this period."))
    except ValueError:
        return render(page, "error.html", 422,
                      message=_("This link is not valid; open it again from the map or a "
                                "table."))
    pool = request.app.state.pool
    rows, following = await run_in_threadpool(behind.page, pool, resolved, scope, position)
    counted, capped = await run_in_threadpool(behind.counts, pool, resolved, scope)
    query = _query(resolved, period)
    return render(
        page, "measurements.html", target=resolved, rows=rows, counts=counted, capped=capped,
        period=period, survey=survey, query=query,
        next_href=(f"/measurements?{_query(resolved, period, after=encode_cursor(*following))}"
                   if following else None),
        first_href=f"/measurements?{query}" if after else None,
        page_size=behind.PAGE_SIZE, export_max=behind.EXPORT_MAX_ROWS,
        count_max=behind.COUNT_SCAN_MAX_ROWS, windows=("all", "peak", "offpeak"),
        outcomes=(("all", _("All tests")), ("failed", _("Failed tests only")),
                  ("ok", _("Successful tests only"))),
        kind=lambda code: _(KINDS[code]) if code in KINDS else str(code),
        failure=lambda code: (_(ERROR_KINDS[code]) if code in ERROR_KINDS else str(code))
        if code else "",
        placed=lambda code: _(POSITION_SOURCES[code]) if code in POSITION_SOURCES else str(code),
        site_label=lambda code: label("site_type", str(code), _),
    )


# Exports read up to `behind.EXPORT_MAX_ROWS` rows on a pooled connection: a few at a time, so
# exports can never take the connections probes upload through.
EXPORTS_AT_ONCE = 2
_EXPORT_WAIT_S = 20.0
_EXPORTS = threading.BoundedSemaphore(EXPORTS_AT_ONCE)


class _Busy(Exception):
    """Every export slot stayed taken for `_EXPORT_WAIT_S`."""


def _export_rows(pool: Any, resolved: Any, scope: Scope,
                 write: Callable[[Iterator[dict[str, Any]]], None]) -> bool:
    if not _EXPORTS.acquire(timeout=_EXPORT_WAIT_S):
        raise _Busy
    try:
        cut: bool = behind.export(pool, resolved, scope, write)
        return cut
    finally:
        _EXPORTS.release()


async def _export(request: Request, scope: Scope, lang: str, ask: behind.Ask,
                  first: str | None, last: str | None, suffix: str) -> Response:
    period = period_of(first, last, lang=lang)
    if isinstance(period, str):
        return Response(period, status_code=422, media_type="text/plain; charset=utf-8")
    try:
        resolved, _survey = await _resolve(request, scope, ask, period)
    except behind.NotFound as exc:
        return Response(f"not found: {exc}", status_code=404, media_type="text/plain")
    except ValueError as exc:
        return Response(str(exc), status_code=422, media_type="text/plain")
    name = (f"lomsong-{ask.target}-{_safe_name(resolved.ask.ident)}-"
            f"{period.first:%Y%m%d}-{period.last:%Y%m%d}.{suffix}")
    file = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (streamed below)

    def write(rows: Iterator[dict[str, Any]]) -> None:
        chunks = csv_chunks(rows) if suffix == "csv" else geojson_chunks(rows)
        for chunk in chunks:
            file.write(chunk)

    try:
        cut = await run_in_threadpool(_export_rows, request.app.state.pool, resolved, scope,
                                      write)
    except _Busy:
        file.close()
        return Response("too many exports at once; try again in a minute", status_code=503,
                        media_type="text/plain", headers={"Retry-After": "30"})
    except BaseException:
        file.close()
        raise
    if suffix == "geojson":
        file.write(geojson_tail(behind.EXPORT_MAX_ROWS, cut))
    file.seek(0)

    def stream() -> Iterator[bytes]:
        with file:
            while chunk := file.read(_CHUNK_BYTES):
                yield chunk

    media = "text/csv; charset=utf-8" if suffix == "csv" else "application/geo+json"
    return StreamingResponse(stream(), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
        "X-Lomsong-Row-Cap": str(behind.EXPORT_MAX_ROWS),
        "X-Lomsong-Truncated": "true" if cut else "false"})


def _safe_name(ident: str) -> str:
    """`ident` for a file name: letters, digits, ``-`` and ``_`` only."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in ident)[:64]


@router.get("/measurements.csv")
async def measurements_csv(
    request: Request, user: CurrentUser, scope: WardScope, lang: Lang, target: TargetQuery,
    ident: IdQuery, carrier: CodeQuery = None, access: CodeQuery = None,
    window: WindowQuery = None, outcome: OutcomeQuery = "all", first: FromQuery = None,
    last: ToQuery = None,
) -> Response:
    ask = _ask(target, ident, carrier, access, window, outcome)
    return await _export(request, scope, lang, ask, first, last, "csv")


@router.get("/measurements.geojson")
async def measurements_geojson(
    request: Request, user: CurrentUser, scope: WardScope, lang: Lang, target: TargetQuery,
    ident: IdQuery, carrier: CodeQuery = None, access: CodeQuery = None,
    window: WindowQuery = None, outcome: OutcomeQuery = "all", first: FromQuery = None,
    last: ToQuery = None,
) -> Response:
    ask = _ask(target, ident, carrier, access, window, outcome)
    return await _export(request, scope, lang, ask, first, last, "geojson")
