"""The per-user token bucket on job submission, against a fake clock."""

from __future__ import annotations

from cozygen.core.jobs.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_off_by_default_and_when_zero() -> None:
    limiter = RateLimiter.from_env({}, Clock())
    assert not limiter.enabled
    assert all(limiter.take("ada") == 0 for _ in range(1000))
    assert not RateLimiter.from_env({"COZYGEN_RATE_LIMIT": "0"}).enabled


def test_bad_values_leave_the_limit_off() -> None:
    for raw in ("many", "-3", "nan", "inf"):
        assert not RateLimiter.from_env({"COZYGEN_RATE_LIMIT": raw}).enabled


def test_a_burst_then_a_wait_for_the_next_token() -> None:
    clock = Clock()
    limiter = RateLimiter.from_env({"COZYGEN_RATE_LIMIT": "3"}, clock)
    assert [limiter.take("ada") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("ada") == 20  # one token every 20 s at 3 a minute
    clock.now += 5
    assert limiter.take("ada") == 15  # refused takes spend nothing
    clock.now += 15
    assert limiter.take("ada") == 0
    assert limiter.take("ada") == 20


def test_keys_have_buckets_of_their_own() -> None:
    clock = Clock()
    limiter = RateLimiter(1, clock)
    assert limiter.take("ada") == 0
    assert limiter.take("ada") == 60
    assert limiter.take("127.0.0.1") == 0


def test_the_bucket_never_holds_more_than_a_minute() -> None:
    clock = Clock()
    limiter = RateLimiter(2, clock)
    clock.now += 3600
    assert [limiter.take("ada") for _ in range(3)] == [0, 0, 30]


def test_fractional_rates_round_the_wait_up() -> None:
    clock = Clock()
    limiter = RateLimiter(0.5, clock)
    assert limiter.take("ada") == 0
    assert limiter.take("ada") == 120
    clock.now += 119.5
    assert limiter.take("ada") == 1
