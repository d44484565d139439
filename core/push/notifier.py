"""Who is told when a job ends, and the telling: follows the job hub, pushes to the owner's devices.

A job that completed or failed is pushed to its owner when they asked for it (their preferences) and no page of
theirs is open (an open page has its live event stream connected, and tells them itself). Sending is the
caller's ``send`` (the network is the api layer's); a push service that answers 404 or 410 has forgotten the
subscription, so CozyGen forgets it too. Nothing here can hold up ComfyUI: events are taken from the hub on the
event loop, each job's pushes run as a task of their own, and every send has a deadline.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ..events import EventHub, Subscription
from ..store.db import Database
from . import subscriptions
from .payload import DONE, FAILED, build
from .subscriptions import Prefs
from .subscriptions import Subscription as PushSubscription

log = logging.getLogger("cozygen")
Send = Callable[[dict[str, Any], bytes], Awaitable[int]]  # (subscription info, payload) -> HTTP status
PageOpen = Callable[[int | None], bool]  # user id (None: auth off, no user row) -> a page of theirs is open
GONE = (404, 410)
SEND_DEADLINE = 15.0
PARALLEL = 4


def _recipient(conn: sqlite3.Connection, username: str) -> tuple[int | None, Prefs, list[PushSubscription]]:
    row = conn.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
    return (row[0] if row else None), subscriptions.prefs_of(conn, username), subscriptions.of_user(conn, username)


class PushNotifier:
    def __init__(self, db: Database, send: Send, page_open: PageOpen, *, deadline: float = SEND_DEADLINE) -> None:
        self.db, self.send, self.page_open, self.deadline = db, send, page_open, deadline
        self._gate = asyncio.Semaphore(PARALLEL)
        self._tasks: set[asyncio.Task] = set()
        self._follow: asyncio.Task | None = None
        self._sub: Subscription | None = None

    async def on_event(self, kind: str, job: dict[str, Any]) -> int:
        """Push one job event to its owner's devices; returns how many push services accepted it."""
        username = job.get("username")
        if kind not in (DONE, FAILED) or not isinstance(username, str) or not username:
            return 0
        user_id, prefs, subs = await self.db.execute_fn(lambda conn: _recipient(conn, username))
        wanted = prefs.on_done if kind == DONE else prefs.on_failed
        if not subs or not wanted or self.page_open(user_id):
            return 0
        payload = orjson.dumps(build(kind, job))
        sent = await asyncio.gather(*(self._push(sub, payload) for sub in subs))
        return sum(sent)

    async def _push(self, sub: PushSubscription, payload: bytes) -> bool:
        async with self._gate:
            try:
                status = await asyncio.wait_for(self.send(sub.info(), payload), self.deadline)
            except Exception as exc:  # network, timeout, a refused address: log it, never raise
                log.warning("CozyGen: push to %s failed: %s", sub.public()["service"], exc or type(exc).__name__)
                return False
        if status in GONE:
            await self.db.execute_write_fn(lambda conn: subscriptions.prune(conn, sub.id, sub.endpoint))
            log.info("CozyGen: a push subscription of %s is gone (%d); removed", sub.username, status)
            return False
        if not 200 <= status < 300:
            log.warning("CozyGen: push service %s answered %d", sub.public()["service"], status)
            return False
        return True

    # -- following the job hub ------------------------------------------------------------------------
    def start(self, hub: EventHub) -> None:
        """Follow the hub's job events (on the running loop) until ``stop``."""
        self._sub = hub.subscribe()
        self._follow = asyncio.get_running_loop().create_task(self._run(hub, self._sub), name="cozygen-push")

    @property
    def busy(self) -> bool:
        """Whether an event is waiting or a push is under way."""
        return bool(self._tasks) or (self._sub is not None and not self._sub.queue.empty())

    async def _run(self, hub: EventHub, sub: Subscription) -> None:
        while True:
            event = await sub.queue.get()
            sub.overflowed = False  # the hub marks a full queue; a push missed then is not made up for
            if event.kind not in (DONE, FAILED):
                continue
            task = asyncio.get_running_loop().create_task(self._safe(event.kind, event.data))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _safe(self, kind: str, job: dict[str, Any]) -> None:
        try:
            await self.on_event(kind, job)
        except Exception:
            log.exception("CozyGen: pushing the end of job %s failed", job.get("id"))

    async def stop(self, hub: EventHub) -> None:
        follow, self._follow = self._follow, None
        if self._sub is not None:
            hub.unsubscribe(self._sub)
            self._sub = None
        for task in [follow, *self._tasks]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in [follow, *self._tasks] if t is not None), return_exceptions=True)
