"""City benchmark (issue 16 items 7 and 8): 126 wards on one collector, the city view timed.

A fresh database is created on a PostgreSQL server (``--admin-url``; default the test server,
``LOMSONG_TEST_PG_URL`` or ``postgresql://postgres@127.0.0.1:5432/postgres``), migrated and
loaded with a SYNTHETIC city:

- the first 126 units of Hà Nội in ``../shared/realdata/boundaries/
  vn_2025_34_provinces_3321_wards_codes_names.json`` (real codes and names); the real outline where
  ``boundaries/hanoi_2025_wards/`` has it (55 wards), else a SYNTHETIC 2 x 2 km square on a grid
  south of the city, its name suffixed ``[synthetic outline]``;
- per ward 10 service points, each with a fixed probe (``pi-<code>-<k>``, 30% of the rows, as
  `benchmarks.analysis_db`), and walks (``walk-<code>``) over 400 random spots inside the outline;
- 3 carriers; rows over the last 60 days; the radio model of `benchmarks.analysis_db` (1 km
  lattice of sites per carrier, log-distance RSRP, Shannon speed, dead patches), made by the
  server itself in one ``INSERT ... SELECT`` over ``generate_series`` (faster than COPY from
  Python; the ingest path is measured by ``benchmarks/ingest.py``). Indexes are dropped for the
  load and rebuilt, then ``ANALYZE``.

Then it times, through the real collector app (`fastapi.testclient`, a city officer signed in):

    full roll-up refresh (every ward, both kept periods)  -> `collector.city_rollup.refresh`
    city page /city (last 30 days, from the roll-ups)     goal <= 3 s
    city PDF /city/report.pdf                             goal <= 60 s
    ward page /map/frame (cold: the ward's survey computed; warm: cached)   goal <= 3 s
    incremental refresh after new measurements of one ward (only that ward recomputed)

and checks that the city page read no measurement row (``pg_stat_user_tables`` scans of
``measurements`` before and after). Finally the measurement-server pool at the city's load
(`benchmarks.server_pool.pool_table`: 1,260 probes, 3 mobile paths, 48 runs a day).

    python benchmarks/city.py [N] [--admin-url URL] [--keep] [--pool-sizes 20,26] [--json]

Measured 2026-12-05, plain PostgreSQL 15, 2 cores shared with other jobs (load average 2-12):

- 20,000 rows: load 19 s; full refresh 175 s (126 wards x 2 periods, ~0.7 s each: the fixed
  cost of a ward's analysis); city page 0.8 s; PDF 1.7 s; ward page cold 0.68 s, warm 0.04 s;
  incremental refresh of the one changed ward 0.71 s.
- 10,000,000 rows (4.0 GB database; load about 12 min with the index rebuild): full refresh
  1,418 s (per ward ~8.5 s for the last 30 days, ~40k rows, and ~2.5 s for the month so far);
  city page 1.52 s, reading no measurement; PDF 3.6 s; ward page /map/frame cold 12.3 s (its
  survey computed: over the 3 s goal; warm 0.94 s); incremental refresh 10.1 s (1 ward of 126).
  Before `Scope.where` used an indexable `ward_code = %s`, one ward took 49 s (every row of the
  period read for each of its queries).
- Server pool (`benchmarks.server_pool`, 1,260 probes, 3 mobile paths, ~355,000 tests a day):
  20 servers: offered load 0.79, 5.15% server_busy (today's one-server layout 24.8%); 26 servers:
  load 0.61, 0.68% (today 17.9%), the smallest under 1%. The simulation takes ~6 min.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_ADMIN = os.environ.get("LOMSONG_TEST_PG_URL",
                               "postgresql://postgres@127.0.0.1:5432/postgres")
BOUNDARIES = ROOT / ".." / "shared" / "realdata" / "boundaries"
UNITS = BOUNDARIES / "vn_2025_34_provinces_3321_wards_codes_names.json"
WARDS = 126
SITES_PER_WARD = 10
SPOTS_PER_WARD = 400
DAYS = 60
PASSWORD = "mat-khau-benchmark-123"
SYNTHETIC_MARK = " [synthetic outline]"

_SPOTS_TABLE = """
CREATE TEMP TABLE bench_spots (
    id integer PRIMARY KEY, ward text, x double precision, y double precision,
    lat double precision, lon double precision, h3 bigint, site text)
