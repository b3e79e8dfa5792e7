"""Targets and statistical rules, read from one TOML file with their sources.

The defaults live in ``analysis/thresholds.toml`` next to this module:

- 4G: 40 Mbps download (2024 national target, measured with i-Speed; Hanoi Plan 58/KH-UBND of
  26/02/2025 sets the same average for covered areas);
- 5G (NSA and SA): 100 Mbps down, 50 Mbps up, and 95% of samples >= 30 Mbps (2020 5G criteria;
  Hanoi Plan 58/KH-UBND: average download >= 100 Mbps in covered areas);
- fixed broadband: >= 0.8 x the subscribed plan speed (QCVN 34:2022/BTTTT);
- the peak window, 19:00-22:00 local time (Asia/Ho_Chi_Minh): the evening residential busy hour
  of mobile networks, ending where the FCC challenge process stops accepting tests (22:00 local);
  a ward whose probes show another busy hour overrides it;
- the classification rules (`Rules`, explained in `analysis.classify`) and cause rules (`CauseRules`,
  explained in `analysis.causes`), and the dead-spot clustering (`analysis.deadspots`);
- which sources of measurements count in the statistics (`Sources`: probe, import and synthetic
  by default; the phones' ``browser`` results only where the ward adds them, see
  `analysis.sources`).

A ward overrides any key with a second TOML that holds only what changes (a stricter local target,
another busy hour); its source string should then cite the ward's own decision.

Example
-------
>>> t = load_thresholds()
>>> t.access["4g"].down_mbps
40.0
>>> t.windows.is_peak_hour(20), t.windows.is_peak_hour(22)
(True, False)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lomsong.probe.record import Source

__all__ = [
    "DEFAULT_PATH",
    "SOURCES",
    "AccessTarget",
    "CauseRules",
    "Rules",
    "Sources",
    "Thresholds",
    "Windows",
    "load_thresholds",
    "thresholds_from_dict",
]

DEFAULT_PATH = Path(__file__).with_name("thresholds.toml")
# Every value of `Measurement.source`.
SOURCES: tuple[str, ...] = tuple(s.value for s in Source)


@dataclass(frozen=True)
class AccessTarget:
    """Target for one access technology. `plan_fraction` applies to fixed lines only."""

    source: str
    down_mbps: float | None = None
    up_mbps: float | None = None
    floor_mbps: float | None = None
    floor_share: float | None = None
    plan_fraction: float | None = None


@dataclass(frozen=True)
class Windows:
    """Local-time windows: ``peak`` is [peak_start_hour, peak_end_hour), ``offpeak`` the rest."""

    timezone: str = "Asia/Ho_Chi_Minh"
    peak_start_hour: int = 19
    peak_end_hour: int = 22

    def is_peak_hour(self, hour: int) -> bool:
        if self.peak_start_hour <= self.peak_end_hour:
            return self.peak_start_hour <= hour < self.peak_end_hour
        return hour >= self.peak_start_hour or hour < self.peak_end_hour


@dataclass(frozen=True)
class Rules:
    """Sample rules of the classification (see `analysis.classify`)."""

    min_samples: int = 5
    min_slots: int = 2
    slot_hours: int = 4
    min_failed: int = 3
    weak_share: float = 0.5
    z: float = 1.959963984540054
    z_likely: float = 1.0
    dead_spot_link_m: float = 35.0
    dead_spot_margin_m: float = 15.0


@dataclass(frozen=True)
class CauseRules:
    """Radio and time-of-day rules that name a weak area's likely cause (see `analysis.areas`)."""

    rsrp_poor_dbm: float = -105.0
    sinr_poor_db: float = 3.0
    peak_drop_ratio: float = 0.7
    rsrp_good_dbm: float = -100.0
    sinr_good_db: float = 13.0
    congestion_p: float = 0.05
    backhaul_speed_ratio: float = 0.5
    congestion_p_high: float = 0.01


@dataclass(frozen=True)
class Sources:
    """Sources whose measurements count in cell statistics, weak areas and scorecards.

    The others (by default the phones' ``browser`` results, a different method) are still
    counted per source and shown as their own map layer, never mixed in silently.
    """

    in_statistics: tuple[str, ...] = ("probe", "import", "synthetic")


