"""A SYNTHETIC ward with planted problems and a truth drawn from its own radio model.

Used by `benchmarks/analysis_truth.py` to check what the analysis says against what is there.
Nothing here looks at the classifier's rules: the truth is the model's noise-free median rate.

Model (local metres east/north of an origin in Hanoi; every carrier 4G, target 40 Mbit/s)
-----------------------------------------------------------------------------------------
- Sites: each carrier has its own macro grid (about 520 m apart, jittered per seed) covering the
  ward and 300 m beyond, so the ward's edges are served like its centre.
- Path loss ``32 + 30 log10(d)`` dB, log-normal shadowing (sigma 5 dB) fixed per 25 m patch and
  carrier, plus a planted extra loss in dead spots (45 dB, or more so that the serving RSRP is at
  most -130 dBm) and coverage holes (28 dB, or more so that it is at most -115 dBm: a hole or dead
  spot near a site is still one).
- SINR: serving RSRP over 0.03 x the other sites' power (light neighbour load) plus a noise floor
  of -121 dBm per resource element (thermal, UE noise figure, implementation margin); a planted
  co-channel interferer adds -85 dBm per RE for one carrier in its disc.
- Rate: ``gain x 0.75 x 18 MHz x log2(1 + SINR)``, gain 1.0 (one stream) rising to 1.6 (2x2
  MIMO) between 6 and 14 dB SINR, capped at 150 Mbit/s, divided by the cell load (off-peak 1.1,
  peak 1.6, a planted congested site 4.0 at peak), capped again by a planted backhaul fault
  (18 Mbit/s for every carrier in its disc; a planted *near-target* disc, which is no problem,
  caps one carrier at 45 Mbit/s, so that about a third of its tests fall under 40), then
  multiplied by per-test log-normal noise (sigma 0.3; 0.05 on fixed lines).
- A test fails with ``no_service`` when its RSRP (with 3 dB of fast fading) is below -122 dBm,
  and with ``timeout`` at random in 0.3 % of tests anywhere.
- Fixed lines at the service points (plan 100 Mbit/s) deliver 90 % of the plan; one planted fault
  delivers 55 %.
- Measurements: walkers on a 100 m street grid every 20 m in 8 sessions (3 at peak, 19:00-22:00)
  over 14 days with 5 m GPS noise, except a sparsely walked square visited in one session only;
  fixed probes at three service points every hour.

Truth: a place is weak for a carrier when the model's median rate (no per-test noise, no fading)
is below the target in the peak or off-peak window, or its median RSRP is below the no-service
level. The true share of a test below the target is the model's probability of it, so a cell's
true share below is the mean over its tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import shapely
from scipy.stats import norm

__all__ = ["Plant", "Ward", "make_ward", "measurements", "to_lonlat", "to_xy", "truth_weak"]

ORIGIN_LAT, ORIGIN_LON = 21.0285, 105.8520
M_LAT = 110_574.0
M_LON = 111_320.0 * math.cos(math.radians(ORIGIN_LAT))
WARD_X, WARD_Y = (-800.0, 800.0), (-600.0, 600.0)
CARRIERS = ("viettel", "vnpt", "mobifone")
FIXED_ISP = "vnpt"
TARGET_MBPS = 40.0
NO_SERVICE_DBM = -122.0
NOISE_DBM = -121.0
SHADOW_DB = 5.0
INTERFERENCE_SHARE = 0.03
EFFICIENCY = 0.75
TEST_SIGMA = 0.3
DEAD_LOSS_DB = 45.0
HOLE_LOSS_DB = 28.0
HOLE_RSRP_DBM = -115.0
DEAD_RSRP_DBM = -130.0
NEAR_TARGET_MBPS = 45.0
FIXED_SIGMA = 0.05
LOAD = {"offpeak": 1.1, "peak": 1.6}
CONGESTED_PEAK_LOAD = 4.0
BACKHAUL_CAP_MBPS = 18.0
DEAD_SIZES_M = (50.0, 100.0, 200.0, 300.0, 500.0)
SESSIONS = ((0, 8), (2, 19), (3, 10), (5, 13), (7, 19), (9, 16), (11, 19), (13, 15))
START = datetime(2026, 11, 2)  # naive UTC midnight
LOCAL_OFFSET = timedelta(hours=7)


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return ORIGIN_LON + np.asarray(x) / M_LON, ORIGIN_LAT + np.asarray(y) / M_LAT


def to_xy(geom: shapely.Geometry) -> shapely.Geometry:
    """A lon/lat geometry in the ward's local metres."""
    return shapely.transform(geom, lambda c: np.column_stack(
        [(c[:, 0] - ORIGIN_LON) * M_LON, (c[:, 1] - ORIGIN_LAT) * M_LAT]))