"""
# One row per measurement: a ward, then a spot of that ward (30% at its service points).
_LOAD = """
INSERT INTO measurements (time, id, probe_id, schema_version, source, probe_time, clock,
    received_at, kind, tool, carrier, access, download_mbps, upload_mbps, rtt_ms, rsrp_dbm,
    sinr_db, pci, lat, lon, position_source, setting, site_id, h3_r10, error_kind, ward_code)
WITH q AS (
    SELECT g,
        %(start)s::timestamptz + (g - 1) * (%(days)s * interval '1 day' / %(n)s) AS t,
        floor(random() * %(wards)s)::int * %(per_ward)s
        + CASE WHEN random() < 0.3 THEN floor(random() * %(sites)s)::int
               ELSE %(sites)s + floor(random() * %(spots)s)::int END AS spot,
        floor(random() * 3)::int AS c, random() AS u5g, random() AS ukind,
        sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS n1,
        sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS n2,
        sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS n3
    FROM generate_series(1, %(n)s) AS g
), r AS (
    SELECT q.*, s.ward, s.x, s.y, s.lat, s.lon, s.h3, s.site,
        (ARRAY['viettel', 'vnpt', 'mobifone'])[c + 1] AS carrier,
        CASE WHEN c = 0 AND u5g < 0.3 THEN '5g_nsa' ELSE '4g' END AS access,
        CASE WHEN ukind < 0.6 THEN 'throughput_down' WHEN ukind < 0.8 THEN 'throughput_up'
             ELSE 'latency' END AS kind,
        extract(hour FROM q.t AT TIME ZONE 'Asia/Ho_Chi_Minh') BETWEEN 19 AND 21 AS peak,
        sqrt(power(least(mod_x, 1000 - mod_x), 2) + power(least(mod_y, 1000 - mod_y), 2)) AS d
    FROM q JOIN bench_spots s ON s.id = q.spot
    CROSS JOIN LATERAL (SELECT
        (s.x + 5000 + 333 * q.c) - 1000 * floor((s.x + 5000 + 333 * q.c) / 1000) AS mod_x,
        (s.y + 5000 + 250 * q.c) - 1000 * floor((s.y + 5000 + 250 * q.c) / 1000) AS mod_y) AS m
), s AS (
    SELECT r.*, -60 - 30 * log(greatest(d, 20) / 20) + 6 * n1 AS rsrp FROM r
), v AS (
    SELECT s.*,
        18 + 4 * n2 - least(greatest(-90 - rsrp, 0), 30) * 0.3 AS sinr,
        rsrp < -122 AS dead
    FROM s
), w AS (
    SELECT v.*,
        CASE WHEN access = '5g_nsa' THEN 250 ELSE 70 END
        * least(greatest(ln(1 + power(10, least(greatest(sinr, -10), 30) / 10)) / ln(2) / 6,
                           0.02), 1.5)
        * exp(0.35 * n3) / CASE WHEN peak THEN 1.6 ELSE 1 END AS speed
    FROM v
)
SELECT t, gen_random_uuid(),
    CASE WHEN site IS NULL THEN 'walk-' || ward ELSE 'pi-' || site END, 1,
    'synthetic', t, 'synced', t + interval '1 minute', kind, 'iperf3', carrier, access,
    CASE WHEN kind = 'throughput_down' AND NOT dead THEN round(speed::numeric, 2) END,
    CASE WHEN kind = 'throughput_up' AND NOT dead THEN round((speed / 4)::numeric, 2) END,
    CASE WHEN kind = 'latency' AND NOT dead THEN round((20 + 30 * abs(n2))::numeric, 1) END,
    round(least(greatest(rsrp, -140), -44)::numeric, 0),
    round(least(greatest(sinr, -20), 40)::numeric, 1),
    c * 100 + floor(abs(x) / 500)::int, lat, lon,
    CASE WHEN site IS NULL THEN 'gps' ELSE 'site' END,
    CASE WHEN site IS NULL THEN 'outdoor' ELSE 'indoor' END, site, h3,
    CASE WHEN dead THEN 'no_service' END, ward
