"""Server-Sent Events from an ``EventHub``: replay after ``Last-Event-ID``, filters, heartbeats."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from ..core.events import Event, EventHub

HEARTBEAT = 15.0
# (last_id, the replayed events, whether the replay was complete) -> more (kind, data) events to send
CatchUp = Callable[[str | None, list[Event], bool], Awaitable[list[tuple[str, dict[str, Any]]]]]
HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}


def frame(event: Event, *, named: bool) -> bytes:
    """One event on the wire. Unnamed events reach ``EventSource.onmessage`` (what seed clients listen to)."""
    head = f"id: {event.id}\n" + (f"event: {event.kind}\n" if named else "")
    return head.encode() + b"data: " + orjson.dumps(event.data) + b"\n\n"


async def stream(
    request: web.Request,
    hub: EventHub,
    *,
    accept: Callable[[Event], bool] = lambda _event: True,
    named: bool = False,
    heartbeat: float = HEARTBEAT,
    reset: dict | None = None,
    catch_up: CatchUp | None = None,
) -> web.StreamResponse:
    """Serve events until the client goes away. ``reset`` is sent when missed events can no longer be replayed.

    ``catch_up(last_id, replayed, complete)`` may add events after the replay, from somewhere other than the
    hub's buffer (a record): they are sent without an id, so the client's ``Last-Event-ID`` stays valid.
    """
    response = web.StreamResponse(headers=HEADERS)
    await response.prepare(request)
    subscription = hub.subscribe()
    try:
        await response.write(b":ok\n\n")
        last_id = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
        missed, complete = hub.since(last_id)
        if not complete:
            await response.write(b"event: reset\n" if named else b"")
            await response.write(b"data: " + orjson.dumps(reset or {"event": "reset"}) + b"\n\n")
        replayed = [event for event in missed if accept(event)]
        for event in replayed:
            await response.write(frame(event, named=named))
        if catch_up is not None:
            for kind, data in await catch_up(last_id, replayed, complete):
                head = f"event: {kind}\n".encode() if named else b""
                await response.write(head + b"data: " + orjson.dumps(data) + b"\n\n")
        sent = {e.seq for e in missed}
        while not subscription.overflowed:
            try:
                event = await asyncio.wait_for(subscription.queue.get(), timeout=heartbeat)
            except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
                await response.write(b":keepalive\n\n")
                continue
            if event.seq in sent or not accept(event):
                continue
            await response.write(frame(event, named=named))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.unsubscribe(subscription)
    return response
