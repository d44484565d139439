"""What authentication reads, kept between requests: each guarded request would otherwise decode its JWT and
read its user (or its API token and user) from the database through a reader thread.

An entry holds while nothing has been committed since it was read and for at most ``ttl`` seconds:

- every commit of this process's database writer (``Database.commits``, counted before the writer answers)
  drops everything read before it, so a logout, a password or role change, a deletion or a revoked token
  that this server made stops the next request, as it did without the cache;
- a change made by another process on the same file (``scripts/users.py delete bob``) is seen after
  ``ttl`` (one second) at most; the open connections' sweep (api/live.py) takes two.

Callers asking for the same entry while it is being read share that read, unless a commit came in between.
Only what was found is kept (a wrong token is read again each time), and the whole cache is emptied when it
reaches ``limit`` entries, so guessed tokens cannot grow it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from ..store.db import Database
from . import tokens, users
from .users import User

T = TypeVar("T")
TOUCH_EVERY = 60.0  # seconds between writes of an API token's last_used_at


class _Kept(Generic[T]):
    """Values read by key, each with the commit count and the time it was read at."""

    def __init__(self, ttl: float, limit: int, clock: Callable[[], float]) -> None:
        self.ttl, self.limit, self.clock = ttl, limit, clock
        self._values: dict[Any, tuple[T, int, float]] = {}
        self._reading: dict[Any, tuple[asyncio.Future[T], int]] = {}

    async def get(self, key: Any, commits: Callable[[], int], read: Callable[[], Awaitable[T]]) -> T:
        now, generation = self.clock(), commits()
        kept = self._values.get(key)
        if kept is not None and kept[1] == generation and now - kept[2] < self.ttl:
            return kept[0]
        pending = self._reading.get(key)
        if pending is not None and pending[1] == generation:
            return await asyncio.shield(pending[0])
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._reading[key] = (future, generation)
        try:
            value = await read()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            if self._reading.get(key, (None, 0))[0] is future:
                del self._reading[key]
        if not future.done():
            future.set_result(value)
        if value is not None:
            if len(self._values) >= self.limit:
                self._values.clear()
            self._values[key] = (value, generation, now)
        return value

    def clear(self) -> None:
        self._values.clear()


class CredentialCache:
    """Decoded session tokens, users by id and API tokens' users, for one server."""

    def __init__(
        self,
        *,
        ttl: float = 1.0,
        limit: int = 4096,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.clock, self.wall = clock, wall
        self.limit = limit
        self._users: _Kept[User | None] = _Kept(ttl, limit, clock)
        self._api_tokens: _Kept[User | None] = _Kept(ttl, limit, clock)
        self._claims: dict[tuple[bytes, str], dict[str, Any]] = {}
        self._touched: dict[str, float] = {}

    def claims(self, secret: bytes, token: str) -> dict[str, Any] | None:
        """``tokens.decode``, kept by token until it expires (a token's claims never change; its signature is
        checked once)."""
        key = (secret, token)
        found = self._claims.get(key)
        if found is not None and found["exp"] > self.wall():
            return found
        decoded = tokens.decode(secret, token)
        if decoded is not None:
            if len(self._claims) >= self.limit:
                self._claims.clear()
            self._claims[key] = decoded
        return decoded

    async def user(self, db: Database, user_id: int) -> User | None:
        return await self._users.get(
            user_id, lambda: db.commits, lambda: db.execute_fn(lambda conn: users.get_user(conn, user_id=user_id))
        )

    async def api_token_user(self, db: Database, secret: str) -> User | None:
        """The user of an active API token, or None."""
        return await self._api_tokens.get(
            secret, lambda: db.commits, lambda: db.execute_fn(lambda conn: users.user_for_api_token(conn, secret))
        )

    def should_touch(self, token_hash: str) -> bool:
        """Whether an API token's use is written now (its last_used_at): once a minute at most per token."""
        now = self.clock()
        if now - self._touched.get(token_hash, float("-inf")) < TOUCH_EVERY:
            return False
        if len(self._touched) >= self.limit:
            self._touched.clear()
        self._touched[token_hash] = now
        return True
