"""The background-refresh cache's logic, with a compute function the test controls."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest

from lomsong.collector.dashboard.refresh import RefreshCache

WAIT_S = 10.0


class Gated:
    """A compute function per version that blocks until the test opens its gate."""

    def __init__(self) -> None:
        self.gates: dict[int, threading.Event] = {}
        self.started: dict[int, threading.Event] = {}
        self.calls: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, version: int, *, fail: bool = False) -> Callable[[], str]:
        with self.lock:
            self.gates.setdefault(version, threading.Event())
            self.started.setdefault(version, threading.Event())

        def compute() -> str:
            with self.lock:
                self.calls.append(version)
            self.started[version].set()
            assert self.gates[version].wait(WAIT_S)
            if fail:
                raise RuntimeError(f"analysis of version {version} broke")
            return f"survey v{version}"

        return compute

    def open(self, version: int) -> None:
        self.gates.setdefault(version, threading.Event()).set()


@pytest.fixture
def cache() -> Iterator[RefreshCache[str, str]]:
    made: RefreshCache[str, str] = RefreshCache(max_entries=2, workers=1)
    yield made
    made.close()


def test_first_load_computes_then_same_version_is_served(cache: RefreshCache[str, str]) -> None:
    gated = Gated()
    gated.open(1)
    first = cache.get("w", 1, gated(1))
    again = cache.get("w", 1, gated(1))
    assert (first.value, first.refreshing) == ("survey v1", False)
    assert again.value == "survey v1" and again.made_at == first.made_at
    assert gated.calls == [1]


def test_new_version_serves_the_old_one_while_refreshing(cache: RefreshCache[str, str]) -> None:
    gated = Gated()
    gated.open(1)
    old = cache.get("w", 1, gated(1))
    stale = cache.get("w", 2, gated(2))
    assert (stale.value, stale.refreshing, stale.made_at) == ("survey v1", True, old.made_at)
    assert gated.started[2].wait(WAIT_S)
    # while it computes, more pages (even of a newer version) get the old one: one refresh per key
    still = cache.get("w", 3, gated(3))
    assert (still.value, still.refreshing) == ("survey v1", True)
    gated.open(2)
    assert cache.wait_idle(WAIT_S)
    fresh = cache.get("w", 2, gated(2))
    assert (fresh.value, fresh.refreshing) == ("survey v2", False)
    assert fresh.made_at > old.made_at
    assert gated.calls == [1, 2]


def test_concurrent_first_loads_compute_once(cache: RefreshCache[str, str]) -> None:
    gated = Gated()
    got: list[str] = []

    def page() -> None:
        got.append(cache.get("w", 1, gated(1)).value)

    pages = [threading.Thread(target=page) for _ in range(4)]
    for p in pages:
        p.start()
    assert gated.started[1].wait(WAIT_S)
    gated.open(1)
    for p in pages:
        p.join(WAIT_S)
    assert got == ["survey v1"] * 4 and gated.calls == [1]


def test_failed_refresh_is_logged_and_the_old_survey_kept(
        cache: RefreshCache[str, str], caplog: pytest.LogCaptureFixture) -> None:
    gated = Gated()
    gated.open(1)
    cache.get("w", 1, gated(1))
    gated.open(2)
    with caplog.at_level(logging.ERROR, logger="lomsong.collector.dashboard.refresh"):
        assert cache.get("w", 2, gated(2, fail=True)).value == "survey v1"
        assert cache.wait_idle(WAIT_S)
    assert "broke" in caplog.text and "failed" in caplog.text
    after = cache.get("w", 2, gated(2, fail=True))
    assert (after.value, after.refreshing) == ("survey v1", False)  # not retried
    assert after.refresh_failed  # and the page can say its figures are older than the data
    assert gated.calls == [1, 2]
    gated.open(3)
    trying = cache.get("w", 3, gated(3))
    assert trying.refreshing and not trying.refresh_failed  # a newer version is tried
    assert cache.wait_idle(WAIT_S)
    done = cache.get("w", 3, gated(3))
    assert done.value == "survey v3" and not done.refresh_failed


def test_first_load_error_reaches_the_caller(cache: RefreshCache[str, str]) -> None:
    gated = Gated()
    gated.open(1)
    with pytest.raises(RuntimeError, match="version 1 broke"):
        cache.get("w", 1, gated(1, fail=True))
    assert len(cache) == 0
    assert cache.get("w", 1, gated(1)).value == "survey v1"


def test_bounded_entries_least_recently_used_dropped(cache: RefreshCache[str, str]) -> None:
    gated = Gated()
    gated.open(1)
    for key in ("a", "b", "a", "c"):
        cache.get(key, 1, gated(1))
    assert len(cache) == 2 and [k for k, _ in cache.snapshot()] == ["a", "c"]
    assert gated.calls == [1, 1, 1]
    cache.get("a", 1, gated(1))  # kept (used after b)
    assert gated.calls == [1, 1, 1]
    cache.get("b", 1, gated(1))  # dropped: computed again
    assert gated.calls == [1, 1, 1, 1]


def test_quick_analyses_are_waited_for() -> None:
    quick: RefreshCache[str, str] = RefreshCache(wait_below_s=60.0)
    try:
        gated = Gated()
        gated.open(1)
        gated.open(2)
        quick.get("w", 1, gated(1))
        fresh = quick.get("w", 2, gated(2))
        assert (fresh.value, fresh.refreshing) == ("survey v2", False)
    finally:
        quick.close()


def test_refreshes_are_bounded_by_the_workers(cache: RefreshCache[str, str]) -> None:
    gated = Gated()
    gated.open(1)
    cache.get("a", 1, gated(1))
    cache.get("b", 1, gated(1))
    assert cache.get("a", 2, gated(2)).refreshing
    assert cache.get("b", 3, gated(3)).refreshing
    assert gated.started[2].wait(WAIT_S)
    assert not gated.started[3].is_set()  # queued behind the one worker
    gated.open(2)
    gated.open(3)
    assert cache.wait_idle(WAIT_S)
    assert gated.calls == [1, 1, 2, 3]
    assert cache.get("b", 3, gated(3)).value == "survey v3"


def test_closed_cache_starts_no_refresh(cache: RefreshCache[str, str]) -> None:
    gated = Gated()
    gated.open(1)
    cache.get("w", 1, gated(1))
    cache.close()
    assert cache.get("w", 2, gated(2)).value == "survey v1"
    assert cache.wait_idle(WAIT_S) and gated.calls == [1]


def test_bad_sizes_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RefreshCache(max_entries=0)


def test_background_refresh_is_handed_the_last_value(cache: RefreshCache[str, str]) -> None:
    gated = Gated()
    gated.open(1)
    gated.open(2)
    cache.get("w", 1, gated(1))

    def refresh(last: str) -> str:
        return f"{gated(2)()} (after {last})"

    assert cache.get("w", 2, gated(2), refresh=refresh).refreshing
    assert cache.wait_idle(WAIT_S)
    assert cache.get("w", 2, gated(2)).value == "survey v2 (after survey v1)"


def test_a_dropped_key_loses_its_queued_refresh(cache: RefreshCache[str, str]) -> None:
    gated = Gated()
    for key, v in (("a", 1), ("b", 1)):
        gated.open(v)
        cache.get(key, v, gated(v))
    cache.get("a", 2, gated(2))   # a's refresh runs on the one worker and waits at its gate
    assert gated.started[2].wait(WAIT_S)
    cache.get("b", 3, gated(3))   # b's refresh queues behind it
    cache.get("a", 2, gated(2))   # a is used again: b is now the least recently used
    gated.open(4)
    cache.get("c", 4, gated(4))   # c's first load drops b (a was used more recently)
    assert [k for k, _ in cache.snapshot()] == ["a", "c"]
    gated.open(2)
    assert cache.wait_idle(WAIT_S)
    assert 3 not in gated.calls   # the dropped key's refresh never ran
    assert dict(cache.snapshot())["a"].value == "survey v2"


def test_a_key_dropped_between_look_ups_is_kept_again() -> None:
    made: RefreshCache[str, str] = RefreshCache(max_entries=1, workers=1)
    try:
        gated = Gated()
        gated.open(1)
        made.get("a", 1, gated(1))
        entry = made._entries["a"]
        made._entries.clear()  # another thread's store dropped it after this get looked it up
        with made._lock:
            made._keep("a", entry)
        assert [k for k, _ in made.snapshot()] == ["a"]
    finally:
        made.close()


def test_a_slow_first_load_says_pending_and_goes_on(cache: RefreshCache[str, str]) -> None:
    from lomsong.collector.dashboard.refresh import Pending

    gated = Gated()
    with pytest.raises(Pending) as first:
        cache.get("ward", 1, gated(1), wait_s=0.05)
    with pytest.raises(Pending) as again:  # the same computation, not a second one
        cache.get("ward", 1, gated(1), wait_s=0.05)
    assert again.value.started_at == first.value.started_at
    gated.open(1)
    assert cache.get("ward", 1, gated(1), wait_s=WAIT_S).value == "survey v1"
    assert gated.calls == [1]


def test_a_failed_first_load_reaches_its_waiters_then_runs_again(
        cache: RefreshCache[str, str]) -> None:
    from lomsong.collector.dashboard.refresh import Pending

    gated = Gated()
    with pytest.raises(Pending):
        cache.get("ward", 1, gated(1, fail=True), wait_s=0.05)
    gated.open(1)
    with pytest.raises(RuntimeError, match="broke"):
        cache.get("ward", 1, gated(1), wait_s=WAIT_S)
    # the next page asks again: a new first computation
    assert cache.get("ward", 1, gated(1), wait_s=WAIT_S).value == "survey v1"
    assert gated.calls == [1, 1]


def test_a_kept_value_is_served_and_refreshed(cache: RefreshCache[str, str]) -> None:
    from datetime import UTC, datetime

    from lomsong.collector.dashboard.refresh import Fetched

    gated = Gated()
    kept = Fetched("kept v1", 1, datetime(2026, 11, 1, tzinfo=UTC), 3.0, False)
    assert cache.get("ward", 1, gated(1), load=lambda: kept) is kept  # same version: as is
    other: RefreshCache[str, str] = RefreshCache(max_entries=2, workers=1)
    try:
        stale = other.get("ward", 2, gated(2), load=lambda: kept)
        assert (stale.value, stale.refreshing) == ("kept v1", True)
        gated.open(2)
        assert other.wait_idle(WAIT_S)
        assert other.get("ward", 2, gated(2)).value == "survey v2"
        broken = other.get("w2", 1, lambda: "made", load=lambda: 1 / 0)  # type: ignore[arg-type]
        assert broken.value == "made"  # an unreadable kept value: computed instead
    finally:
        other.close()
    assert gated.calls == [2]


def test_an_unknown_version_takes_what_is_held_or_the_first_value() -> None:
    made: RefreshCache[str, str] = RefreshCache(max_entries=2, version_of=lambda v: v[-1])
    try:
        first = made.get("ward", None, lambda: "survey v7")  # no version check before it
        assert (first.value, first.version) == ("survey v7", "7")
        assert made.get("ward", None, lambda: "never") is first  # held: as it is
        assert made.get("ward", "7", lambda: "never").value == "survey v7"
    finally:
        made.close()
