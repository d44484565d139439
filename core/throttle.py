"""Growing delays after failed logins, per account and per client address."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

FREE_FAILURES = 3  # per account
FREE_ADDRESS_FAILURES = 10  # per client address: a household shares one, and one typo must not lock all out
MAX_DELAY = 15 * 60
FORGET_AFTER = 24 * 3600


class LoginThrottle:
    """After ``FREE_FAILURES`` failures a key must wait 2, 4, 8 … seconds (capped) between attempts."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, free_failures: int = FREE_FAILURES) -> None:
        self._clock = clock
        self._free = free_failures
        self._failures: dict[str, tuple[int, float]] = {}

    def _delay(self, failures: int) -> float:
        if failures < self._free:
            return 0.0
        return float(min(MAX_DELAY, 2 ** (failures - self._free + 1)))

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


class LoginLimits:
    """The two throttles a login passes: one per account name, a looser one per client address."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.accounts = LoginThrottle(clock, FREE_FAILURES)
        self.addresses = LoginThrottle(clock, FREE_ADDRESS_FAILURES)

    def retry_after(self, username: str, address: str) -> int:
        return max(self.accounts.retry_after(username.lower()), self.addresses.retry_after(address))

    def failed(self, username: str, address: str) -> None:
        self.accounts.failed(username.lower())
        self.addresses.failed(address)

    def succeeded(self, username: str, address: str) -> None:
        self.accounts.succeeded(username.lower())
        self.addresses.succeeded(address)
