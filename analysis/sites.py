"""Service points: read them from a file, and score each point per carrier and access.

A point's samples are the measurements within `radius_m` of it (distances on the local tangent
plane, metres per degree from the WGS 84 series: well under a metre of error at 150 m) plus those
a fixed probe tagged with the point's `site_id` (even with no position).
The verdict uses exactly the cell rule of `analysis.classify`. The trend is the least-squares slope
of successful download speeds against time, in Mbps per week, given only when there are at least
`min_samples` successful tests spanning at least 7 days (NaN otherwise).

Example
-------
>>> points = read_service_points("ward_points.csv")  # doctest: +SKIP
>>> cards = scorecards(points, measurements)  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from lomsong.analysis._geo import WGS84, require_columns, to_wgs84
from lomsong.analysis._samples import samples_of
from lomsong.analysis.cells import aggregate
from lomsong.analysis.classify import classify_cells
from lomsong.analysis.thresholds import Thresholds, load_thresholds

__all__ = ["SCORECARD_COLUMNS", "SITE_TYPES", "derived_site_id", "read_service_points", "scorecards"]

SITE_TYPES = ("public_service_point", "community_house", "digital_literacy_point", "school", "other")
SCORECARD_COLUMNS = [
    "site_id", "name", "site_type", "address", "carrier", "access", "samples", "failed",
    "down_median_mbps", "down_p10_mbps", "share_below", "share_below_lo", "share_below_hi",
    "threshold_mbps", "rsrp_median_dbm", "sinr_median_db", "verdict", "verdict_reason",
    "trend_mbps_per_week", "last_measured_at", "cell_status",
]


def _rows_from(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return [(n, dict(r)) for n, r in enumerate(csv.DictReader(fh), start=2)]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc.msg} (line {exc.lineno})") from exc
    rows = []
    for n, feature in enumerate(data.get("features", []), start=1):
        props = dict(feature.get("properties") or {})
        geom = feature.get("geometry") or {}
        if geom.get("type") == "Point":
            props.setdefault("lon", geom["coordinates"][0])
            props.setdefault("lat", geom["coordinates"][1])
        rows.append((n, props))
    return rows


def derived_site_id(name: str, lat: float, lon: float) -> str:
    """The id of a service point given without one: from its name (case-folded, spaces
    collapsed) and its position to 1e-5 degree (about a metre).

    >>> a = derived_site_id("UBND phường  Phúc Xá", 21.04650, 105.847)
    >>> a == derived_site_id("ubnd phường phúc xá", 21.0465, 105.847), a
    (True, 'sp-bbfc07347e')
    """
    key = f"{' '.join(name.casefold().split())}|{lat:.5f}|{lon:.5f}"
    return "sp-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]


def read_service_points(path: str | Path) -> gpd.GeoDataFrame:
    """Read service points from GeoJSON (Point features) or CSV (name, address, type, lat, lon).

    An optional `site_id` column is kept. A row without one gets an id derived from its name and
    position (``sp-`` and 10 hex digits of their SHA-256): the same point uploaded again keeps its
    id (the stored point is updated, not duplicated), and two different points never share one,
    whatever the file order or what is already stored. Every row is checked before anything is
    returned.

    Raises
    ------
    ValueError
        The first bad row and field (CSV rows are numbered as in a spreadsheet, the header being 1;
        GeoJSON features from 1), e.g. ``points.csv row 3, type: 'market' is not one of ...``.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: file not found")
    records: list[dict[str, Any]] = []
    for n, row in _rows_from(path):
        where = f"{path} {'row' if path.suffix.lower() == '.csv' else 'feature'} {n}"
        name = str(row.get("name") or "").strip()
        if not name:
            raise ValueError(f"{where}, name: missing")
        site_type = str(row.get("type") or "").strip()
        if site_type not in SITE_TYPES:
            raise ValueError(f"{where}, type: {site_type!r} is not one of {', '.join(SITE_TYPES)}")
        coords = {}
        for field, bound in (("lat", 90), ("lon", 180)):
            try:
                value = float(row.get(field))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ValueError(f"{where}, {field}: {row.get(field)!r} is not a number") from None
            if not math.isfinite(value) or abs(value) > bound:
                raise ValueError(f"{where}, {field}: {value} out of range")
            coords[field] = value
        site_id = str(row.get("site_id") or "").strip() or derived_site_id(name, coords["lat"], coords["lon"])
        records.append({"site_id": site_id, "name": name, "site_type": site_type,
                        "address": str(row.get("address") or "").strip(), **coords})
    frame = pd.DataFrame(records, columns=["site_id", "name", "site_type", "address", "lat", "lon"])
    dupes = frame["site_id"][frame["site_id"].duplicated()]
    if not dupes.empty:
        raise ValueError(f"{path}: site_id {dupes.iloc[0]!r} appears more than once")
    geometry = gpd.points_from_xy(frame.pop("lon"), frame.pop("lat"), crs=WGS84)
    return gpd.GeoDataFrame(frame, geometry=geometry)


