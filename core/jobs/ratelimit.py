"""A token bucket per key (a user, or a client address): job submissions per minute, with a burst."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping

ENV_RATE_LIMIT = "COZYGEN_RATE_LIMIT"  # job submissions per minute per user or address; 0 or unset = off
ENV_LLM_RATE_LIMIT = "COZYGEN_LLM_RATE_LIMIT"  # calls to a language model per minute per user; default 20
LLM_DEFAULT_RATE = 20.0
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
    def from_env(
        cls,
        env: Mapping[str, str] = os.environ,
        clock: Callable[[], float] = time.monotonic,
        *,
        name: str = ENV_RATE_LIMIT,
        default: float = 0.0,
    ) -> RateLimiter:
        """The limit an environment variable sets (per minute; 0 = off), or ``default`` when unset or wrong."""
        raw = (env.get(name) or "").strip()
        try:
            value = float(raw) if raw else default
            if not math.isfinite(value) or value < 0:
                raise ValueError(raw)
        except ValueError:
            log.warning("CozyGen: %s must be requests per minute (0 = off); using %g", name, default)
            value = default
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


def llm_limiter(env: Mapping[str, str] = os.environ) -> RateLimiter:
    """The limit on calls to a language model (``COZYGEN_LLM_RATE_LIMIT``; 0 = off): the state keeps one, so the
    assistant and the seeds' chat routes spend the same bucket."""
    return RateLimiter.from_env(env, name=ENV_LLM_RATE_LIMIT, default=LLM_DEFAULT_RATE)
