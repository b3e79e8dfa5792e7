"""In-process token buckets: requests per client IP and per API token, answered 429 + Retry-After.

The buckets live in the memory of one collector process. Several collector processes behind a
load balancer each keep their own buckets, so the effective limit is the per-process limit times
the number of processes; size the settings for that (or rate-limit at the proxy as well).

Example
-------
>>> limits = RateLimiter(rate_per_s=1.0, burst=2)
>>> [limits.take("pi-01", now_s=0.0) for _ in range(3)]
[0.0, 0.0, 1.0]
>>> limits.take("pi-01", now_s=1.0)
0.0
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from lomsong.collector.settings import Settings

__all__ = ["ApiLimits", "RateLimiter"]


@dataclass
class RateLimiter:
    """Token buckets keyed by a string (an IP, a token id); `rate_per_s` refill, `burst` capacity.

    `max_keys` bounds memory: when exceeded, buckets that have refilled completely are forgotten
    (forgetting a full bucket changes nothing for its key).
    """

    rate_per_s: float
    burst: int
    max_keys: int = 100_000
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.rate_per_s <= 0 or self.burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")

    def take(self, key: str, *, now_s: float) -> float:
        """Spend one token of `key`'s bucket: 0.0 if allowed, else seconds until one is free."""
        with self._lock:
            tokens, last_s = self._buckets.get(key, (float(self.burst), now_s))
            tokens = min(float(self.burst), tokens + (now_s - last_s) * self.rate_per_s)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now_s)
                return (1.0 - tokens) / self.rate_per_s
            self._buckets[key] = (tokens - 1.0, now_s)
            if len(self._buckets) > self.max_keys:
                self._forget_full(now_s)
            return 0.0

    def _forget_full(self, now_s: float) -> None:
        full_after_s = self.burst / self.rate_per_s
        stale = [k for k, (_, last_s) in self._buckets.items() if now_s - last_s >= full_after_s]
        for key in stale:
            del self._buckets[key]


@dataclass(frozen=True)
class ApiLimits:
    """The API's buckets: per client IP (taken before the token is even looked up, so guessing
    tokens is throttled too) and per token. None: that limit is off."""

    per_ip: RateLimiter | None
    per_token: RateLimiter | None

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiLimits:
        def make(rate_per_s: float, burst: int) -> RateLimiter | None:
            return RateLimiter(rate_per_s, burst) if rate_per_s > 0 else None

        return cls(make(settings.rate_per_ip_per_s, settings.rate_per_ip_burst),
                   make(settings.rate_per_token_per_s, settings.rate_per_token_burst))
