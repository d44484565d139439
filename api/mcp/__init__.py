"""The Model Context Protocol endpoint, /cozygen/api/mcp (Streamable HTTP): tools to list workflows and their
forms, generate, get a job, search the gallery and fetch an image, for an AI assistant.

The route is a viewer's; each tool checks the level it needs (generate: user) against the caller's role. Auth is
CozyGen's own: an API token as ``Authorization: Bearer``, or the session cookie from this origin.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from aiohttp import web

from ...core.accounts.access import VIEWER, is_loopback
from ...core.errors import Forbidden
from ..responses import json_response
from ..routing import Routes
from ..state import CozyGenState

PATH = "/cozygen/api/mcp"


def host_name(host: str) -> str:
    """The name or address of a Host header, without its port (``[::1]:8188`` -> ``::1``)."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def trusted_host(host: str) -> bool:
    """Whether a Host header cannot be a DNS-rebound name: an IP address, or localhost."""
    name = host_name(host)
    if is_loopback(name):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class McpRoutes:
    """The endpoint: CozyGen's checks, then the MCP server (api/mcp/server.py)."""

    def __init__(self, state: CozyGenState) -> None:
        self.state = state
        self.server: Any = None  # McpServer, made on the first request (CozyGen's import stays light)

    async def shutdown(self) -> None:
        if self.server is not None:
            await self.server.shutdown()

    def check_host(self, request: web.Request) -> None:
        """While auth is off nothing proves who calls, so a web page must not reach the tools through a name
        rebound to this machine: the Host must be an address or localhost."""
        if not self.state.auth_enabled and not trusted_host(request.host):
            raise Forbidden(
                f"Host {request.host!r} refused while auth is off: connect by IP address or localhost, or turn "
                "auth on (COZYGEN_AUTH=on) and send an API token",
                code="UNTRUSTED_HOST",
            )

    async def endpoint(self, request: web.Request) -> web.StreamResponse:
        self.check_host(request)
        if self.server is None:
            from .server import McpServer

            self.server = McpServer(self.state)
        return await self.server.serve(request)

    async def no_stream(self, _request: web.Request) -> web.Response:
        """Stateless: no server-to-client stream to open (the transport's answer for that is 405)."""
        body = {"error": "this MCP server is stateless: POST each message", "code": "METHOD_NOT_ALLOWED"}
        return json_response(body, status=405, headers={"Allow": "POST"})


def add_routes(routes: Routes, state: CozyGenState) -> None:
    r = McpRoutes(state)
    routes.post(PATH, access=VIEWER)(r.endpoint)
    routes.get(PATH, access=VIEWER)(r.no_stream)
    state.stoppers.append(r.shutdown)
