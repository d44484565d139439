"""Serving an ASGI application (the MCP SDK's Streamable HTTP transport) from an aiohttp handler.

The request body is passed through in chunks, capped; the response is streamed back as the application sends it.
``extra`` entries go into the ASGI scope, so the application can find who is calling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from aiohttp import web

from ...core.errors import TooLarge

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
App = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]
CHUNK = 64 * 1024


def scope_of(request: web.Request, extra: dict[str, Any]) -> Scope:
    peer: Any = request.transport.get_extra_info("peername") if request.transport else None
    host, _, port = request.host.rpartition(":")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": f"{request.version.major}.{request.version.minor}",
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": request.raw_path.split("?", 1)[0].encode("latin-1"),
        "query_string": request.query_string.encode("latin-1"),
        "root_path": "",
        "headers": [(name.lower(), value) for name, value in request.raw_headers],
        "client": (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) and len(peer) >= 2 else None,
        "server": (host, int(port)) if port.isdigit() else (request.host, None),
        **extra,
    }


async def serve(request: web.Request, app: App, *, extra: dict[str, Any], max_body: int) -> web.StreamResponse:
    """Run ``app`` for ``request``: 413 for a body over ``max_body`` bytes (before the app sees any of it)."""
    if request.content_length is not None and request.content_length > max_body:
        raise TooLarge(f"the request body is over {max_body} bytes", code="BODY_TOO_LARGE")
    finished = asyncio.Event()
    response: web.StreamResponse | None = None
    received = 0
    body_done = False

    async def receive() -> Message:
        nonlocal received, body_done
        if body_done:
            await finished.wait()  # nothing more comes: the client is as good as gone once we answered
            return {"type": "http.disconnect"}
        chunk = await request.content.read(CHUNK)
        received += len(chunk)
        if received > max_body:
            raise TooLarge(f"the request body is over {max_body} bytes", code="BODY_TOO_LARGE")
        body_done = not chunk or request.content.at_eof()
        return {"type": "http.request", "body": chunk, "more_body": not body_done}

    async def send(message: Message) -> None:
        nonlocal response
        if message["type"] == "http.response.start":
            response = web.StreamResponse(status=message["status"])
            for name, value in message.get("headers", ()):
                response.headers.add(name.decode("latin-1"), value.decode("latin-1"))
            await response.prepare(request)
        elif message["type"] == "http.response.body" and response is not None:
            body = message.get("body", b"")
            if body:
                await response.write(body)
            if not message.get("more_body", False):
                await response.write_eof()

    try:
        await app(scope_of(request, extra), receive, send)
    finally:
        finished.set()
    if response is None:  # the application sent nothing: a bug of ours, not the caller's
        raise RuntimeError("the MCP transport sent no response")
    return response