FROM w
"""


def city_wards(count: int = WARDS) -> list[dict[str, Any]]:
    """The first `count` (126) wards: code, name, province, outline (GeoJSON text) and whether it is real."""
    import shapely.geometry

    from lomsong.collector.ward_catalog import read_official_units, read_ward_boundary

    units = read_official_units(UNITS)
    hanoi = sorted(c for c, u in units.items() if u.province_code == "01")[:count]
    real = {}
    for path in sorted((BOUNDARIES / "hanoi_2025_wards").glob("*.geojson")):
        found = read_ward_boundary(path)
        real[found.code] = found.geojson
    out = []
    for i, code in enumerate(hanoi):
        u = units[code]
        if code in real:
            out.append({"code": code, "name": u.name, "province_code": u.province_code,
                        "province_name": u.province_name, "geojson": real[code], "real": True})
            continue
        # A synthetic 2 x 2 km square on a grid south of the city (~20.6-20.8 N).
        lat0, lon0 = 20.60 + 0.02 * (i // 12), 105.60 + 0.021 * (i % 12)
        square = shapely.geometry.box(lon0, lat0, lon0 + 0.019, lat0 + 0.018)
        feature = {"type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {"code": code, "synthetic_outline": True},
            "geometry": shapely.geometry.mapping(square)}]}
        out.append({"code": code, "name": u.name + SYNTHETIC_MARK,
                    "province_code": u.province_code, "province_name": u.province_name,
                    "geojson": json.dumps(feature), "real": False})
    return out


def _spots(wards: list[dict[str, Any]], seed: int) -> list[tuple[Any, ...]]:
    """Per ward: SITES_PER_WARD service points then SPOTS_PER_WARD walk spots inside it."""
    import h3
    import shapely
    from shapely.geometry import shape

    rng = np.random.default_rng(seed)
    rows: list[tuple[Any, ...]] = []
    per_ward = SITES_PER_WARD + SPOTS_PER_WARD
    for w_i, w in enumerate(wards):
        geo = json.loads(w["geojson"])
        feats = geo["features"] if geo.get("type") == "FeatureCollection" else [geo]
        outline = shapely.union_all([shape(f["geometry"]) for f in feats])
        min_x, min_y, max_x, max_y = outline.bounds
        cx, cy = outline.centroid.x, outline.centroid.y
        pts: list[tuple[float, float]] = []
        prepared = shapely.prepared.prep(outline)
        while len(pts) < per_ward:
            lon = rng.uniform(min_x, max_x, 4 * per_ward)
            lat = rng.uniform(min_y, max_y, 4 * per_ward)
            pts += [(x, y) for x, y in zip(lon, lat, strict=True)
                    if prepared.contains(shapely.Point(x, y))]
        for k, (lon_, lat_) in enumerate(pts[:per_ward]):
            x = (lon_ - cx) * 111_320 * np.cos(np.radians(cy))
            y = (lat_ - cy) * 110_574
            site = f"{w['code']}-{k:02d}" if k < SITES_PER_WARD else None
            rows.append((w_i * per_ward + k, w["code"], float(x), float(y), float(lat_),
                         float(lon_), h3.str_to_int(h3.latlng_to_cell(lat_, lon_, 10)), site))
    return rows


def load(url: str, n: int, seed: int = 1, wards_count: int = WARDS) -> dict[str, Any]:
    """Migrate and fill `url`: wards, service points, users, `n` measurements; timings."""
    import psycopg

    from lomsong.collector.dashboard.security import hash_password
    from lomsong.collector.storage.migrate import migrate
    from lomsong.collector.storage.scope import Scope
    from lomsong.collector.storage.sites import ServicePoint, replace_sites
    from lomsong.collector.storage.users import create_user
    from lomsong.collector.storage.wards import save_ward

    began = time.perf_counter()
    migrate(url)
    wards = city_wards(wards_count)
    spots = _spots(wards, seed)
    with psycopg.connect(url, autocommit=True) as conn:
        for w in wards:
            save_ward(conn, w["code"], w["name"], w["province_code"], w["province_name"],
                      w["geojson"])
        by_ward: dict[str, list[ServicePoint]] = {}
        for _, ward, _, _, lat, lon, _, site in spots:
            if site is not None:
                by_ward.setdefault(ward, []).append(ServicePoint(
                    site, f"Điểm phục vụ {site} (synthetic)", "public_service_point", "",
                    lat, lon))
        for ward, points in by_ward.items():
            replace_sites(conn, points, Scope.ward(ward, write=True))
        create_user(conn, "city.officer", hash_password(PASSWORD), "city_officer")
        indexes = [r[0] for r in conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'measurements'"
            " AND indexname NOT LIKE '%%pkey'")]
        names = [r[0] for r in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'measurements'"
            " AND indexname NOT LIKE '%%pkey'")]
        for name in names:
            conn.execute(f'DROP INDEX "{name}"')
        conn.execute(_SPOTS_TABLE)
        with conn.cursor() as cur, cur.copy("COPY bench_spots FROM STDIN") as copy:
            for row in spots:
                copy.write_row(row)
        conn.execute("SELECT setseed(%s)", (seed / 1000,))
        start = (datetime.now(UTC) - timedelta(days=DAYS)).replace(minute=0, second=0,
                                                                    microsecond=0)
        inserted = time.perf_counter()
        conn.execute(_LOAD, {"start": start, "days": DAYS, "n": n, "wards": len(wards),
                             "per_ward": SITES_PER_WARD + SPOTS_PER_WARD,
                             "sites": SITES_PER_WARD, "spots": SPOTS_PER_WARD})
        insert_s = time.perf_counter() - inserted
        indexed = time.perf_counter()
        for definition in indexes:
            conn.execute(definition)
        conn.execute("ANALYZE measurements")
        index_s = time.perf_counter() - indexed
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))"
                            ).fetchone()
    return {"wards": len(wards), "real_outlines": sum(w["real"] for w in wards),
            "load_s": round(time.perf_counter() - began, 1), "insert_s": round(insert_s, 1),
            "index_s": round(index_s, 1), "db_size": size[0] if size else None}


def _scans(url: str) -> int:
    """Scans of `measurements` so far (sequential + index, every chunk on TimescaleDB)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0)"
            " FROM pg_stat_user_tables WHERE relname = 'measurements'"
            " OR relid IN (SELECT format('%%I.%%I', chunk_schema, chunk_name)::regclass"
            "   FROM timescaledb_information.chunks WHERE hypertable_name = 'measurements')"
            if _has_timescale(conn) else
            "SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0)"
            " FROM pg_stat_user_tables WHERE relname = 'measurements'").fetchone()
    return int(row[0]) if row else 0


