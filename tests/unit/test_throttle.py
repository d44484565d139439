"""core.accounts.login_throttle: a password check is reserved (counted as failed) before it runs, atomically."""

from __future__ import annotations

import asyncio

import pytest

from cozygen.core.accounts.login_throttle import (
    ENV_LOGIN_DELAY,
    FIRST_DELAY,
    FREE_ADDRESS_FAILURES,
    FREE_FAILURES,
    MAX_DELAY,
    LoginLimits,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_reservations_passes_only_the_free_failures() -> None:
    limits = LoginLimits(Clock())
    granted = [limits.reserve("Bob", "10.0.0.1") for _ in range(30)]
    passed = [attempt for attempt, wait in granted if attempt is not None]
    refused = [wait for attempt, wait in granted if attempt is None]
    assert len(passed) == FREE_FAILURES and len(refused) == 30 - FREE_FAILURES
    assert set(refused) == {2}  # refused attempts do not lengthen the wait
    assert limits.retry_after("bob", "10.0.0.2") == 2  # the account, from anywhere, case-insensitive


def test_parallel_checks_cannot_slip_past_the_count() -> None:
    """30 logins at once, each awaiting a slow check: the reservation happens before the await."""
    limits = LoginLimits(Clock())
    checked: list[str] = []

    async def login(n: int) -> int:
        attempt, wait = limits.reserve("alice", "192.0.2.7")
        if attempt is None:
            return 429
        await asyncio.sleep(0)  # the threaded password check: every other login runs meanwhile
        checked.append(f"guess{n}")
        return 401  # wrong password: the attempt stays counted

    async def burst() -> list[int]:
        return await asyncio.gather(*(login(n) for n in range(30)))

    statuses = asyncio.run(burst())
    assert statuses.count(401) == FREE_FAILURES == len(checked) and statuses.count(429) == 30 - FREE_FAILURES


def test_success_clears_what_the_reservation_counted() -> None:
    limits = LoginLimits(Clock())
    for _ in range(FREE_FAILURES - 1):
        limits.reserve("carol", "10.0.0.3")
    attempt, wait = limits.reserve("carol", "10.0.0.3")
    assert attempt is not None and wait == 0
    attempt.succeeded()
    assert limits.retry_after("carol", "10.0.0.3") == 0
    assert all(limits.reserve("carol", "10.0.0.3")[0] is not None for _ in range(FREE_FAILURES))


def test_the_wait_doubles_after_each_failure_past_the_free_ones() -> None:
    clock = Clock()
    limits = LoginLimits(clock)
    for _ in range(FREE_FAILURES):
        limits.reserve("dave", "10.0.0.4")
    waits = []
    for _ in range(4):
        attempt, wait = limits.reserve("dave", "10.0.0.4")
        assert attempt is None
        waits.append(wait)
        clock.now += wait
        assert limits.reserve("dave", "10.0.0.4")[0] is not None  # one try once the wait is over
    assert waits == [2, 4, 8, 16]


def test_a_spray_over_many_names_stops_at_the_address() -> None:
    limits = LoginLimits(Clock())
    granted = [limits.reserve(f"name{n}", "10.0.0.5")[0] is not None for n in range(30)]
    assert granted.count(True) == FREE_ADDRESS_FAILURES
    assert limits.reserve("someone", "10.0.0.6")[0] is not None  # another address is not affected


def test_the_first_delay_comes_from_the_environment() -> None:
    assert LoginLimits.from_env({}).accounts._first == FIRST_DELAY
    limits = LoginLimits.from_env({ENV_LOGIN_DELAY: "3600"}, clock=Clock())
    for _ in range(FREE_FAILURES):
        limits.reserve("erin", "10.0.0.7")
    assert limits.reserve("erin", "10.0.0.7") == (None, 3600)
    assert limits.accounts._max == max(MAX_DELAY, 3600)


@pytest.mark.parametrize("raw", ["soon", "0", "-5", "nan", "inf"])
def test_a_bad_delay_setting_falls_back_to_the_default(raw: str) -> None:
    assert LoginLimits.from_env({ENV_LOGIN_DELAY: raw}).accounts._first == FIRST_DELAY
