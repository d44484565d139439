"""Open connections of signed-in users, closed as soon as what let them in is revoked.

An event stream or ComfyUI's ``/ws`` is authenticated once, when it opens, and may stay open for days.
The guard holds every authenticated request here while its handler runs (a dict keyed by user id), with
what proved the credential: the ``token_version`` a session or query token carried, or the API token's
hash, and the role level the route needed. A connection is closed (its transport, which ends an SSE
response and ComfyUI's own socket loop alike) when

- this process revokes something of the user (logout, password or role change, deletion, an API token
  revoked): ``revoke`` re-checks that user's connections at once;
- another process did (``scripts/users.py delete bob`` on the same database): ``sweep`` re-checks, every
  ``period`` seconds, every connection open longer than that.

A query token's own five-minute expiry is not re-checked once its stream is open (a phone's EventSource
would die every five minutes); only revocation closes it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.accounts import users
from ..core.accounts.access import ROLE_LEVELS

if TYPE_CHECKING:
    from aiohttp import web

    from .auth.credentials import Credential

SWEEP_PERIOD = 2.0
HELD_KEY = "cozygen_live"
Read = Callable[[Callable[[Any], Any]], Awaitable[Any]]  # Database.execute_fn

log = logging.getLogger("cozygen")


@dataclass(eq=False)
class Held:
    """One authenticated request while its handler runs."""

    user_id: int
    level: str
    version: int | None  # session or query token
    api_token: str | None  # the API token's hash
    transport: Any
    opened: float
    closed: bool = False
    path: str = ""  # the route it is open on (an open job stream means an open page: api/push.py)

    def still_valid(self, found: dict[int, tuple[str, int]], active: dict[str, int]) -> bool:
        current = found.get(self.user_id)
        if current is None:
            return False  # deleted
        role, version = current
        if ROLE_LEVELS.get(role, 0) < ROLE_LEVELS[self.level]:
            return False
        if self.api_token is not None:
            return active.get(self.api_token) == self.user_id
        return self.version == version

    def close(self) -> None:
        self.closed = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class LiveConnections:
    def __init__(self, period: float = SWEEP_PERIOD, clock: Callable[[], float] = time.monotonic) -> None:
        self.period = period
        self._clock = clock
        self._open: dict[int, set[Held]] = {}
        self._read: Read | None = None
        self._task: asyncio.Task | None = None

    def __len__(self) -> int:
        return sum(len(held) for held in self._open.values())

    @contextmanager
    def hold(self, request: web.Request, credential: Credential, level: str) -> Iterator[Held]:
        """Hold the request's connection while the handler runs."""
        held = Held(
            user_id=credential.user.id,
            level=level,
            version=credential.version,
            api_token=credential.api_token,
            transport=request.transport,
            opened=self._clock(),
            path=getattr(request, "path", ""),  # (the unit tests hold stand-in requests)
        )
        request[HELD_KEY] = held
        self._open.setdefault(held.user_id, set()).add(held)
        try:
            yield held
        finally:
            mine = self._open.get(held.user_id)
            if mine is not None:
                mine.discard(held)
                if not mine:
                    del self._open[held.user_id]

    def streams_open(self, user_id: int, paths: frozenset[str]) -> bool:
        """Whether this user has a connection open on one of ``paths``."""
        return any(h.path in paths and not h.closed for h in self._open.get(user_id, ()))

    async def revoke(self, user_id: int, *, spare: web.Request | None = None) -> int:
        """Something of this user was just revoked here: re-check all their open connections now, except the
        request that did it (``spare``), which answers with its own result. Returns how many were closed."""
        keep = spare.get(HELD_KEY) if spare is not None else None
        return await self._check(h for h in self._open.get(user_id, ()) if h is not keep)

    async def sweep(self) -> int:
        """Re-check every connection open longer than the period; returns how many were closed."""
        before = self._clock() - self.period
        return await self._check(h for held in self._open.values() for h in held if h.opened <= before)

    async def _check(self, candidates: Iterable[Held]) -> int:
        entries = [h for h in candidates if not h.closed]
        if not entries or self._read is None:
            return 0
        user_ids = {h.user_id for h in entries}
        hashes = {h.api_token for h in entries if h.api_token is not None}
        found, active = await self._read(lambda conn: users.live_credentials(conn, user_ids, hashes))
        revoked = [h for h in entries if not h.closed and not h.still_valid(found, active)]
        for held in revoked:
            held.close()
        return len(revoked)

    def start(self, read: Read) -> None:
        """Begin sweeping (at server start, once the database is open)."""
        self._read = read
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._sweep_forever(), name="cozygen-live-sweep")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._read = None

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            try:
                closed = await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed round must not end the sweeping
                log.exception("CozyGen: re-checking open connections failed")
                continue
            if closed:
                log.info("CozyGen: closed %d connection(s) whose sign-in was revoked", closed)
