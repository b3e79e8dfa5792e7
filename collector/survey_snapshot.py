"""A survey as bytes and back, so an analysis outlives the collector process that made it.

`dump_survey` writes a `collector.survey.Survey` (its analysis frames, the ward's outline, the
thresholds used and when/for which data it was made) as a zip of Parquet tables plus a JSON
manifest: data only, nothing that runs code when read (unlike pickle), so a snapshot read back
from the database can at worst fail to parse. `load_survey` rebuilds an equal survey (frames,
dtypes, CRS and ``attrs`` as they were), or raises `SnapshotError`.

Rendered texts (the map frames of `Survey.rendered` whose keys are tuples of strings) travel
with it, so the first map after a restart is not drawn again; `slot` names a per-process
placeholder in them that `load_survey` replaces by the reading process's own.

Snapshots are signed (HMAC-SHA256 with a key derived from the collector's secret key, which
the database never sees): one written into the database by anyone else, or under another
secret, is refused before any of it is parsed, so the database alone cannot put a page or a
script into the dashboard.

`fingerprint(config)` names the analysis code and settings: a snapshot made by other code or
thresholds is not the analysis this collector would make, and is never read back
(`collector.storage.snapshots.load_snapshot` matches it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import io
import json
import zipfile
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from lomsong.analysis.period import Period
from lomsong.analysis.pipeline import SurveyConfig, SurveyResult
from lomsong.analysis.thresholds import thresholds_from_dict
from lomsong.collector.storage.fleet import DataVersion
from lomsong.collector.survey import Survey

__all__ = ["FORMAT", "MAX_BYTES", "SnapshotError", "dump_survey", "fingerprint", "load_survey",
           "version_from_dict", "version_to_dict"]

# Bump when the layout below changes: older snapshots are then ignored (their fingerprint differs).
FORMAT = 1
_MAGIC = b"lomsong-survey\0"
_FRAMES = tuple(f.name for f in dataclasses.fields(SurveyResult))
# A snapshot is read whole into memory: refuse anything larger (a city ward's month is ~10 MB).
MAX_BYTES = 512 * 1024 * 1024


class SnapshotError(ValueError):
    """The bytes are not a survey snapshot this code can read."""


@cache
def _code_digest() -> str:
    """SHA-256 of the analysis code and default thresholds, and of the modules that turn rows
    into a survey: a new release's analysis is never mistaken for an old one's."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    files = sorted(here.parent.joinpath("analysis").glob("*.py")) + sorted(
        here.parent.joinpath("analysis").glob("*.toml")) + [
        here / "survey.py", here / "survey_db.py", Path(__file__).resolve()]
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def fingerprint(config: SurveyConfig | None) -> str:
    """The analysis code and `config` (None: the ward's own thresholds, read at analysis time;
    a change to those is a data change, `DataVersion`)."""
    settings = "ward" if config is None else json.dumps(dataclasses.asdict(config),
                                                        sort_keys=True, default=str)
    return hashlib.sha256(f"{FORMAT}\0{_code_digest()}\0{settings}".encode()).hexdigest()


def version_to_dict(version: DataVersion) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v
            for k, v in dataclasses.asdict(version).items()}


def version_from_dict(data: dict[str, Any]) -> DataVersion:
    def when(value: Any) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)

    return DataVersion(measurements=int(data["measurements"]),
                       latest_received_at=when(data["latest_received_at"]),
                       sites_changed_at=when(data["sites_changed_at"]), sites=int(data["sites"]))


