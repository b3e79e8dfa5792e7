"""Where a weak area is, in words a field engineer and a ward official can use.

For each area: its centroid (WGS 84, rounded to 5 decimals, about 1 m) and a ``geo:lat,lon`` link
that a phone opens in its map app; the nearest service point and its distance; when the ward has
loaded them (`analysis.layers`), the residential group (tổ dân phố) the centroid lies in, or the
nearest one with its distance when the groups are points or the centroid falls between outlines;
and the nearest named street with its distance. Distances are in metres in a UTM CRS; a street or
group further than `max_m` is not named ("far from any"): a name is only given when it helps.

Example
-------
>>> facts = place_facts(weak_areas, scorecards, streets=streets, groups=groups)  # doctest: +SKIP
>>> facts.loc["viettel-4g-001", "geo_uri"]                                       # doctest: +SKIP
'geo:21.02012,105.82391'
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from lomsong.analysis._geo import metric_crs, require_columns, to_wgs84

__all__ = ["PLACE_COLUMNS", "geo_uri", "place_facts"]

PLACE_COLUMNS: tuple[str, ...] = (
    "lat", "lon", "geo_uri", "site_name", "site_distance_m", "group_name", "group_inside",
    "group_distance_m", "street_name", "street_distance_m",
)


def geo_uri(lat: float, lon: float) -> str:
    """An RFC 5870 ``geo:`` URI, 5 decimals.

    >>> geo_uri(21.0201234, 105.8239)
    'geo:21.02012,105.82390'
    """
    return f"geo:{lat:.5f},{lon:.5f}"


def _nearest(points: gpd.GeoSeries, layer: gpd.GeoDataFrame, max_m: float | None
             ) -> tuple[pd.Series, pd.Series]:
    """Name and distance (m) of the nearest feature of `layer` to each point; NA when none is
    within `max_m`. Both inputs are in the same metric CRS."""
    names = pd.Series(pd.NA, index=points.index, dtype="string")
    dist = pd.Series(np.nan, index=points.index, dtype="float64")
    if not len(layer) or not len(points):
        return names, dist
    left = gpd.GeoDataFrame(geometry=points)
    joined = gpd.sjoin_nearest(left, layer[["name", "geometry"]], how="left",
                               max_distance=max_m, distance_col="_d")
    joined = joined[~joined.index.duplicated(keep="first")]  # ties: first in file order
    names.loc[joined.index] = joined["name"].astype("string")
    dist.loc[joined.index] = joined["_d"].round(0)
    return names, dist


def place_facts(
    areas: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    *,
    streets: gpd.GeoDataFrame | None = None,
    groups: gpd.GeoDataFrame | None = None,
    max_m: float = 300.0,
) -> pd.DataFrame:
    """One row per area (index ``area_id``) with the columns of `PLACE_COLUMNS`.

    `areas` are weak areas, `sites` service points (``name``, point geometry; one row per site
    and carrier is fine), `streets` and `groups` the frames of `analysis.layers.read_layer`.
    """
    require_columns(areas, ("area_id",), "weak_areas")
    require_columns(sites, ("name",), "service points")
    areas = to_wgs84(areas, "weak_areas")
    crs = metric_crs(areas)
    centroids = areas.geometry.to_crs(crs).centroid
    centroids.index = pd.Index(areas["area_id"].astype(str), name="area_id")
    wgs = centroids.to_crs(4326)
    out = pd.DataFrame(index=centroids.index)
    out["lat"], out["lon"] = wgs.y.round(5), wgs.x.round(5)
    out["geo_uri"] = [geo_uri(lat, lon) for lat, lon in zip(wgs.y, wgs.x, strict=True)]
    points = to_wgs84(sites, "service points").drop_duplicates("name").to_crs(crs)
    out["site_name"], out["site_distance_m"] = _nearest(centroids, points, None)
    out["group_name"], out["group_inside"], out["group_distance_m"] = pd.NA, pd.NA, np.nan
    if groups is not None and len(groups):
        metric_groups = to_wgs84(groups, "groups").to_crs(crs)
        names, dist = _nearest(centroids, metric_groups, max_m)
        out["group_name"], out["group_distance_m"] = names, dist
        polygons = metric_groups.geom_type.isin(["Polygon", "MultiPolygon"]).any()
        inside = (dist == 0) if polygons else pd.Series(False, index=dist.index)
        out["group_inside"] = inside.astype("boolean").mask(names.isna())
    out["street_name"], out["street_distance_m"] = pd.NA, np.nan
    if streets is not None and len(streets):
        named = to_wgs84(streets, "streets")
        named = named[named["name"].fillna("") != ""].to_crs(crs)
        out["street_name"], out["street_distance_m"] = _nearest(centroids, named, max_m)
    return out
