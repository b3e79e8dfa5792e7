"""Sign-in throttling: after `max_failures` failures for one user name from one address, or from
one address for any names, within `window_s`, that key is locked for `lockout_s`.

The user name alone is never a key: otherwise anyone could keep the administrator locked out
for ever by failing from rotating addresses. Guessing one password from many addresses is slowed
by the cap on concurrent password checks (`security.HashGate`) instead. The address is the
client's as uvicorn sees it: behind a reverse proxy, name that proxy in ``--trusted-proxies``
(``LOMSONG_TRUSTED_PROXIES``) or every user appears to come from the proxy.

Kept in memory, per collector process: a restart forgets it, and several collector processes
each count on their own (an attacker behind a load balancer gets N times the attempts). That is
acceptable for one ward's server; a city deployment would move this into the database.

Example
-------
>>> now = [0.0]
>>> t = LoginThrottle(max_failures=2, lockout_s=60, clock=lambda: now[0])
>>> t.failed("an", "10.0.0.1"); t.failed("an", "10.0.0.1")
>>> t.locked_for_s("an", "10.0.0.1") > 0, t.locked_for_s("an", "10.0.0.2")
(True, 0.0)
>>> now[0] = 61.0
>>> t.locked_for_s("an", "10.0.0.1")
0.0
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["LoginThrottle"]


class LoginThrottle:
    def __init__(self, *, max_failures: int = 5, window_s: float = 900.0, lockout_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, ip: str) -> tuple[str, str]:
        return f"user:{username.lower()}@{ip}", f"ip:{ip}"

    def locked_for_s(self, username: str, ip: str) -> float:
        """Seconds until this user name may be tried again from this IP (0 when free)."""
        now = self._clock()
        with self._lock:
            until = max(self._locked_until.get(k, 0.0) for k in self._keys(username, ip))
        return max(0.0, until - now)

    def failed(self, username: str, ip: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) > self._max_keys:
                self._forget_old(now)
            for key in self._keys(username, ip):
                times = self._failures.setdefault(key, deque())
                times.append(now)
                while times and times[0] < now - self.window_s:
                    times.popleft()
                if len(times) >= self.max_failures:
                    self._locked_until[key] = now + self.lockout_s
                    times.clear()

    def succeeded(self, username: str, ip: str) -> None:
        """Forget this user name's failures from this IP (the IP's stay: it may try many names)."""
        with self._lock:
            self._failures.pop(self._keys(username, ip)[0], None)

    def _forget_old(self, now: float) -> None:
        for key in [k for k, t in self._failures.items() if not t or t[-1] < now - self.window_s]:
            del self._failures[key]
        for key in [k for k, until in self._locked_until.items() if until < now]:
            del self._locked_until[key]
