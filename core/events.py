"""A publish/subscribe hub for live events, with a bounded replay buffer.

Any thread may publish; subscribers are asyncio queues on their own loop. Event
ids are ``<boot>-<n>``: a client that reconnects with ``Last-Event-ID`` gets the
events it missed while they are still in the ring buffer, and is told to reload
when they are not (buffer overrun, or the server restarted).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    seq: int
    kind: str
    data: dict[str, Any]
    boot: str
    at: float = field(default_factory=time.time)

    @property
    def id(self) -> str:
        return f"{self.boot}-{self.seq}"


@dataclass(eq=False)  # compared and hashed by identity
class Subscription:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue
    overflowed: bool = False
    internal: bool = False  # a server-side follower, not a client: left out of subscriber_count


class EventHub:
    def __init__(self, capacity: int = 4096, queue_size: int = 1024) -> None:
        self.boot = format(int(time.time() * 1000), "x")
        self._buffer: deque[Event] = deque(maxlen=capacity)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()
        self._queue_size = queue_size

    def publish(self, kind: str, data: dict[str, Any]) -> Event:
        with self._lock:
            event = Event(next(self._seq), kind, data, self.boot)
            self._buffer.append(event)
            subscribers = list(self._subscribers)
        for sub in subscribers:
            try:
                sub.loop.call_soon_threadsafe(self._deliver, sub, event)
            except RuntimeError:  # that loop is closed
                self._subscribers.discard(sub)
        return event

    @staticmethod
    def _deliver(sub: Subscription, event: Event) -> None:
        try:
            sub.queue.put_nowait(event)
        except asyncio.QueueFull:  # a stalled client: end its stream, it resumes with Last-Event-ID
            sub.overflowed = True

    def subscribe(self, *, internal: bool = False) -> Subscription:
        sub = Subscription(asyncio.get_running_loop(), asyncio.Queue(self._queue_size), internal=internal)
        with self._lock:
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        """Subscribers other than the server's own ``internal`` followers."""
        return sum(not sub.internal for sub in self._subscribers)

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._buffer[-1].seq if self._buffer else 0

    def since(self, last_event_id: str | None) -> tuple[list[Event], bool]:
        """Events after ``last_event_id`` and whether that is all of them (False: the client must reload)."""
        if not last_event_id:
            return [], True
        boot, _, seq_text = last_event_id.rpartition("-")
        with self._lock:
            events = list(self._buffer)
        # ASCII digits only, and few enough for int(): "²" and 5000-digit ids are garbage, not errors
        if boot != self.boot or not (seq_text.isascii() and seq_text.isdigit() and len(seq_text) <= 19):
            return [], False
        seq = int(seq_text)
        missed = [e for e in events if e.seq > seq]
        complete = not events or events[0].seq <= seq + 1 or seq >= events[-1].seq
        return missed, complete