def _frame_bytes(frame: pd.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.to_parquet(out, index=True)
    return out.getvalue()


def _dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {str(c): str(t) for c, t in frame.dtypes.items()}


def _read_frame(data: bytes, geo: bool, dtypes: dict[str, str]) -> pd.DataFrame:
    frame = gpd.read_parquet(io.BytesIO(data)) if geo else pd.read_parquet(io.BytesIO(data))
    for column, dtype in dtypes.items():  # Parquet reads text held as objects back as str
        if dtype == "object" and column in frame and str(frame[column].dtype) != "object":
            frame[column] = frame[column].astype(object)
    return frame


def _mac(key: str, body: bytes) -> bytes:
    if not key:
        raise ValueError("a snapshot needs a signing key")
    return hmac.new(key.encode(), body, hashlib.sha256).digest()


def dump_survey(survey: Survey, *, key: str, slot: str = "") -> bytes:
    """`survey` as a snapshot signed with `key` (see the module's note)."""
    body = _zip(survey, slot)
    return _MAGIC + _mac(key, body) + body


def _zip(survey: Survey, slot: str) -> bytes:
    out = io.BytesIO()
    frames: dict[str, dict[str, Any]] = {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in _FRAMES:
            frame = getattr(survey.result, name)
            zf.writestr(f"{name}.parquet", _frame_bytes(frame))
            frames[name] = {"geo": isinstance(frame, gpd.GeoDataFrame), "dtypes": _dtypes(frame)}
        if survey.boundary is not None:
            zf.writestr("boundary.parquet", _frame_bytes(survey.boundary))
        texts = []
        with survey.lock:
            rendered = list(survey.rendered.items())
        for i, (key, value) in enumerate(rendered):
            if isinstance(value, str) and all(isinstance(k, str) for k in key):
                zf.writestr(f"text-{i}.html", value.encode())
                texts.append({"key": list(key), "file": f"text-{i}.html"})
        manifest = {
            "format": FORMAT,
            "period": [survey.period.start_utc.isoformat(), survey.period.end_utc.isoformat()],
            "version": version_to_dict(survey.version),
            "ward_name": survey.ward_name, "measurements": survey.measurements,
            "thresholds": dataclasses.asdict(survey.report_input.thresholds),
            "frames": frames, "boundary": survey.boundary is not None,
            "texts": texts, "slot": slot,
        }
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False))
    return out.getvalue()


def load_survey(data: bytes, *, key: str, slot: str = "") -> Survey:
    """The survey of a `dump_survey` snapshot signed with `key`; raises `SnapshotError` when
    it is not one (or another key signed it)."""
    if len(data) > MAX_BYTES:
        raise SnapshotError(f"snapshot of {len(data)} bytes is larger than {MAX_BYTES}")
    head = len(_MAGIC) + hashlib.sha256().digest_size
    if not data.startswith(_MAGIC) or len(data) < head:
        raise SnapshotError("not a survey snapshot")
    body = data[head:]
    if not hmac.compare_digest(data[len(_MAGIC):head], _mac(key, body)):
        raise SnapshotError("the snapshot's signature does not match this collector's key")
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            manifest = json.loads(zf.read("manifest.json"))
            if manifest.get("format") != FORMAT:
                raise SnapshotError(f"snapshot format {manifest.get('format')!r}, not {FORMAT}")
            frames = {name: _read_frame(zf.read(f"{name}.parquet"), spec["geo"], spec["dtypes"])
                      for name, spec in manifest["frames"].items()}
            boundary = (gpd.read_parquet(io.BytesIO(zf.read("boundary.parquet")))
                        if manifest["boundary"] else None)
            old_slot = manifest.get("slot") or ""
            rendered: dict[tuple[str, ...], Any] = {}
            for text in manifest["texts"]:
                html = zf.read(text["file"]).decode()
                if old_slot and slot:
                    html = html.replace(old_slot, slot)
                elif old_slot or slot:  # a text whose placeholder cannot be mapped
                    continue
                rendered[tuple(str(k) for k in text["key"])] = html
            result = SurveyResult(**{name: frames[name] for name in _FRAMES})
            thresholds = thresholds_from_dict(manifest["thresholds"])
            start, end = (datetime.fromisoformat(t) for t in manifest["period"])
            version = version_from_dict(manifest["version"])
            ward_name, measurements = str(manifest["ward_name"]), int(manifest["measurements"])
    except SnapshotError:
        raise
    except (zipfile.BadZipFile, KeyError, TypeError, ValueError, OSError) as exc:
        raise SnapshotError(f"not a survey snapshot: {exc}") from exc
    return Survey.of(Period(start, end), version, ward_name, measurements, result, thresholds,
                     boundary, rendered)
