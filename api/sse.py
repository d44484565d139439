"""Server-Sent Events from an ``EventHub``: replay after ``Last-Event-ID``, filters, heartbeats."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
from aiohttp import web

from ..core.events import Event, EventHub

HEARTBEAT = 15.0
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
) -> web.StreamResponse:
    """Serve events until the client goes away. ``reset`` is sent when missed events can no longer be replayed."""
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
        for event in missed:
            if accept(event):
                await response.write(frame(event, named=named))
        sent = {e.seq for e in missed}
        while not subscription.overflowed:
            try:
                event = await asyncio.wait_for(subscription.queue.get(), timeout=heartbeat)
            except TimeoutError:
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
