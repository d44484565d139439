"""A token bucket per key (a user, or a client address): job submissions per minute, with a burst."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping

ENV_RATE_LIMIT = "COZYGEN_RATE_LIMIT"  # job submissions per minute per user or address; 0 or unset = off
FORGET_AFTER = 3600.0

log = logging.getLogger("cozygen")


class RateLimiter:
    """``per_minute`` tokens (at least one) a key may spend at once, refilled at ``per_minute`` a minute.

    ``take(key)`` spends one and answers 0, or answers the whole seconds until one is there (spending nothing).
    A limiter of 0 per minute is off: every take succeeds.
    """

    def __init__(self, per_minute: float = 0, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = max(0.0, float(per_minute))
        self._clock = clock
        self.capacity = max(1.0, self.per_minute)  # a rate under one a minute still allows one request
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, clock: Callable[[], float] = time.monotonic) -> RateLimiter:
        raw = (env.get(ENV_RATE_LIMIT) or "").strip()
        try:
            value = float(raw) if raw else 0.0
            if not math.isfinite(value) or value < 0:
                raise ValueError(raw)
        except ValueError:
            log.warning("CozyGen: %s must be requests per minute (0 = off); the limit is off", ENV_RATE_LIMIT)
            value = 0.0
        return cls(value, clock)

    def _tokens(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - at) * self.per_minute / 60.0)

    def take(self, key: str) -> int:
        if not self.enabled:
            return 0
        now = self._clock()
        self._forget_old(now)
        tokens = self._tokens(key, now)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) * 60.0 / self.per_minute))

    def _forget_old(self, now: float) -> None:
        if len(self._buckets) > 10_000:
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < FORGET_AFTER}