@dataclass(frozen=True)
class Thresholds:
    access: dict[str, AccessTarget]
    windows: Windows = field(default_factory=Windows)
    rules: Rules = field(default_factory=Rules)
    cause: CauseRules = field(default_factory=CauseRules)
    sources: Sources = field(default_factory=Sources)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _build(cls: type[Any], data: dict[str, Any], where: str) -> Any:
    allowed = set(cls.__dataclass_fields__)
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ValueError(f"{where}: {exc}") from exc


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from exc


def load_thresholds(
    path: str | Path | None = None, *, override: str | Path | None = None,
    override_text: str | None = None,
) -> Thresholds:
    """Read thresholds (default file unless `path`), then apply a ward's `override` TOML (a file,
    or `override_text`, the text of one).

    Raises
    ------
    ValueError
        Unknown keys or wrong types, naming the file and the section.

    Examples
    --------
    >>> load_thresholds().access["fixed"].plan_fraction
    0.8
    """
    base_path = Path(path) if path is not None else DEFAULT_PATH
    data = _read(base_path)
    where = str(base_path)
    if override is not None:
        data = _merge(data, _read(Path(override)))
        where = f"{base_path} + {override}"
    if override_text is not None:  # a ward's override as stored (collector's wards table)
        try:
            data = _merge(data, tomllib.loads(override_text))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"the ward's threshold override is not valid TOML: {exc}") from exc
        where = f"{where} + the ward's override"
    unknown = set(data) - {"access", "windows", "rules", "cause", "sources"}
    if unknown:
        raise ValueError(f"{where}: unknown section(s) {sorted(unknown)}")
    access = {
        str(name): _build(AccessTarget, dict(spec), f"{where} [access.{name}]")
        for name, spec in data.get("access", {}).items()
    }
    for name, target in access.items():
        for attr in ("down_mbps", "up_mbps", "floor_mbps", "floor_share", "plan_fraction"):
            value = getattr(target, attr)
            if value is not None and (not isinstance(value, int | float) or value <= 0):
                raise ValueError(f"{where} [access.{name}] {attr}: must be a positive number")
    windows = _build(Windows, data.get("windows", {}), f"{where} [windows]")
    for attr in ("peak_start_hour", "peak_end_hour"):
        if not 0 <= getattr(windows, attr) <= 24:
            raise ValueError(f"{where} [windows] {attr}: must be an hour 0-24")
    rules = _build(Rules, data.get("rules", {}), f"{where} [rules]")
    if not 0 < rules.weak_share < 1:
        raise ValueError(f"{where} [rules] weak_share: must be between 0 and 1")
    if not 0 < rules.z_likely <= rules.z:
        raise ValueError(f"{where} [rules] z_likely: must be positive and at most z")
    cause = _build(CauseRules, data.get("cause", {}), f"{where} [cause]")
    sources = _sources(data.get("sources", {}), f"{where} [sources]")
    return Thresholds(access=access, windows=windows, rules=rules, cause=cause, sources=sources)


def _sources(data: dict[str, Any], where: str) -> Sources:
    chosen = _build(Sources, data, where).in_statistics
    if not isinstance(chosen, list | tuple) or not all(isinstance(v, str) for v in chosen):
        raise ValueError(f"{where} in_statistics: must be a list of source names")
    bad = sorted(set(chosen) - set(SOURCES))
    if bad:
        raise ValueError(f"{where} in_statistics: unknown source(s) {bad}; "
                         f"choose from {', '.join(SOURCES)}")
    return Sources(in_statistics=tuple(dict.fromkeys(chosen)))


def thresholds_from_dict(data: dict[str, Any]) -> Thresholds:
    """The `Thresholds` of ``dataclasses.asdict(thresholds)`` (read back from JSON: lists
    become the tuples they were).

    >>> t = load_thresholds()
    >>> import dataclasses, json
    >>> thresholds_from_dict(json.loads(json.dumps(dataclasses.asdict(t)))) == t
    True
    """
    return Thresholds(
        access={str(k): AccessTarget(**v) for k, v in data["access"].items()},
        windows=Windows(**data["windows"]), rules=Rules(**data["rules"]),
        cause=CauseRules(**data["cause"]),
        sources=Sources(in_statistics=tuple(data["sources"]["in_statistics"])))