@dataclass(frozen=True)
class Plant:
    """One planted problem: `kind`, the carrier (or ``fixed``), its place and what is expected."""

    kind: str
    carrier: str
    x: float
    y: float
    radius_m: float
    cause: str
    status: str
    zone: shapely.Geometry  # local metres
    access: str = "4g"


@dataclass(frozen=True)
class Ward:
    seed: int
    sites: dict[str, np.ndarray]  # carrier -> (n, 2) positions
    congested: dict[str, int]  # carrier -> index of its congested site
    plants: list[Plant]
    points: np.ndarray  # service points (n, 2)
    sparse: shapely.Geometry

    @property
    def outline(self) -> shapely.Geometry:
        return shapely.box(WARD_X[0], WARD_Y[0], WARD_X[1], WARD_Y[1])


def _shadow(carrier: str, seed: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    gx = np.round(x / 25).astype("int64")
    gy = np.round(y / 25).astype("int64")
    key = (gx * 7919 + gy * 104_729 + CARRIERS.index(carrier) * 15_485_863 + seed * 32_452_843)
    hashed = (key * 2_654_435_761) % (2**32)
    return np.asarray(norm.ppf((hashed + 0.5) / 2**32) * SHADOW_DB)


def _in(plants: list[Plant], kind: str, carrier: str | None, x: np.ndarray,
        y: np.ndarray) -> np.ndarray:
    hit = np.zeros(len(x), dtype=bool)
    for p in plants:
        if p.kind == kind and (carrier is None or p.carrier == carrier):
            hit |= np.hypot(x - p.x, y - p.y) < p.radius_m
    return hit


def radio(ward: Ward, carrier: str, x: np.ndarray, y: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median RSRP (dBm), SINR (dB) and serving site index at each point."""
    sites = ward.sites[carrier]
    d = np.maximum(np.hypot(x[:, None] - sites[None, :, 0], y[:, None] - sites[None, :, 1]), 10.0)
    power = 18.0 - 32.0 - 30.0 * np.log10(d) + _shadow(carrier, ward.seed, x, y)[:, None]
    hole = _in(ward.plants, "coverage", carrier, x, y)
    extra = np.where(hole, np.maximum(HOLE_LOSS_DB, power.max(axis=1) - HOLE_RSRP_DBM), 0.0)
    dead = _in(ward.plants, "dead_spot", carrier, x, y)
    extra += np.where(dead, np.maximum(DEAD_LOSS_DB, power.max(axis=1) - DEAD_RSRP_DBM), 0.0)
    power = power - extra[:, None]
    serving = power.argmax(axis=1)
    rsrp = power.max(axis=1)
    mw = 10 ** (power / 10)
    others = mw.sum(axis=1) - 10 ** (rsrp / 10)
    noise = INTERFERENCE_SHARE * others + 10 ** (NOISE_DBM / 10)
    noise += _in(ward.plants, "interference", carrier, x, y) * 10 ** (-85.0 / 10)
    return rsrp, rsrp - 10 * np.log10(noise), serving


def median_rate(ward: Ward, carrier: str, x: np.ndarray, y: np.ndarray, peak: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Model median rate (Mbit/s), RSRP, SINR and serving site at each point and window."""
    rsrp, sinr, serving = radio(ward, carrier, x, y)
    gain = 1.0 + 0.6 * np.clip((sinr - 6.0) / 8.0, 0.0, 1.0)
    rate = np.minimum(150.0, gain * EFFICIENCY * 18.0 * np.log2(1 + 10 ** (sinr / 10)))
    load = np.where(peak, LOAD["peak"], LOAD["offpeak"])
    load = np.where(peak & (serving == ward.congested[carrier]), CONGESTED_PEAK_LOAD, load)
    rate = rate / load
    rate = np.where(_in(ward.plants, "backhaul", None, x, y),
                    np.minimum(rate, BACKHAUL_CAP_MBPS), rate)
    rate = np.where(_in(ward.plants, "near_target", carrier, x, y),
                    np.minimum(rate, NEAR_TARGET_MBPS), rate)
    return rate, rsrp, sinr, serving


def truth_weak(ward: Ward, carrier: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True where the model says the place is weak for `carrier` (either window, or no service)."""
    off, rsrp, _, _ = median_rate(ward, carrier, x, y, np.zeros(len(x), dtype=bool))
    peak = median_rate(ward, carrier, x, y, np.ones(len(x), dtype=bool))[0]
    return np.asarray((off < TARGET_MBPS) | (peak < TARGET_MBPS) | (rsrp < NO_SERVICE_DBM))


def _streets() -> np.ndarray:
    xs = np.arange(WARD_X[0], WARD_X[1] + 1, 20.0)
    ys = np.arange(WARD_Y[0], WARD_Y[1] + 1, 20.0)
    rows = [np.column_stack([xs, np.full(len(xs), y)]) for y in np.arange(-550, 551, 100.0)]
    cols = [np.column_stack([np.full(len(ys), x), ys]) for x in np.arange(-750, 751, 100.0)]
    return np.concatenate(rows + cols)


def _congestion_zone(ward: Ward, carrier: str) -> shapely.Geometry:
    g = np.arange(-900.0, 901.0, 20.0)
    gx, gy = (a.ravel() for a in np.meshgrid(g, g))
    off = median_rate(ward, carrier, gx, gy, np.zeros(len(gx), dtype=bool))
    peak = median_rate(ward, carrier, gx, gy, np.ones(len(gx), dtype=bool))
    hit = ((off[3] == ward.congested[carrier]) & (peak[0] < TARGET_MBPS)
           & (off[0] >= TARGET_MBPS))
    boxes = shapely.box(gx[hit] - 10, gy[hit] - 10, gx[hit] + 10, gy[hit] + 10)
    return shapely.union_all(boxes).intersection(ward.outline)


def make_ward(seed: int) -> Ward:
    """Sites, planted problems and service points of survey `seed` (deterministic)."""
    rng = np.random.default_rng(seed)
    sites = {}
    for c in CARRIERS:
        grid = [(x, y) for x in np.arange(-1100, 1101, 520.0)
                for y in np.arange(-900, 901, 450.0)]
        base = np.array(grid) + rng.uniform(-90, 90, (len(grid), 2))
        sites[c] = base + np.array([CARRIERS.index(c) * 170.0, CARRIERS.index(c) * 90.0])
    street = _streets()
    inner = street[(np.abs(street[:, 0]) < 700) & (np.abs(street[:, 1]) < 500)]
    order = [CARRIERS[(seed + k) % 3] for k in range(3)]
    crowded = order[2]
    near = np.flatnonzero((np.abs(sites[crowded][:, 0]) < 550)
                          & (np.abs(sites[crowded][:, 1]) < 400))
    congested = {c: -1 for c in CARRIERS}
    congested[crowded] = int(near[rng.integers(len(near))])
    site = sites[crowded][congested[crowded]]
    taken: list[tuple[float, float, float]] = [(float(site[0]), float(site[1]), 250.0)]

    def place(radius: float) -> tuple[float, float]:
        for _ in range(2000):
            x, y = inner[rng.integers(len(inner))]
            if all(math.hypot(x - a, y - b) > radius + r + 80 for a, b, r in taken):
                taken.append((x, y, radius))
                return float(x), float(y)
        raise RuntimeError(f"seed {seed}: no room for a planted problem of radius {radius}")

    sparse_xy = place(125.0)
    sparse = shapely.box(sparse_xy[0] - 125, sparse_xy[1] - 125, sparse_xy[0] + 125,
                         sparse_xy[1] + 125)
    plants: list[Plant] = []
    for k in range(2):
        size = DEAD_SIZES_M[(2 * seed + k) % len(DEAD_SIZES_M)]
        x, y = place(size / 2)
        plants.append(Plant("dead_spot", order[k], x, y, size / 2, "no_service", "dead_spot",
                            shapely.Point(x, y).buffer(size / 2)))
    specs = (("coverage", order[0], 150.0), ("interference", order[1], 150.0))
    for kind, carrier, r in specs:
        x, y = place(r)
        plants.append(Plant(kind, carrier, x, y, r, kind, "confirmed_weak",
                            shapely.Point(x, y).buffer(r)))
    x, y = place(150.0)
    plants.append(Plant("near_target", order[1], x, y, 150.0, "", "ok",
                        shapely.Point(x, y).buffer(150.0)))
    x, y = place(130.0)
    for c in CARRIERS:
        plants.append(Plant("backhaul", c, x, y, 130.0, "backhaul", "confirmed_weak",
                            shapely.Point(x, y).buffer(130.0)))
    points = np.array([place(20.0) for _ in range(3)])
    plants.append(Plant("fixed_backhaul", FIXED_ISP, float(points[0, 0]), float(points[0, 1]),
                        20.0, "backhaul", "confirmed_weak", shapely.Point(points[0]).buffer(20.0),
                        access="fixed"))
    ward = Ward(seed, sites, congested, plants, points, sparse)
    plants.append(Plant("congestion", crowded, float(site[0]), float(site[1]), 0.0, "congestion",
                        "confirmed_weak", _congestion_zone(ward, crowded)))
    return ward


def _session_times(rng: np.random.Generator, day: int, hour: int, n: int) -> np.ndarray:
    start = START + timedelta(days=day, hours=hour) - LOCAL_OFFSET
    offsets = np.sort(rng.uniform(0, 2.9 * 3600, n))
    return np.datetime64(start, "us") + (offsets * 1e6).astype("timedelta64[us]")


def measurements(ward: Ward) -> pd.DataFrame:
    """The survey's records (Measurement columns) plus ``true_p_below``: the model's probability
    that each download test is below the target (1 for a failed test)."""
    rng = np.random.default_rng(ward.seed + 10_000)
    street = _streets()
    frames = []
    for n_session, (day, hour) in enumerate(SESSIONS):
        pts = street
        if n_session > 0:
            pts = pts[~shapely.contains_xy(ward.sparse, pts[:, 0], pts[:, 1])]
        times = _session_times(rng, day, hour, len(pts))
        for c in CARRIERS:
            frames.append(pd.DataFrame({"x": pts[:, 0], "y": pts[:, 1], "measured_at": times,
                                        "carrier": c, "probe_id": "synthetic-walk",
                                        "line": False, "site_id": None, "peak": hour >= 19}))
    hours = np.arange(14 * 24)
    for k, (px, py) in enumerate(ward.points):
        local_hour = hours % 24
        times = (np.datetime64(START, "us")
                 + (hours * 3600 * 1e6).astype("timedelta64[us]")
                 - np.timedelta64(7, "h"))
        for c in (*CARRIERS, "fixed"):
            frames.append(pd.DataFrame({"x": px, "y": py, "measured_at": times, "carrier": c,
                                        "line": c == "fixed",
                                        "probe_id": "synthetic-pi", "site_id": f"sp-{k}",
                                        "peak": (local_hour >= 19) & (local_hour < 22)}))
    f = pd.concat(frames, ignore_index=True)
    walker = f["probe_id"].to_numpy() == "synthetic-walk"
    x = f["x"].to_numpy() + np.where(walker, rng.normal(0, 5, len(f)), 0.0)
    y = f["y"].to_numpy() + np.where(walker, rng.normal(0, 5, len(f)), 0.0)
    peak = f["peak"].to_numpy(dtype=bool)
    n = len(f)
    rate_med = np.full(n, np.nan)
    rsrp = np.full(n, np.nan)
    sinr = np.full(n, np.nan)
    pci = np.full(n, np.nan)
    carrier = f["carrier"].to_numpy()
    for c in CARRIERS:
        m = carrier == c
        r, rs, si, serving = median_rate(ward, c, x[m], y[m], peak[m])
        rate_med[m], rsrp[m], sinr[m] = r, rs, si
        pci[m] = serving * 3 + CARRIERS.index(c) * 100
    fixed = f["line"].to_numpy(dtype=bool)
    efficiency = np.where(np.hypot(x - ward.points[0, 0], y - ward.points[0, 1]) < 1, 0.55, 0.9)
    rate_med[fixed] = 100.0 * efficiency[fixed] * np.where(peak[fixed], 0.95, 1.0)
    sigma = np.where(fixed, FIXED_SIGMA, TEST_SIGMA)
    noise = rng.lognormal(0.0, sigma, n)
    fading = rng.normal(0.0, 3.0, n)
    no_service = ~fixed & (rsrp + fading < NO_SERVICE_DBM)
    timeout = rng.random(n) < 0.003
    failed = no_service | timeout
    rate = np.round(rate_med * noise, 2)
    with np.errstate(divide="ignore"):
        p_below = norm.cdf(np.log(TARGET_MBPS / rate_med) / TEST_SIGMA)
    p_below = np.where(fixed, norm.cdf(np.log(80.0 / rate_med) / FIXED_SIGMA), p_below)
    p_below = np.where(failed, 1.0, p_below)
    lon, lat = to_lonlat(x, y)
    error = np.where(no_service, "no_service", np.where(timeout, "timeout", None))
    return pd.DataFrame({
        "probe_id": f["probe_id"], "measured_at": f["measured_at"].astype("datetime64[us]"),
        "kind": "throughput_down", "tool": "synthetic-model", "source": "synthetic",
        "carrier": np.where(fixed, FIXED_ISP, carrier), "access": np.where(fixed, "fixed", "4g"),
        "plan_down_mbps": np.where(fixed, 100.0, np.nan),
        "download_mbps": np.where(failed, np.nan, rate),
        "rsrp_dbm": np.where(fixed | no_service, np.nan, np.round(rsrp + fading, 1)),
        "sinr_db": np.where(fixed | no_service, np.nan, np.round(sinr + rng.normal(0, 2, n), 1)),
        "pci": np.where(fixed, np.nan, pci), "error_kind": error, "site_id": f["site_id"],
        "lat": lat, "lon": lon, "true_p_below": p_below, "x_m": x, "y_m": y,
    })
