"""Downloads (CSV per layer, the survey GeoPackage) and the PDF report of the chosen period."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from lomsong.analysis.export import write_csv, write_geopackage
from lomsong.collector.dashboard.pages_map import load_survey, period_of
from lomsong.collector.dashboard.survey import Survey
from lomsong.collector.dashboard.web import CurrentUser, Lang, Page, WardScope, render
from lomsong.maps.codes import REPORT_CARRIERS
from lomsong.maps.i18n import LANGUAGES
from lomsong.maps.report import build_report

__all__ = ["LAYERS", "router"]

router = APIRouter(tags=["dashboard"], include_in_schema=False)
LAYERS = ("cells", "weak_areas", "service_points", "proposals", "gaps", "walk_route")
FromQuery = Annotated[str | None, Query(alias="from")]
ToQuery = Annotated[str | None, Query(alias="to")]


def _stem(survey: Survey) -> str:
    return f"lomsong-{survey.period.first:%Y%m%d}-{survey.period.last:%Y%m%d}"


def _geopackage_bytes(survey: Survey) -> bytes:
    """The survey's GeoPackage, made once per survey, so the file an officer downloads is the
    very file whose SHA-256 the PDF's annex lists."""

    def build() -> bytes:
        with tempfile.TemporaryDirectory(prefix="lomsong-gpkg-") as folder:
            path = Path(folder) / f"{_stem(survey)}.gpkg"
            write_geopackage(path, **survey.layers())
            return path.read_bytes()

    return survey.render_once(("gpkg",), build)


def _geopackage(survey: Survey, folder: Path) -> Path:
    """`_geopackage_bytes` written to `folder` (the PDF's annex checksums a file)."""
    path = folder / f"{_stem(survey)}.gpkg"
    path.write_bytes(_geopackage_bytes(survey))
    return path


def _attachment(data: bytes, filename: str, media_type: str) -> Response:
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


@router.get("/downloads", response_class=HTMLResponse)
async def downloads_page(request: Request, user: CurrentUser, scope: WardScope,
                         lang: Lang, first: FromQuery = None,
                         last: ToQuery = None) -> HTMLResponse:
    page = Page(request, lang, user, "downloads")
    period = period_of(first, last, lang=lang)
    if isinstance(period, str):
        return render(page, "error.html", 422, message=period)
    survey = await load_survey(request, period, scope)
    return render(page, "downloads.html", survey=survey, period=period, layers=LAYERS,
                  carriers=REPORT_CARRIERS, languages=LANGUAGES)


@router.get("/downloads/survey.gpkg")
async def download_geopackage(request: Request, user: CurrentUser, scope: WardScope, lang: Lang,
                              first: FromQuery = None,
                              last: ToQuery = None) -> Response:
    period = period_of(first, last, lang=lang)
    if isinstance(period, str):
        return Response(period, status_code=422, media_type="text/plain; charset=utf-8")
    survey = await load_survey(request, period, scope)

    data = await run_in_threadpool(_geopackage_bytes, survey)
    return _attachment(data, f"{_stem(survey)}.gpkg", "application/geopackage+sqlite3")


@router.get("/downloads/{layer}.csv")
async def download_csv(request: Request, user: CurrentUser, scope: WardScope, lang: Lang,
                       layer: str, first: FromQuery = None,
                       last: ToQuery = None) -> Response:
    if layer not in LAYERS:
        return Response(f"unknown layer {layer!r}", status_code=404, media_type="text/plain")
    period = period_of(first, last, lang=lang)
    if isinstance(period, str):
        return Response(period, status_code=422, media_type="text/plain; charset=utf-8")
    survey = await load_survey(request, period, scope)

    def build() -> bytes:
        with tempfile.TemporaryDirectory(prefix="lomsong-csv-") as folder:
            return write_csv(Path(folder) / "layer.csv", survey.result.layers()[layer]).read_bytes()

    data = await run_in_threadpool(build)
    return _attachment(data, f"{_stem(survey)}-{layer}.csv", "text/csv; charset=utf-8")


@router.get("/report.pdf")
async def report_pdf(
    request: Request, user: CurrentUser, scope: WardScope, lang: Lang,
    carrier: Annotated[str, Query(max_length=20)] = "all",
    report_lang: Annotated[str, Query(alias="report_lang", max_length=5)] = "vi",
    first: FromQuery = None, last: ToQuery = None,
) -> Response:
    """The PDF for one carrier, or `all` for the ward leadership's summary (Vietnamese default)."""
    if carrier not in REPORT_CARRIERS or report_lang not in LANGUAGES:
        return Response("unknown carrier or language", status_code=422, media_type="text/plain")
    period = period_of(first, last, lang=lang)
    if isinstance(period, str):
        return Response(period, status_code=422, media_type="text/plain; charset=utf-8")
    survey = await load_survey(request, period, scope)
    if not survey.ward_name.strip():
        return Response("chưa đặt tên phường: báo cáo gửi nhà mạng cần tên phường "
                        "(the ward has no name yet; a report to a carrier needs it)",
                        status_code=409, media_type="text/plain; charset=utf-8")

    def report() -> bytes:
        with tempfile.TemporaryDirectory(prefix="lomsong-report-") as folder:
            gpkg = _geopackage(survey, Path(folder))
            return build_report(
                survey.report_input, carrier=None if carrier == "all" else carrier,
                lang=report_lang, ward_name=survey.ward_name,
                period_start=survey.period.first, period_end=survey.period.last,
                exports=[gpkg])

    data = await run_in_threadpool(survey.render_once, ("pdf", carrier, report_lang), report)
    return _attachment(data, f"{_stem(survey)}-{carrier}-{report_lang}.pdf", "application/pdf")
