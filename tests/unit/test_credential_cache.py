"""core.accounts.cache: what authentication keeps between requests, and that nothing revoked survives in it."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest

from cozygen.core.accounts import tokens, users
from cozygen.core.accounts.cache import TOUCH_EVERY, CredentialCache
from cozygen.core.store.db import Database, connect

SECRET = b"k" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingDb:
    """The database, counting the reads that reach it."""

    def __init__(self, db: Database) -> None:
        self.db, self.reads = db, 0

    @property
    def commits(self) -> int:
        return self.db.commits

    async def execute_fn(self, fn: Any) -> Any:
        self.reads += 1
        return await self.db.execute_fn(fn)


def make_user(db: Database, name: str, role: str = "user") -> users.User:
    return db.submit_write(lambda conn: users.create_user(conn, name, f"{name}-pass-1234", role)).result()


def test_a_user_is_read_once_until_something_is_committed(db: Database) -> None:
    ann = make_user(db, "ann")
    counting, cache = CountingDb(db), CredentialCache(clock=Clock())

    async def twice() -> tuple[Any, Any]:
        return await cache.user(counting, ann.id), await cache.user(counting, ann.id)  # type: ignore[arg-type]

    first, second = asyncio.run(twice())
    assert first == second == ann and counting.reads == 1
    db.submit_write(lambda conn: users.set_role(conn, ann.id, "viewer")).result()
    changed = asyncio.run(cache.user(counting, ann.id))  # type: ignore[arg-type]
    assert changed is not None and changed.role == "viewer" and changed.token_version == ann.token_version + 1


def test_a_deleted_user_and_a_revoked_token_stop_at_once(db: Database) -> None:
    admin, bob = make_user(db, "root", "admin"), make_user(db, "bob")
    record, secret = db.submit_write(lambda conn: users.create_api_token(conn, bob.id, "script")).result()
    cache = CredentialCache(clock=Clock())
    assert asyncio.run(cache.api_token_user(db, secret)) == bob
    assert asyncio.run(cache.user(db, bob.id)) == bob
    db.submit_write(lambda conn: users.revoke_api_token(conn, bob.id, record["id"])).result()
    assert asyncio.run(cache.api_token_user(db, secret)) is None
    db.submit_write(lambda conn: users.delete_user(conn, bob.id)).result()
    assert asyncio.run(cache.user(db, bob.id)) is None
    assert asyncio.run(cache.user(db, admin.id)) == admin


def test_a_change_by_another_process_is_seen_after_the_ttl(db: Database) -> None:
    bob = make_user(db, "bob")
    clock = Clock()
    cache = CredentialCache(ttl=1.0, clock=clock)
    assert asyncio.run(cache.user(db, bob.id)) == bob
    other: sqlite3.Connection = connect(db.path)  # as scripts/users.py would, past this server's writer
    try:
        other.execute("DELETE FROM users WHERE id = ?", (bob.id,))
    finally:
        other.close()
    clock.now += 0.5
    assert asyncio.run(cache.user(db, bob.id)) == bob  # kept: nothing committed here, and within the ttl
    clock.now += 0.6
    assert asyncio.run(cache.user(db, bob.id)) is None


def test_callers_share_one_read_unless_a_commit_came_between(db: Database) -> None:
    ann = make_user(db, "ann")
    counting, cache = CountingDb(db), CredentialCache(clock=Clock())

    async def many() -> list[Any]:
        return await asyncio.gather(*(cache.user(counting, ann.id) for _ in range(20)))  # type: ignore[arg-type]

    assert asyncio.run(many()) == [ann] * 20 and counting.reads == 1


def test_what_was_not_found_is_read_again_and_the_cache_stays_bounded(db: Database) -> None:
    counting, cache = CountingDb(db), CredentialCache(clock=Clock(), limit=3)
    for n in range(2):
        assert asyncio.run(cache.api_token_user(counting, f"cgt_guess_{n}")) is None  # type: ignore[arg-type]
        assert asyncio.run(cache.api_token_user(counting, f"cgt_guess_{n}")) is None  # type: ignore[arg-type]
    assert counting.reads == 4
    ids = [make_user(db, f"user{n}").id for n in range(5)]
    for user_id in ids:
        asyncio.run(cache.user(db, user_id))
    assert len(cache._users._values) <= 3


def test_claims_are_kept_until_the_token_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    wall = Clock()
    wall.now = 2_000_000_000.0
    cache = CredentialCache(wall=wall)
    token, _ = tokens.issue(SECRET, user_id=1, username="ann", version=0, ttl=60)
    decoded: list[str] = []
    real = tokens.decode

    def counting(secret: bytes, text: str) -> dict[str, Any] | None:
        decoded.append(text)
        return real(secret, text)

    monkeypatch.setattr(tokens, "decode", counting)
    claims = cache.claims(SECRET, token)
    assert claims is not None and claims["uid"] == 1
    wall.now = claims["exp"] - 1
    assert cache.claims(SECRET, token) == claims and len(decoded) == 1
    wall.now = claims["exp"]
    cache.claims(SECRET, token)
    assert len(decoded) == 2  # past its expiry: checked again (tokens.decode refuses an expired one)
    assert cache.claims(b"x" * 32, token) is None  # another secret: never the kept claims


def test_an_api_token_use_is_written_once_a_minute() -> None:
    clock = Clock()
    cache = CredentialCache(clock=clock)
    assert cache.should_touch("hash-a") and not cache.should_touch("hash-a") and cache.should_touch("hash-b")
    clock.now += TOUCH_EVERY
    assert cache.should_touch("hash-a")
