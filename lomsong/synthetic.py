"""A SYNTHETIC walk survey of a sample ward, for the demo, tests and benchmarks.

Every record it makes has ``source = synthetic`` and probe ids starting with ``synthetic-``, so it
can never pass for real evidence. The ward ("Phường Mẫu", a sample ward around Hoàn Kiếm lake,
Hanoi) and its service points are illustrative, not official boundaries or addresses. A
`SamplePlace` lays the same survey out elsewhere (the demo puts it inside real 2025 ward outlines):
its origin moves the model, its tag keeps probe, site and record ids apart, and its `inside` test
keeps walks and service points within the ward.

Radio model (per carrier, downlink, LTE 20 MHz unless stated)
------------------------------------------------------------
- Sites: each carrier has its own macro sites (positions below) transmitting a reference signal
  at ``RS_POWER_DBM`` per resource element.
- Path loss: log-distance, ``PL(d) = 32 dB + 10 * 3.0 * log10(d / 1 m)`` (urban exponent 3),
  plus log-normal shadowing (sigma 6 dB) that is fixed per 25 m patch so that walking the same
  street twice sees the same shadow, plus building penetration loss in the listed indoor zones.
- RSRP is the strongest site; SINR = RSRP - 10 log10(0.25 x the other sites' received power
  (partial load, sector patterns) + thermal noise per RE (-125 dBm)); a co-channel interferer
  adds a zone of high interference.
- Throughput: ``min(150, 1.6 * 0.6 * 18 MHz * log2(1 + SINR))`` Mbit/s (Shannon with 60 %
  efficiency and a 2x2 MIMO gain of 1.6)
  divided by the cell load, which rises at peak hours (19:00-22:00 local) by a per-site factor
  (1.2-1.35x); one site of each carrier is congested (5x at peak) to produce a congestion area.
- No service below -122 dBm RSRP: the test fails with ``no_service`` (a dead spot).
- The fixed line at each service point has a plan speed and delivers 85-97 % of it, except one
  point whose line delivers about 55 %.

These are textbook simplifications (log-distance model, Shannon bound with an efficiency factor);
they produce realistic-looking weak spots of each kind for the analysis to find, not predictions.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from lomsong.probe.record import (
    Access,
    Carrier,
    ClockState,
    ErrorKind,
    Kind,
    Measurement,
    PositionSource,
    Setting,
    Source,
)

__all__ = ["SAMPLE_WARD", "SERVICE_POINTS", "SamplePlace", "ServicePoint", "place_points", "survey",
           "ward_boundary"]

LOCAL_TZ: Final = ZoneInfo("Asia/Ho_Chi_Minh")
ORIGIN_LAT: Final = 21.0285
ORIGIN_LON: Final = 105.8520
M_PER_DEG_LAT: Final = 110_574.0
M_PER_DEG_LON: Final = 111_320.0 * math.cos(math.radians(ORIGIN_LAT))
RS_POWER_DBM: Final = 18.0
NOISE_PER_RE_DBM: Final = -125.0
NO_SERVICE_DBM: Final = -122.0
INTERFERENCE_SHARE: Final = 0.25  # neighbours' partial load and sector patterns (-6 dB)
MIMO_GAIN: Final = 1.6  # 2x2 MIMO over a single stream
SAMPLE_WARD: Final = "Phường Mẫu (dữ liệu tổng hợp)"
_NAMESPACE: Final = uuid.UUID("6f1c2b1e-6c6f-6d73-6f6e-670000000000")


def to_lonlat(x_m: float, y_m: float) -> tuple[float, float]:
    return ORIGIN_LON + x_m / M_PER_DEG_LON, ORIGIN_LAT + y_m / M_PER_DEG_LAT


@dataclass(frozen=True)
class SamplePlace:
    """Where the survey is laid out: the origin (lat, lon) of its metre grid, a `tag` added to its
    probe, site and record ids (empty: the sample ward's own ids), and `inside(lon, lat)`, which
    keeps walk points and service points within a ward (None: keep all)."""

    lat: float = ORIGIN_LAT
    lon: float = ORIGIN_LON
    tag: str = ""
    inside: Callable[[float, float], bool] | None = None

    def to_lonlat(self, x_m: float, y_m: float) -> tuple[float, float]:
        m_per_deg_lon = 111_320.0 * math.cos(math.radians(self.lat))
        return self.lon + x_m / m_per_deg_lon, self.lat + y_m / M_PER_DEG_LAT

    def keeps(self, x_m: float, y_m: float) -> bool:
        return self.inside is None or self.inside(*self.to_lonlat(x_m, y_m))

    def probe(self, name: str) -> str:
        return f"{name}-{self.tag}" if self.tag else name

    def site(self, site_id: str) -> str:
        return f"{self.tag}-{site_id}" if self.tag else site_id


SAMPLE_PLACE: Final = SamplePlace()


# Ward outline in metres east/north of the origin (about 1.3 km x 1.1 km).
_WARD_XY: Final = [(-650, -500), (600, -560), (680, 120), (520, 560), (-200, 600), (-700, 250)]


def ward_boundary() -> list[tuple[float, float]]:
    """The sample ward's outline as (lon, lat) pairs, closed."""
    ring = [to_lonlat(x, y) for x, y in _WARD_XY]
    return [*ring, ring[0]]


@dataclass(frozen=True)
class ServicePoint:
    site_id: str
    name: str
    site_type: str
    address: str
    x_m: float
    y_m: float
    plan_down_mbps: float
    fixed_efficiency: float

    @property
    def lonlat(self) -> tuple[float, float]:
        return to_lonlat(self.x_m, self.y_m)


SERVICE_POINTS: Final = (
    ServicePoint("hcc-01", "Điểm phục vụ hành chính công phường (mẫu)", "public_service_point",
                 "Số 1 phố Mẫu", -40, 30, 300, 0.93),
    ServicePoint("nvh-02", "Nhà văn hoá tổ dân phố 2 (mẫu)", "community_house",
                 "Ngõ 12 phố Mẫu", 430, -380, 100, 0.55),
    ServicePoint("bdsh-03", "Điểm bình dân học vụ số lưu động (mẫu)", "digital_literacy_point",
                 "Sân chợ Mẫu", -520, 300, 150, 0.9),
    ServicePoint("th-04", "Trường tiểu học Mẫu", "school", "Số 40 phố Mẫu", 250, 420, 200, 0.95),
)


@dataclass(frozen=True)
class _Site:
    x_m: float
    y_m: float
    peak_load: float  # cell load multiplier at peak hours


# Each carrier's macro sites; the layouts differ, so do the weak spots.
_SITES: Final[dict[Carrier, tuple[_Site, ...]]] = {
    Carrier.VIETTEL: (_Site(-300, 200, 1.3), _Site(350, -200, 5.0), _Site(100, 700, 1.25)),
    Carrier.VNPT: (_Site(-500, -300, 1.3), _Site(600, 300, 1.35), _Site(-100, 500, 5.0)),
    Carrier.MOBIFONE: (_Site(0, -100, 1.25), _Site(-900, 400, 1.2), _Site(550, 500, 5.0)),
}
# (x, y, radius m, extra loss dB): dense blocks where signal is weak indoors or a street canyon.
_LOSS_ZONES: Final = ((430, -380, 120, 16.0), (-520, 320, 140, 12.0), (560, 480, 150, 22.0))
# (x, y, radius, carrier, interference dBm): a co-channel interferer near the market.
_INTERFERERS: Final = ((-150, -350, 180, Carrier.VNPT, -80.0),)
_ACCESS: Final = {Carrier.VIETTEL: Access.LTE, Carrier.VNPT: Access.LTE, Carrier.MOBIFONE: Access.LTE}


def _shadow_db(carrier: Carrier, x_m: float, y_m: float) -> float:
    patch = (carrier.value, round(x_m / 25), round(y_m / 25))
    return random.Random(str(patch)).gauss(0.0, 6.0)


def _radio(carrier: Carrier, x: float, y: float) -> tuple[float, float, int]:
    """RSRP (dBm), SINR (dB) and the serving site index at (x, y)."""
    powers = []
    extra = sum(loss for zx, zy, r, loss in _LOSS_ZONES if math.hypot(x - zx, y - zy) < r)
    for site in _SITES[carrier]:
        d = max(math.hypot(x - site.x_m, y - site.y_m), 10.0)
        path_loss = 32.0 + 30.0 * math.log10(d)
        powers.append(RS_POWER_DBM - path_loss - extra + _shadow_db(carrier, x, y))
    serving = max(range(len(powers)), key=powers.__getitem__)
    rsrp = powers[serving]
    interference_mw = sum(
        INTERFERENCE_SHARE * 10 ** (p / 10) for i, p in enumerate(powers) if i != serving
    )
    interference_mw += 10 ** (NOISE_PER_RE_DBM / 10)
    for zx, zy, r, who, level in _INTERFERERS:
        if who is carrier and math.hypot(x - zx, y - zy) < r:
            interference_mw += 10 ** ((level - 27.0) / 10)  # spread over the band's REs
    sinr = rsrp - 10 * math.log10(interference_mw)
    return rsrp, sinr, serving


def _is_peak(when: datetime) -> bool:
    return 19 <= when.astimezone(LOCAL_TZ).hour < 22


def _mobile(carrier: Carrier, x: float, y: float, when: datetime, rng: random.Random,
            probe_id: str, setting: Setting, site_id: str | None,
            place: SamplePlace = SAMPLE_PLACE) -> Measurement:
    rsrp, sinr, serving = _radio(carrier, x, y)
    lon, lat = place.to_lonlat(x + rng.gauss(0, 4), y + rng.gauss(0, 4))
    site = _SITES[carrier][serving]
    common: dict[str, Any] = dict(
        id=uuid.uuid5(_NAMESPACE, f"{probe_id}/{carrier.value}/{when.isoformat()}/{x:.0f}/{y:.0f}"),
        probe_id=probe_id, source=Source.SYNTHETIC, measured_at=when, clock=ClockState.SYNCED,
        kind=Kind.THROUGHPUT_DOWN, tool="synthetic-model", server="synthetic",
        carrier=carrier, access=_ACCESS[carrier], lat=lat, lon=lon,
        accuracy_m=5.0 if site_id else 8.0,
        position_source=PositionSource.SITE if site_id else PositionSource.GPS,
        setting=setting, site_id=site_id, mcc="452",
        mnc={Carrier.VIETTEL: "04", Carrier.VNPT: "02", Carrier.MOBIFONE: "01"}[carrier],
    )
    if rsrp < NO_SERVICE_DBM:
        return Measurement(**common, error_kind=ErrorKind.NO_SERVICE,
                           error_message="modem not registered (synthetic)", duration_s=0.0,
                           bytes_used=0)
    spectral = MIMO_GAIN * 0.6 * 18.0 * math.log2(1 + 10 ** (sinr / 10))
    load = site.peak_load if _is_peak(when) else 1.0 + rng.random() * 0.3
    rate = min(150.0, spectral) / load * rng.uniform(0.85, 1.1)
    pci = (serving * 3 + int(x > 0)) * 7 + list(_SITES).index(carrier) * 101
    return Measurement(
        **common, download_mbps=round(rate, 2), rtt_ms=round(28 + 40 * load + rng.random() * 15, 1),
        bytes_used=int(rate * 1e6 / 8 * 3), duration_s=3.0, rsrp_dbm=round(max(rsrp, -140), 1),
        sinr_db=round(max(min(sinr, 40), -20), 1), pci=pci, earfcn=1850 if serving else 3650,
        band="B3" if serving else "B7", cell_id=0x1A2B00 + pci,
    )


def _fixed(point: ServicePoint, when: datetime, rng: random.Random,
           place: SamplePlace = SAMPLE_PLACE) -> Measurement:
    lon, lat = place.to_lonlat(point.x_m, point.y_m)
    site_id = place.site(point.site_id)
    peak_factor = 0.92 if _is_peak(when) else 1.0
    rate = point.plan_down_mbps * point.fixed_efficiency * peak_factor * rng.uniform(0.95, 1.02)
    return Measurement(
        id=uuid.uuid5(_NAMESPACE, f"fixed/{site_id}/{when.isoformat()}"),
        probe_id=place.probe("synthetic-pi"), source=Source.SYNTHETIC, measured_at=when,
        clock=ClockState.SYNCED, kind=Kind.THROUGHPUT_DOWN, tool="synthetic-model",
        server="synthetic", interface="eth0", carrier=Carrier.VNPT, access=Access.FIXED,
        plan_down_mbps=point.plan_down_mbps, download_mbps=round(rate, 2),
        rtt_ms=round(6 + rng.random() * 4, 1), bytes_used=int(rate * 1e6 / 8 * 3),
        duration_s=3.0, lat=lat, lon=lon, accuracy_m=5.0, position_source=PositionSource.SITE,
        setting=Setting.INDOOR, site_id=site_id,
    )


def _walk_points(rng: random.Random, step_m: float = 35.0) -> Iterator[tuple[float, float]]:
    """Points along a street grid covering the ward, with some sidewalk wobble."""
    for y in range(-450, 551, 120):
        for x in range(-600, 601, int(step_m)):
            yield x + rng.gauss(0, 5), y + rng.gauss(0, 5)
    for x in range(-560, 601, 150):
        for y in range(-450, 551, int(step_m)):
            yield x + rng.gauss(0, 5), y + rng.gauss(0, 5)


def place_points(place: SamplePlace = SAMPLE_PLACE) -> list[tuple[ServicePoint, str, float, float]]:
    """The service points `place` keeps: (point, its site id there, lon, lat)."""
    return [(p, place.site(p.site_id), *place.to_lonlat(p.x_m, p.y_m))
            for p in SERVICE_POINTS if place.keeps(p.x_m, p.y_m)]


def survey(start: datetime, days: int = 14, *, seed: int = 7, walks: int = 6,
           pi_interval_min: int = 60, place: SamplePlace = SAMPLE_PLACE) -> Iterator[Measurement]:
    """Yield the synthetic survey: volunteer walks plus Pi probes at every service point.

    Walks happen on `walks` evenings/mornings spread over `days`; Pis test every carrier and the
    fixed line every `pi_interval_min` minutes. Deterministic for a given `seed`; `place` lays it
    out elsewhere (see `SamplePlace`).
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    rng = random.Random(seed)
    walker, pi = place.probe("synthetic-walk"), place.probe("synthetic-pi")
    points = [p for p in SERVICE_POINTS if place.keeps(p.x_m, p.y_m)]
    carriers = list(_SITES)
    walk_hours = (8, 20, 14, 19, 10, 21)
    for w in range(walks):
        day = start + timedelta(days=days * w / walks)
        local = day.astimezone(LOCAL_TZ).replace(hour=walk_hours[w % len(walk_hours)], minute=0)
        t = local.astimezone(UTC)
        for x, y in _walk_points(rng):
            if not place.keeps(x, y):
                continue
            for carrier in carriers:
                yield _mobile(carrier, x, y, t, rng, walker, Setting.OUTDOOR, None, place)
            t += timedelta(seconds=40)
    steps = days * 24 * 60 // pi_interval_min
    for step in range(steps):
        t = start + timedelta(minutes=step * pi_interval_min)
        for point in points:
            for carrier in carriers:
                yield _mobile(carrier, point.x_m, point.y_m, t, rng, pi, Setting.INDOOR,
                              place.site(point.site_id), place)
            yield _fixed(point, t, rng, place)
