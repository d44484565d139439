"""Growing delays after failed logins, per account and per client address."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

FREE_FAILURES = 3
MAX_DELAY = 15 * 60
FORGET_AFTER = 24 * 3600


class LoginThrottle:
    """After ``FREE_FAILURES`` failures a key must wait 2, 4, 8 … seconds (capped) between attempts."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, tuple[int, float]] = {}

    def _delay(self, failures: int) -> float:
        if failures < FREE_FAILURES:
            return 0.0
        return float(min(MAX_DELAY, 2 ** (failures - FREE_FAILURES + 1)))

    def retry_after(self, *keys: str) -> int:
        """Seconds until these keys may try again (0 = now)."""
        now = self._clock()
        wait = 0.0
        for key in keys:
            failures, last = self._failures.get(key, (0, now))
            wait = max(wait, last + self._delay(failures) - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, *keys: str) -> None:
        now = self._clock()
        self._forget_old(now)
        for key in keys:
            failures, _ = self._failures.get(key, (0, now))
            self._failures[key] = (failures + 1, now)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)

    def _forget_old(self, now: float) -> None:
        if len(self._failures) > 10_000:
            self._failures = {k: v for k, v in self._failures.items() if now - v[1] < FORGET_AFTER}