def _metres_per_degree(lat_deg: float) -> tuple[float, float]:
    """Metres per degree of latitude and of longitude at `lat_deg` (WGS 84 series expansion)."""
    phi = math.radians(lat_deg)
    m_lat = 111_132.954 - 559.822 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    m_lon = 111_412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)
    return m_lat, m_lon


def _near_points(
    meas: gpd.GeoDataFrame, points: gpd.GeoDataFrame, radius_m: float
) -> gpd.GeoDataFrame:
    """Cheap first cut: rows in a box around some point, or tagged with a point's site_id."""
    x = shapely.get_x(meas.geometry.to_numpy())
    y = shapely.get_y(meas.geometry.to_numpy())
    keep = np.zeros(len(meas), dtype=bool)
    if "site_id" in meas.columns:
        keep |= meas["site_id"].isin(set(points["site_id"])).to_numpy()
    dlat = 2 * radius_m / 110_574.0
    for p in points.geometry:
        dlon = dlat / max(math.cos(math.radians(p.y)), 0.01)
        with np.errstate(invalid="ignore"):
            keep |= (np.abs(y - p.y) < dlat) & (np.abs(x - p.x) < dlon)
    return meas[keep]


def _trend(table: pd.DataFrame, keys: list[str], min_samples: int) -> pd.Series:
    ok = table[table["down"].notna()].copy()
    if ok.empty:
        return pd.Series(dtype="float64")
    t = pd.to_datetime(ok["measured_at"], utc=True)
    x = ((t - t.min()).dt.total_seconds() / (7 * 86_400)).to_numpy()
    ok = ok.assign(x=x, xy=x * ok["down"], xx=x * x)
    g = ok.groupby(keys).agg(n=("x", "size"), sx=("x", "sum"), sy=("down", "sum"),
                             sxy=("xy", "sum"), sxx=("xx", "sum"), lo=("x", "min"), hi=("x", "max"))
    denom = g["n"] * g["sxx"] - g["sx"] ** 2
    slope = (g["n"] * g["sxy"] - g["sx"] * g["sy"]) / denom.where(denom > 0)
    return slope.where((g["n"] >= min_samples) & (g["hi"] - g["lo"] >= 1.0))


