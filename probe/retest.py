"""Re-test requests: the collector asks this probe to test one carrier's path more often for a while.

When a carrier says a case is done, the collector asks the fixed probes near the case's place to
test that carrier every `every_min` minutes (e.g. 10 instead of about 30) from `starts_at` until
`ends_at` (``GET /api/v1/probes/schedule``, only this probe's requests). `RetestPlanner` keeps them:

- it fetches the list when the scheduler starts and then every ``[retest] refresh_s``; an answer
  replaces the list whole (an empty one cancels them), a malformed one is logged and ignored;
- it keeps the list and today's count of extra tests per path in a JSON file beside the spool, so
  a restart keeps both; while the collector cannot be reached the last list still applies, but
  only for ``offline_keep_h`` hours after the last answer: then, as when a request ends, the
  probe is back on its normal schedule;
- it inserts an extra test on a path only when the path's carrier is the request's, inside the
  window, outside the quiet hours, `every_min` (x 0.9-1.1) after the path's last test and before
  its next normal one, and never more than ``[retest] max_extra_per_day`` extra tests per path and
  local day (nor the request's own `max_extra_per_day`): the SIM's data budget decides.

Example
-------
>>> body = {"retests": [{"case_id": 7, "carrier": "viettel", "access": "4g", "every_min": 10,
...          "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-08T00:00:00Z",
...          "max_extra_per_day": 72}]}
>>> [(r.case_id, r.carrier.value, r.every_min) for r in parse_schedule(body)]
[(7, 'viettel', 10)]
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from lomsong.probe.config import PathSettings
from lomsong.probe.plan import RetestSettings, ScheduleSettings
from lomsong.probe.record import Access, Carrier
from lomsong.probe.scheduler import in_window

__all__ = ["RetestPlanner", "RetestRequest", "parse_schedule", "retest_state_path"]

logger = logging.getLogger(__name__)

MAX_REQUESTS = 20


class RetestRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    case_id: int = Field(ge=1)
    carrier: Carrier
    access: Access
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    every_min: int = Field(ge=5, le=240)
    max_extra_per_day: int = Field(ge=1, le=288)

    @model_validator(mode="after")
    def _window(self) -> RetestRequest:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    retests: tuple[RetestRequest, ...] = Field(max_length=MAX_REQUESTS)


class _State(BaseModel):
    """What the state file holds."""

    requests: tuple[RetestRequest, ...] = ()
    fetched_at: AwareDatetime | None = None
    day: date | None = None
    extra: dict[str, int] = Field(default_factory=dict)


def parse_schedule(body: object) -> tuple[RetestRequest, ...]:
    """The requests of a ``{"retests": [...]}`` body; ValueError naming the bad field."""
    try:
        return _Body.model_validate(body).retests
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise ValueError(f"the collector's re-test schedule is not valid: {problems}") from exc


def retest_state_path(spool_path: Path) -> Path:
    """Where the requests and today's extra-test counts are kept: beside the spool."""
    return spool_path.with_name(spool_path.name + ".retest.json")


@dataclass
class RetestPlanner:
    """This probe's re-test requests and its extra tests (see the module docstring).

    `fetch` returns the collector's decoded answer, or None when it could not be reached.
    """

    settings: RetestSettings
    schedule: ScheduleSettings
    state_path: Path
    fetch: Callable[[], object] | None = None
    _state: _State = field(default_factory=_State, init=False)
    _asked_at: datetime | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        try:
            self._state = _State.model_validate_json(self.state_path.read_bytes())
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            logger.warning("re-test state %s: %s; starting without requests", self.state_path, exc)

    @property
    def requests(self) -> tuple[RetestRequest, ...]:
        return self._state.requests

    def refresh_in_s(self, now: datetime) -> float | None:
        """Seconds until the next fetch is due (None: this planner never fetches)."""
        if self.fetch is None or not self.settings.enabled:
            return None
        if self._asked_at is None or now < self._asked_at:
            return 0.0
        due = self._asked_at + timedelta(seconds=self.settings.refresh_s)
        return max(0.0, (due - now).total_seconds())

    def refresh(self, now: datetime) -> None:
        """Ask the collector when due; keep the last list when it does not answer."""
        if self.fetch is None or self.refresh_in_s(now) != 0.0:
            return
        self._asked_at = now
        body = self.fetch()
        if body is None:
            logger.info("re-test schedule: the collector did not answer; keeping the last list")
            return
        try:
            requests = parse_schedule(body)
        except ValueError as exc:
            logger.warning("%s; keeping the last list", exc)
            return
        kept = tuple(r for r in requests if r.ends_at > now)
        if kept != self._state.requests:
            listed = ", ".join(f"case {r.case_id} {r.carrier.value} every {r.every_min} min"
                               f" until {r.ends_at:%Y-%m-%d %H:%M}Z" for r in kept)
            logger.info("re-test schedule: %d request(s): %s", len(kept), listed or "none")
        self._state = self._state.model_copy(update={"requests": kept, "fetched_at": now})
        self._save()

    def _live(self, now: datetime) -> tuple[RetestRequest, ...]:
        fetched = self._state.fetched_at
        if fetched is None or now - fetched > timedelta(hours=self.settings.offline_keep_h):
            return ()  # never answered, or silent too long: the normal schedule
        return tuple(r for r in self._state.requests if r.ends_at > now)

    def extra_count(self, path: PathSettings, at: datetime) -> int:
        """Extra tests `path` had on the local day of `at`."""
        day = at.astimezone(self.schedule.zone).date()
        return self._state.extra.get(path.name, 0) if self._state.day == day else 0

    def next_extra(self, path: PathSettings, last_at: datetime, factor: float,
                   now: datetime) -> datetime | None:
        """When `path` (last tested at `last_at`) should have its next extra test, or None.

        `factor` (0.9-1.1, drawn by the caller after each test) spreads a fleet's extra tests.
        """
        if not self.settings.enabled:
            return None
        best: datetime | None = None
        for r in self._live(now):
            if r.carrier is not path.carrier:
                continue
            at = max(last_at + timedelta(minutes=r.every_min * factor), r.starts_at)
            cap = min(self.settings.max_extra_per_day, r.max_extra_per_day)
            if at >= r.ends_at or self.extra_count(path, at) >= cap or self._quiet(at):
                continue
            best = at if best is None else min(best, at)
        return best

    def _quiet(self, at: datetime) -> bool:
        quiet = self.schedule.quiet_window
        return quiet is not None and in_window(at.astimezone(self.schedule.zone).time(), quiet)

    def note_extra(self, path: PathSettings, at: datetime) -> None:
        """Count an extra test of `path` (persisted at once)."""
        day = at.astimezone(self.schedule.zone).date()
        extra = dict(self._state.extra) if self._state.day == day else {}
        extra[path.name] = extra.get(path.name, 0) + 1
        self._state = self._state.model_copy(update={"day": day, "extra": extra})
        self._save()

    def _save(self) -> None:
        temp = self.state_path.with_name(self.state_path.name + ".tmp")
        try:
            temp.write_text(self._state.model_dump_json(), encoding="utf-8")
            os.replace(temp, self.state_path)
        except OSError as exc:
            logger.warning("re-test state %s: %s", self.state_path, exc)
