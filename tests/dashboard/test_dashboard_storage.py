"""Storage of users, service points, ward and probe status (SQL in collector/storage only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from lomsong.collector.errors import StorageError
from lomsong.collector.storage.fleet import ProbeStatus, data_version, list_fleet, record_status
from lomsong.collector.storage.sites import (
    ServicePoint,
    delete_site,
    get_ward,
    list_sites,
    replace_sites,
    save_site,
    set_ward,
)
from lomsong.collector.storage.tokens import create_token, revoke_token
from lomsong.collector.storage.users import create_user, get_user, list_users, set_disabled

POINT = ServicePoint("hcc-01", "Điểm phục vụ hành chính công", "public_service_point",
                     "Số 1 phố Mẫu", 21.0285, 105.852)


def test_migration_creates_dashboard_tables(conn: psycopg.Connection[Any]) -> None:
    tables = {r[0] for r in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    assert {"dashboard_users", "service_points", "probe_status", "ward"} <= tables


def test_users_unique_names_disable_bumps_epoch(conn: psycopg.Connection[Any]) -> None:
    user = create_user(conn, "an.admin", "$argon2id$fake", "admin")
    assert user.active and user.session_epoch == 0
    with pytest.raises(StorageError, match="exists"):
        create_user(conn, "an.admin", "$argon2id$other", "officer")
    with pytest.raises(StorageError, match="not allowed"):
        create_user(conn, "Bad Name'; DROP TABLE x;--", "h", "officer")
    assert set_disabled(conn, "an.admin", True)
    stored = get_user(conn, "an.admin")
    assert stored is not None and not stored.active and stored.session_epoch == 1
    assert not set_disabled(conn, "nobody", True)
    assert [u.username for u in list_users(conn)] == ["an.admin"]


def test_sites_upsert_delete_and_all_or_nothing(conn: psycopg.Connection[Any]) -> None:
    save_site(conn, POINT)
    save_site(conn, ServicePoint(**{**POINT.__dict__, "name": "Tên mới"}))
    assert [(s.site_id, s.name) for s in list_sites(conn)] == [("hcc-01", "Tên mới")]
    bad = ServicePoint("x-02", "Sai", "school", "", 95.0, 105.0)  # the database's CHECK refuses
    with pytest.raises(StorageError, match="out of range"):
        replace_sites(conn, [ServicePoint("ok-03", "Tốt", "school", "", 21.0, 105.0), bad])
    assert [s.site_id for s in list_sites(conn)] == ["hcc-01"]
    assert delete_site(conn, "hcc-01") and list_sites(conn) == []


def test_ward_name_and_boundary(conn: psycopg.Connection[Any]) -> None:
    assert get_ward(conn) is None
    set_ward(conn, "Phường Mẫu", '{"type": "Polygon", "coordinates": []}')
    set_ward(conn, "Phường Hoàn Kiếm", None)
    ward = get_ward(conn)
    assert ward is not None and ward.name == "Phường Hoàn Kiếm" and ward.boundary_json is None


def test_fleet_joins_tokens_and_latest_status(conn: psycopg.Connection[Any]) -> None:
    create_token(conn, "pi-01", "probe")
    create_token(conn, "pi-02", "probe")
    create_token(conn, "officer", "reader")
    revoke_token(conn, "pi-02", "probe")
    now = datetime.now(UTC)
    for queue in (5, 7):
        record_status(conn, "pi-01", ProbeStatus(queue, 0, 2, now, 10, 100, "synced", None, "1"),
                      now)
    fleet = list_fleet(conn)
    assert [(p.name, p.revoked_at is None) for p in fleet] == [("pi-01", True), ("pi-02", False)]
    assert fleet[0].status is not None and fleet[0].status.queue_pending == 7
    assert fleet[1].status is None and fleet[1].last_measured_at is None


def test_data_version_changes_with_sites(conn: psycopg.Connection[Any]) -> None:
    start = datetime.now(UTC) - timedelta(days=1)
    before = data_version(conn, start, start + timedelta(days=2))
    save_site(conn, POINT)
    after = data_version(conn, start, start + timedelta(days=2))
    assert before.measurements == after.measurements == 0
    assert before != after and after.sites == 1
