"""Open and overdue asks per ward and carrier on the city page and in its PDF (issue 16)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import psycopg
from fastapi.testclient import TestClient

from lomsong.collector.caseflow import Actor
from lomsong.collector.storage.cases import NewCase, create_case, move_case

from .conftest import DINH_CONG, DONG_DA, City
from .test_ward_scope import PERIOD, _text, sign_in


def _asks(url: str) -> None:
    """Đống Đa: two asks to MobiFone (one overdue: no reply by its date), a draft to Viettel;
    Định Công: one ask to Viettel, on time."""
    today = date.today()
    with psycopg.connect(url, autocommit=True) as conn:
        for seed, carrier, due in ((DONG_DA, "mobifone", -2), (DONG_DA, "mobifone", 5),
                                   (DINH_CONG, "viettel", 5)):
            officer = Actor.of(f"{seed.probe}.officer", "officer", seed.code, None)
            case_id = create_case(conn, NewCase(seed.code, carrier, "4g", "hỏi", "", None, 21.0,
                                                105.8, 150.0), officer)
            move_case(conn, case_id, "sent", officer, today, "", {
                "sent_on": today - timedelta(days=10), "document_no": "1/UBND",
                "reply_due_on": today + timedelta(days=due)})
        create_case(conn, NewCase(DONG_DA.code, "viettel", "4g", "nháp", "", None, 21.0, 105.8,
                                  150.0), Actor.of("x", "officer", DONG_DA.code, None))


def test_the_city_page_counts_open_and_overdue_asks(city_client: TestClient, city: City) -> None:
    _asks(city.url)
    sign_in(city_client, "city.officer")
    page = city_client.get(f"/city?{PERIOD}&lang=en")
    assert page.status_code == 200 and "Open asks (overdue)" in page.text
    cells = re.findall(r'<td class="num asks">([^<]*)</td>', page.text)
    assert sorted(cells) == sorted(["2 (1)", "1 (0)"] + ["0 (0)"] * (len(cells) - 2)), cells
    # MobiFone has no measurement in the synthetic survey: its row holds its asks alone.
    mobifone = page.text.split("MobiFone", 1)[1].split("</tr>", 1)[0]
    assert "No measurement data in this period" in mobifone and "2 (1)" in mobifone
    pdf = " ".join(_text(city_client.get(f"/city/report.pdf?{PERIOD}&report_lang=en")).split())
    assert "Open asks (overdue)" in pdf and "2 (1)" in pdf and "1 (0)" in pdf
