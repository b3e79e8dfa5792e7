"""The residential-group indicator of one ward from the database: the stored groups, and the
cell statuses of a baseline period and a later one (`collector.survey.compute_survey`), judged
by the pure functions of `analysis.indicator`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
import psycopg
import shapely.geometry

from lomsong.analysis.groups import groups_frame
from lomsong.analysis.indicator import group_status, indicator
from lomsong.analysis.period import Period
from lomsong.collector.storage.groups import StoredGroup, list_groups
from lomsong.collector.storage.scope import Scope
from lomsong.collector.survey import compute_survey

__all__ = ["WardIndicator", "stored_groups_frame", "ward_indicator"]


@dataclass(frozen=True)
class WardIndicator:
    baseline: Period
    current: Period
    groups: int
    status_baseline: pd.DataFrame  # `analysis.indicator.group_status`
    status_current: pd.DataFrame
    result: pd.DataFrame  # `analysis.indicator.indicator`, one row per carrier


def stored_groups_frame(groups: list[StoredGroup]) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"group_id": [g.group_id for g in groups], "name": [g.name for g in groups]},
        geometry=[shapely.geometry.shape(json.loads(g.geometry_json)) for g in groups], crs=4326)
    return groups_frame(frame, "residential_groups")


def ward_indicator(conn: psycopg.Connection[Any], scope: Scope, baseline: Period,
                   current: Period) -> WardIndicator:
    """The indicator of the scope's one ward: groups in a dead spot in `baseline` and covered,
    as measured in `current` (which should start after the fixes it is to prove)."""
    groups = stored_groups_frame(list_groups(conn, scope))
    before = compute_survey(conn, baseline, scope=scope).result.classified
    after = compute_survey(conn, current, scope=scope).result.classified
    carriers = sorted(set(before["carrier"]) | set(after["carrier"]))
    start = group_status(groups, before, carriers)
    now = group_status(groups, after, carriers)
    return WardIndicator(baseline, current, len(groups), start, now, indicator(start, now))
