"""The login throttle under parallel attempts (issue 13, item 6), on a server of its own: it locks accounts and
the loopback address, which every other test signs in from.

Each password check is reserved (counted as failed) before the slow check runs, so a burst of 30 parallel
guesses gets at most the free failures through. ``COZYGEN_LOGIN_DELAY`` makes the first wait an hour, so
"still locked" does not depend on how fast this machine answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from support import get, post

PARALLEL = 30
FREE_FAILURES, FREE_ADDRESS_FAILURES = 3, 10  # core/accounts/login_throttle.py
ADMIN_PASSWORD = "admin-pass-12345"
ENV = {"COZYGEN_AUTH": "on", "COZYGEN_LOGIN_DELAY": "3600"}


@pytest.fixture(scope="module")
def server(start_comfyui: Callable) -> Any:
    return start_comfyui("ComfyUI-CozyGen-throttle", env=dict(ENV))


async def _burst(url: str, bodies: list[dict], headers: dict[str, str] | None = None) -> list[tuple[int, dict, Any]]:
    """POST every body at once, each on its own connection: (status, JSON reply, headers)."""
    connector = aiohttp.TCPConnector(limit=len(bodies), force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:

        async def one(body: dict) -> tuple[int, dict, Any]:
            async with session.post(url, json=body, headers=headers or {}) as response:
                return response.status, await response.json(), response.headers

        return await asyncio.gather(*(one(body) for body in bodies))


def burst(url: str, bodies: list[dict], headers: dict[str, str] | None = None) -> list[tuple[int, dict, Any]]:
    return asyncio.run(_burst(url, bodies, headers))


def assert_throttled(replies: list[tuple[int, dict, Any]], allowed: int, refused_status: int) -> None:
    statuses = [status for status, _, _ in replies]
    assert set(statuses) <= {refused_status, 429}, statuses
    assert statuses.count(429) >= len(replies) - allowed, statuses
    for status, body, headers in replies:
        if status == 429:
            assert body["code"] == "RATE_LIMITED" and int(headers["Retry-After"]) >= 1, body


def test_parallel_guesses_lock_the_account_the_current_password_and_the_address(server: Any) -> None:
    url = server.url
    # First-run setup from the machine itself: of ten at once, exactly one creates the admin.
    setups = burst(
        f"{url}/cozygen/api/setup", [{"username": f"admin{n}", "password": ADMIN_PASSWORD} for n in range(10)]
    )
    made = [body for status, body, _ in setups if status == 200]
    assert len(made) == 1 and all(body["code"] == "SETUP_DONE" for status, body, _ in setups if status != 200)
    admin = {"Authorization": f"Bearer {made[0]['token']}"}
    for name in ("target", "owner", "fresh"):
        created = post(f"{url}/cozygen/api/users", {"username": name, "password": f"{name}-pass-1234"}, headers=admin)
        assert created.status == 201, created.body
    owner_login = post(f"{url}/cozygen/api/login", {"username": "owner", "password": "owner-pass-1234"})
    assert owner_login.status == 200
    owner = {"Authorization": f"Bearer {owner_login.json()['token']}"}

    # 30 wrong passwords for one account at once: no more than the free failures are even checked.
    wrong = [{"username": "target", "password": f"guess-{n}-wrong"} for n in range(PARALLEL)]
    assert_throttled(burst(f"{url}/cozygen/api/login", wrong), FREE_FAILURES, 401)
    right = post(f"{url}/cozygen/api/login", {"username": "TARGET", "password": "target-pass-1234"})
    assert right.status == 429 and int(right.headers["Retry-After"]) >= 1  # locked, whatever the spelling

    # The current-password check of a password change is a password check too: same throttle.
    changes = [{"current_password": f"guess-{n}-wrong", "new_password": "owner-pass-5678"} for n in range(PARALLEL)]
    assert_throttled(burst(f"{url}/cozygen/api/me/password", changes, owner), FREE_FAILURES, 403)
    change = {"current_password": "owner-pass-1234", "new_password": "owner-pass-5678"}
    assert post(f"{url}/cozygen/api/me/password", change, headers=owner).status == 429
    assert get(f"{url}/cozygen/api/health", headers=owner).status == 200  # unchanged: the session still works

    # A spray over many names from one address stops at the address, and then locks everyone there out.
    spray = [{"username": f"nobody{n}", "password": "guess-wrong-1"} for n in range(PARALLEL)]
    assert_throttled(burst(f"{url}/cozygen/api/login", spray), FREE_ADDRESS_FAILURES, 401)
    fresh = post(f"{url}/cozygen/api/login", {"username": "fresh", "password": "fresh-pass-1234"})
    assert fresh.status == 429 and fresh.json()["code"] == "RATE_LIMITED"
    assert "guess-" not in server.log()