def _has_timescale(conn: Any) -> bool:
    return conn.execute("SELECT to_regclass('timescaledb_information.chunks') IS NOT NULL"
                        ).fetchone()[0]


def _new_rows(code: str, count: int) -> list[Any]:
    from lomsong import synthetic
    from lomsong.collector.storage.ingest import StoredRecord

    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    out = []
    for m in list(synthetic.survey(start, days=1, walks=1))[:count]:
        m = m.model_copy(update={"id": uuid.uuid4(), "probe_id": f"walk-{code}"})
        out.append(StoredRecord(measurement=m, time=m.measured_at, clock=m.clock))
    return out


def measure(url: str, *, new_rows: int = 500, settle_s: float = 11.0) -> dict[str, Any]:
    """Time the refreshes and the pages on the loaded database at `url`."""
    import psycopg
    from fastapi.testclient import TestClient

    from lomsong.collector.app import create_app
    from lomsong.collector.city_rollup import refresh
    from lomsong.collector.settings import Settings
    from lomsong.collector.storage.ingest import ingest
    from lomsong.collector.storage.scope import Scope

    out: dict[str, Any] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        out["measurements"] = conn.execute("SELECT count(*) FROM measurements").fetchone()[0]
        began = time.perf_counter()
        full = refresh(conn, Scope.all_wards(), every_ward=True)
        out["full_refresh_s"] = round(time.perf_counter() - began, 1)
        out["full_refresh_wards"] = len(full.refreshed)
        ward = conn.execute("SELECT ward_code FROM measurements GROUP BY 1"
                            " ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
    settings = Settings(database_url=url, pool_min_size=1, pool_max_size=4, pool_timeout_s=30,
                        secret_key="benchmark-secret-" + "x" * 32, city_refresh_interval_s=0)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, "no csrf token on /login"
        done = client.post("/login", data={"username": "city.officer", "password": PASSWORD,
                                           "csrf_token": token.group(1), "next": "/city"})
        assert done.status_code == 303, done.text
        before = _scans(url)
        began = time.perf_counter()
        city = client.get("/city?lang=en")
        out["city_page_s"] = round(time.perf_counter() - began, 2)
        time.sleep(settle_s)  # a backend reports its table statistics within 10 s of idling
        out["city_page_measurement_scans"] = _scans(url) - before
        assert city.status_code == 200, city.text[:300]
        out["city_page_wards"] = city.text.count('name="code" value="')
        began = time.perf_counter()
        pdf = client.get("/city/report.pdf?report_lang=en")
        out["city_pdf_s"] = round(time.perf_counter() - began, 1)
        assert pdf.status_code == 200
        out["city_pdf_kb"] = len(pdf.content) // 1024
        token = re.search(r'name="csrf_token" value="([^"]+)"', city.text)
        assert token
        chosen = client.post("/city/ward", data={"code": ward, "csrf_token": token.group(1)})
        assert chosen.status_code == 303, chosen.text
        began = time.perf_counter()
        frame = client.get("/map/frame")
        out["ward_page_cold_s"] = round(time.perf_counter() - began, 2)
        assert frame.status_code == 200
        began = time.perf_counter()
        client.get("/map/frame")
        out["ward_page_warm_s"] = round(time.perf_counter() - began, 2)
    with psycopg.connect(url, autocommit=True) as conn:
        ingest(conn, _new_rows(ward, new_rows), datetime.now(UTC), ward)
        began = time.perf_counter()
        inc = refresh(conn, Scope.all_wards())
        out["incremental_refresh_s"] = round(time.perf_counter() - began, 2)
        out["incremental_refresh_wards"] = inc.refreshed
    out["load_average_1min"] = round(os.getloadavg()[0], 2)
    return out


def server_pool(sizes: list[int]) -> tuple[str, int | None]:
    from benchmarks.server_pool import CityLoad, format_table, pool_table, smallest_pool

    rows = pool_table(CityLoad(probes=WARDS * 10, fixed_paths=0), sizes)
    return format_table(rows), smallest_pool(rows, 0.01)


def _table(load_: dict[str, Any] | None, m: dict[str, Any]) -> str:
    lines = ["| step | figure | goal |", "|---|---|---|"]
    if load_:
        lines.append(f"| load ({load_['wards']} wards, {load_['real_outlines']} real outlines) "
                     f"| {load_['load_s']} s (insert {load_['insert_s']} s, indexes "
                     f"{load_['index_s']} s), {load_['db_size']} | - |")
    lines += [
        f"| measurements | {m['measurements']:,} | - |",
        f"| full roll-up refresh ({m['full_refresh_wards']} wards) | {m['full_refresh_s']} s "
        "| - |",
        f"| city page /city | {m['city_page_s']} s ({m['city_page_wards']} wards, "
        f"{m['city_page_measurement_scans']} scans of measurements) | <= 3 s |",
        f"| city PDF | {m['city_pdf_s']} s ({m['city_pdf_kb']} kB) | <= 60 s |",
        f"| ward page /map/frame, cold | {m['ward_page_cold_s']} s | <= 3 s |",
        f"| ward page /map/frame, warm | {m['ward_page_warm_s']} s | <= 3 s |",
        f"| incremental refresh after new rows of one ward | {m['incremental_refresh_s']} s "
        f"({len(m['incremental_refresh_wards'])} ward(s): "
        f"{', '.join(m['incremental_refresh_wards'])}) | - |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import psycopg
    from psycopg import sql

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=10_000_000)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN)
    parser.add_argument("--reuse", metavar="URL", help="measure an already loaded database")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--pool-sizes", default="20,26,30",
                        help="server pool sizes to simulate ('' to skip)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--wards", type=int, default=WARDS, help="fewer wards (smoke test)")
    parser.add_argument("--settle-s", type=float, default=11.0,
                        help="wait for the server's table statistics before counting scans")
    args = parser.parse_args(argv)
    name = f"lomsong_city_{uuid.uuid4().hex[:8]}"
    loaded = None
    if args.reuse:
        url = args.reuse
    else:
        with psycopg.connect(args.admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", args.admin_url, count=1)
    try:
        if not args.reuse:
            loaded = load(url, args.n, wards_count=args.wards)
        m = measure(url, settle_s=args.settle_s)
    finally:
        if not args.reuse and not args.keep:
            with psycopg.connect(args.admin_url, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)))
        elif not args.reuse:
            print(f"kept: {url}", file=sys.stderr)
    pool = None
    if args.pool_sizes:
        sizes = [int(s) for s in args.pool_sizes.split(",")]
        began = time.perf_counter()
        pool = server_pool(sizes)
        m["pool_simulation_s"] = round(time.perf_counter() - began, 1)
    if args.json:
        print(json.dumps({"load": loaded, "measure": m,
                          "pool_smallest": None if pool is None else pool[1]}, default=str))
    print(_table(loaded, m))
    if pool is not None:
        print(f"\nServer pool at the city's load ({WARDS * 10} probes, 3 mobile paths, "
              "48 runs a day):")
        print(pool[0])
        print(f"smallest pool with server_busy < 1%: {pool[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