def scorecards(
    service_points: gpd.GeoDataFrame,
    measurements: gpd.GeoDataFrame,
    classified: gpd.GeoDataFrame | None = None,
    *,
    radius_m: float = 150.0,
    thresholds: Thresholds | None = None,
    samples: pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    """One row per service point x carrier x access (one row with no carrier if never measured).

    Parameters
    ----------
    service_points : GeoDataFrame
        From `read_service_points` (site_id, name, site_type, address, point geometry).
    measurements : GeoDataFrame
        The measurements frame.
    classified : GeoDataFrame, optional
        Classified cell statistics; if given, `cell_status` holds the status (window ``all``) of
        the H3 cell containing the point for the same carrier and access.
    radius_m : float
        Radius around each point, metres.
    samples : DataFrame, optional
        The sample table of `measurements` (any resolution), when the caller has made it
        already (`analysis.pipeline.run_survey`); the rows near the points are taken from it.

    Returns
    -------
    GeoDataFrame (point geometry) in the CRS of `service_points`, columns `SCORECARD_COLUMNS`.
    """
    thresholds = thresholds or load_thresholds()
    if radius_m <= 0:
        raise ValueError(f"radius_m: must be positive, got {radius_m}")
    points = to_wgs84(service_points, "service_points")
    require_columns(points, ("site_id", "name", "site_type", "address"), "service_points")
    meas = to_wgs84(measurements, "measurements")
    if points.empty:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in SCORECARD_COLUMNS})
        empty = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=WGS84))
        return empty.to_crs(service_points.crs)
    table = samples_of(samples, _near_points(meas, points, radius_m), thresholds, None)
    table = table.reset_index(drop=True)
    lat = table["lat"].to_numpy()
    lon = table["lon"].to_numpy()
    rows, ids = [], []
    for site_id, p in zip(points["site_id"], points.geometry, strict=True):
        m_lat, m_lon = _metres_per_degree(p.y)
        with np.errstate(invalid="ignore"):
            hit = np.flatnonzero(((lat - p.y) * m_lat) ** 2 + ((lon - p.x) * m_lon) ** 2
                                 <= radius_m**2)
        rows.append(hit)
        ids.append(np.full(len(hit), site_id, dtype=object))
    joined = pd.DataFrame({"row": np.concatenate(rows), "site_id": np.concatenate(ids)})
    tagged = table.index[table["site_id"].isin(set(points["site_id"]))]
    pairs = pd.concat(
        [joined, pd.DataFrame({"row": tagged, "site_id": table.loc[tagged, "site_id"]})]
    ).drop_duplicates()
    sel = table.iloc[pairs["row"].to_numpy()].assign(site_id=pairs["site_id"].to_numpy())
    keys = ["site_id", "carrier", "access"]
    stats = aggregate(sel, keys, thresholds.rules.z)
    stats = classify_cells(stats, thresholds).rename(
        columns={"status": "verdict", "status_reason": "verdict_reason"}
    )
    stats = stats.set_index(keys)
    stats["trend_mbps_per_week"] = _trend(sel, keys, thresholds.rules.min_samples)
    last = sel[sel["down_test"]].groupby(keys)["measured_at"].max()
    stats["last_measured_at"] = last.dt.tz_localize("UTC")
    stats = stats.reset_index()
    info = pd.DataFrame(points.drop(columns=points.geometry.name))
    out = info.merge(stats, on="site_id", how="left")
    out["samples"] = out["samples"].fillna(0).astype("int64")
    out["failed"] = out["failed"].fillna(0).astype("int64")
    out["verdict"] = out["verdict"].fillna("insufficient_data")
    out["verdict_reason"] = out["verdict_reason"].fillna("no_download_tests")
    out["cell_status"] = None
    if classified is not None and not classified.empty:
        res = h3.get_resolution(str(classified["cell"].iloc[0]))
        cell_of = {
            sid: h3.latlng_to_cell(p.y, p.x, res)
            for sid, p in zip(points["site_id"], points.geometry, strict=True)
        }
        look = classified[classified["window"] == "all"].set_index(["cell", "carrier", "access"])
        look = look["status"]
        out["cell_status"] = [
            look.get((cell_of[s], c, a)) for s, c, a in zip(out["site_id"], out["carrier"],
                                                            out["access"], strict=True)
        ]
    geom = dict(zip(points["site_id"], points.geometry, strict=True))
    geometry = gpd.GeoSeries([geom[s] for s in out["site_id"]], crs=WGS84)
    result = gpd.GeoDataFrame(out[SCORECARD_COLUMNS], geometry=geometry.to_numpy(), crs=WGS84)
    return result.to_crs(service_points.crs)

