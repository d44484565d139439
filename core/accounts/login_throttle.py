"""Growing delays after failed logins, per account and per client address.

A password check is slow (scrypt, in a thread), so a throttle that only counts a failure after the check
lets a burst of parallel guesses all pass before the first failure is counted. ``reserve`` therefore
counts an attempt as failed *before* the check, in one step with no await: either it refuses (with the
seconds to wait) or it hands out an ``Attempt`` that already counts as a failure. Only a successful
check clears it (``Attempt.succeeded``).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

FREE_FAILURES = 3  # per account
FREE_ADDRESS_FAILURES = 10  # per client address: a household shares one, and one typo must not lock all out
FIRST_DELAY = 2.0  # seconds to wait after the free failures; doubles with each further failure
MAX_DELAY = 15 * 60
FORGET_AFTER = 24 * 3600
ENV_LOGIN_DELAY = "COZYGEN_LOGIN_DELAY"  # the first delay in seconds (default 2)

log = logging.getLogger("cozygen")


class LoginThrottle:
    """After ``free_failures`` failures a key must wait 2, 4, 8 … seconds (capped) between attempts."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        free_failures: int = FREE_FAILURES,
        first_delay: float = FIRST_DELAY,
    ) -> None:
        self._clock = clock
        self._free = free_failures
        self._first = first_delay
        self._max = max(float(MAX_DELAY), first_delay)
        self._failures: dict[str, tuple[int, float]] = {}

    def _delay(self, failures: int) -> float:
        if failures < self._free:
            return 0.0
        return min(self._max, self._first * 2 ** (failures - self._free))

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


@dataclass(frozen=True)
class Attempt:
    """A reserved password check: it counts as failed until ``succeeded`` clears it."""

    limits: LoginLimits
    username: str
    address: str

    def succeeded(self) -> None:
        self.limits.succeeded(self.username, self.address)


class LoginLimits:
    """The two throttles a login passes: one per account name, a looser one per client address."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, first_delay: float = FIRST_DELAY) -> None:
        self.accounts = LoginThrottle(clock, FREE_FAILURES, first_delay)
        self.addresses = LoginThrottle(clock, FREE_ADDRESS_FAILURES, first_delay)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, clock: Callable[[], float] = time.monotonic) -> LoginLimits:
        raw = (env.get(ENV_LOGIN_DELAY) or "").strip()
        try:
            delay = float(raw) if raw else FIRST_DELAY
            if not math.isfinite(delay) or delay < 1:
                raise ValueError(raw)
        except ValueError:
            log.warning("CozyGen: %s must be a number of seconds (1 or more); using %g", ENV_LOGIN_DELAY, FIRST_DELAY)
            delay = FIRST_DELAY
        return cls(clock, delay)

    def retry_after(self, username: str, address: str) -> int:
        return max(self.accounts.retry_after(username.lower()), self.addresses.retry_after(address))

    def reserve(self, username: str, address: str) -> tuple[Attempt | None, int]:
        """``(attempt, 0)`` with the attempt already counted as failed, or ``(None, seconds to wait)``.

        Synchronous on purpose: nothing else runs between the look and the count.
        """
        wait = self.retry_after(username, address)
        if wait:
            return None, wait
        self.failed(username, address)
        return Attempt(self, username, address), 0

    def failed(self, username: str, address: str) -> None:
        self.accounts.failed(username.lower())
        self.addresses.failed(address)

    def succeeded(self, username: str, address: str) -> None:
        self.accounts.succeeded(username.lower())
        self.addresses.succeeded(address)
