"""Serve the last result at once, recompute in the background: a small bounded cache.

`RefreshCache.get(key, version, compute)` returns the value stored for `key`:

- none yet (the first load of that key): `compute()` runs in the caller's thread, once however
  many callers ask at the same time (the others wait for it);
- stored for `version`: at once;
- stored for an older version: the stored value at once, with ``refreshing=True``, while one
  background worker per key computes the new one (a bounded pool of `workers` threads runs the
  refreshes of all keys). When the last computation of the key took less than `wait_below_s`,
  the caller waits for the new one instead (a quick analysis is worth a fresh answer).

At most `max_entries` keys are kept (least recently used dropped), one value each. A failed
refresh is logged and the old value kept; the same version is not tried again (a newer one is).

Used by the dashboard's surveys (`collector.dashboard.survey.SurveyCache`); any page whose
results are slow to make and keyed by a cheap version can use it the same way.

Example
-------
>>> cache: RefreshCache[str, int] = RefreshCache(max_entries=2)
>>> cache.get("ward", 1, lambda: 41).value
41
>>> got = cache.get("ward", 1, lambda: 42)  # same version: no computation
>>> got.value, got.refreshing
(41, False)
>>> cache.close()
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Generic, TypeVar

__all__ = ["Fetched", "Pending", "RefreshCache"]

log = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class Fetched(Generic[V]):
    """A cached value, when its computation started (`made_at`, UTC: it reflects the data as
    of then), how long it took, and whether a newer one is being computed."""

    value: V
    version: Hashable
    made_at: datetime
    took_s: float
    refreshing: bool
    # Newer data exist, but their analysis failed (logged): this value is older than the data.
    refresh_failed: bool = False


class Pending(Exception):
    """The first value of a key is being made (since `started_at`, UTC); ask again later."""

    def __init__(self, started_at: datetime) -> None:
        super().__init__(f"being computed since {started_at.isoformat()}")
        self.started_at = started_at


@dataclass
class _First(Generic[V]):
    started_at: datetime
    future: Future[Fetched[V]] = field(default_factory=Future)


@dataclass
class _Entry(Generic[V]):
    done: Fetched[V]
    pending: Future[None] | None = None
    failed_version: Hashable | None = None


class RefreshCache(Generic[K, V]):
    """Values by key, served stale while a bounded pool of workers refreshes them.

    Parameters
    ----------
    max_entries : int
        Keys kept (least recently used dropped first).
    workers : int
        Background refreshes running at once (further ones queue; one per key at most).
    wait_below_s : float
        A caller waits for the refresh of a key whose last computation took less than this.
    on_computed : callable, optional
        ``on_computed(key, fetched)`` after every computation (first or refresh), in the thread
        that made it (e.g. to keep a copy that outlives the process); its failures are logged.
    version_of : callable, optional
        ``version_of(value)``: the version a value was made for. With it, `get` may be called
        with version None when the key is not held: the first computation finds the version
        itself (a caller then never waits for a version check before the first value).
    """

    def __init__(self, max_entries: int = 4, workers: int = 1,
                 wait_below_s: float = 0.0,
                 on_computed: Callable[[K, Fetched[V]], None] | None = None,
                 version_of: Callable[[V], Hashable] | None = None) -> None:
        if max_entries < 1 or workers < 1:
            raise ValueError("max_entries and workers must be at least 1")
        self._on_computed = on_computed
        self._version_of = version_of
        self._max = max_entries
        self._wait_below_s = wait_below_s
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._first: dict[K, _First[V]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="refresh")
        # First computations asked for with a `wait_s` (each key once at a time).
        self._firsts = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="first")
        self._closed = False

    def holds(self, key: K) -> bool:
        """Whether a value of `key` is kept in memory."""
        with self._lock:
            return key in self._entries

    def get(self, key: K, version: Hashable | None, compute: Callable[[], V], *,
            refresh: Callable[[V], V] | None = None,
            load: Callable[[], Fetched[V] | None] | None = None,
            wait_s: float | None = None) -> Fetched[V]:
        """The value of `key`, computed by `compute()` for `version` (see the module's note).

        A background refresh runs ``refresh(last value)`` instead when given (it may compute
        and then prepare the new value from what the last one was used for). When the key is
        not held, ``load()`` may give a value kept elsewhere (made for any version, e.g. by an
        earlier process): it is served as the last value, refreshed when its version is not
        `version`; when it gives None (or fails), `compute` runs.

        With `wait_s`, the first computation of a key runs in a background thread and a caller
        waits at most `wait_s` seconds for it: then `Pending` is raised (ask again later; the
        computation goes on). Without it, the first computation runs in the caller's thread.

        `version` None (with ``version_of``): the value held, whatever its version, or the
        first one (kept elsewhere or computed, its version read from it).

        Raises
        ------
        Pending
            The first value of `key` is still being made after `wait_s` seconds.
        """
        with self._lock:
            entry = self._entries.get(key)
            first = None
            if entry is None:
                first = self._first.get(key)
                owner = first is None
                if first is None:
                    first = self._first[key] = _First(datetime.now(UTC))
        if entry is None:
            assert first is not None
            if owner:
                job = partial(self._first_run, key, version, compute, load, first)
                if wait_s is None or not self._in_background(job):
                    job()  # made in the caller's thread
            try:
                done = first.future.result(timeout=wait_s)
            except TimeoutError:
                raise Pending(first.started_at) from None
            with self._lock:
                entry = self._entries.get(key)
            if entry is None or entry.done is not done or done.version == version:
                return done
        with self._lock:
            self._keep(key, entry)
            if version is None or entry.done.version == version:
                return _with(entry.done, entry.pending is not None)
            if entry.pending is None and entry.failed_version != version and not self._closed:
                again = compute if refresh is None else partial(refresh, entry.done.value)
                entry.pending = self._pool.submit(self._refresh, key, entry, version, again)
            pending, stale = entry.pending, entry.done
        if pending is not None and stale.took_s < self._wait_below_s:
            with contextlib.suppress(CancelledError):  # closed meanwhile: the stale value
                pending.result()
            with self._lock:
                return _with(entry.done, entry.pending is not None,
                             entry.done.version != version and entry.failed_version == version)
        with self._lock:
            failed = entry.failed_version == version
        return _with(stale, pending is not None, failed)

    def _refresh(self, key: K, entry: _Entry[V], version: Hashable,
                 compute: Callable[[], V]) -> None:
        with self._lock:
            if self._entries.get(key) is not entry:  # dropped while queued: nobody asks for it
                entry.pending = None
                return
        try:
            done = _run(version, compute, self._version_of)
        except Exception:
            log.exception("background refresh of %r (version %r) failed; the last result "
                          "stays", key, version)
            with self._lock:
                entry.pending, entry.failed_version = None, version
            return
        with self._lock:
            entry.done, entry.pending, entry.failed_version = done, None, None
            if self._entries.get(key) is entry:
                self._entries.move_to_end(key)
        self._computed(key, done)

    def _in_background(self, job: Callable[[], None]) -> bool:
        """Start `job` in the first computations' threads; False once closed."""
        try:
            self._firsts.submit(job)
        except RuntimeError:
            return False
        return True

    def _first_run(self, key: K, version: Hashable, compute: Callable[[], V],
                   load: Callable[[], Fetched[V] | None] | None, first: _First[V]) -> None:
        """The first value of `key`: kept elsewhere (`load`) or computed; its waiters get it."""
        try:
            loaded = _loaded(key, load)
            done = loaded if loaded is not None else _run(version, compute, self._version_of)
        except BaseException as exc:
            with self._lock:
                self._first.pop(key, None)
            first.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        with self._lock:
            self._keep(key, _Entry(done))
            self._first.pop(key, None)
        first.future.set_result(done)
        if loaded is None:
            self._computed(key, done)

    def _computed(self, key: K, done: Fetched[V]) -> None:
        if self._on_computed is None:
            return
        try:
            self._on_computed(key, done)
        except Exception:  # keeping a copy elsewhere must never cost the value itself
            log.exception("keeping the result of %r failed", key)

    def _store(self, key: K, done: Fetched[V]) -> None:
        self._keep(key, _Entry(done))

    def _keep(self, key: K, entry: _Entry[V]) -> None:
        """Make `entry` the most recently used value of `key` (again, if another thread dropped
        it meanwhile); drop the least recently used beyond `max_entries`, with their queued
        refresh. Call with the lock held."""
        if self._entries.get(key) is entry:
            self._entries.move_to_end(key)
        else:
            self._entries[key] = entry
        while len(self._entries) > self._max:
            _key, dropped = self._entries.popitem(last=False)
            if dropped.pending is not None and dropped.pending.cancel():
                dropped.pending = None

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        """Wait until no refresh is queued or running (tests, shutdown); False on timeout."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            with self._lock:
                pending = [e.pending for e in self._entries.values() if e.pending is not None]
            if not pending:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            try:
                pending[0].result(timeout=left)
            except TimeoutError:
                return False
            except CancelledError:
                return True  # closed

    def snapshot(self) -> list[tuple[K, Fetched[V]]]:
        """The keys kept and their last finished values, least recently used first."""
        with self._lock:
            return [(k, _with(e.done, e.pending is not None)) for k, e in self._entries.items()]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def close(self) -> None:
        """Start no more refreshes; drop the queued ones (a running one finishes)."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._firsts.shutdown(wait=False, cancel_futures=False)  # callers wait for them


def _loaded(key: Hashable, load: Callable[[], Fetched[V] | None] | None) -> Fetched[V] | None:
    if load is None:
        return None
    try:
        return load()
    except Exception:  # a copy that cannot be read is no reason to fail: compute instead
        log.exception("loading the kept result of %r failed; computing it", key)
        return None


def _run(version: Hashable | None, compute: Callable[[], V],
         version_of: Callable[[V], Hashable] | None = None) -> Fetched[V]:
    made_at = datetime.now(UTC)
    began = time.perf_counter()
    value = compute()
    if version is None and version_of is not None:
        version = version_of(value)
    return Fetched(value, version, made_at, time.perf_counter() - began, False)


def _with(done: Fetched[V], refreshing: bool, refresh_failed: bool = False) -> Fetched[V]:
    if (done.refreshing, done.refresh_failed) == (refreshing, refresh_failed):
        return done
    return Fetched(done.value, done.version, done.made_at, done.took_s, refreshing,
                   refresh_failed)
