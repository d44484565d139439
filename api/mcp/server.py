"""CozyGen's MCP server: the official MCP SDK's low-level server over the tools of api/mcp/tools.py, behind the
SDK's Streamable HTTP transport (stateless, JSON answers), served from aiohttp through api/mcp/asgi.py.

The SDK is imported on the first MCP request, never at CozyGen's import. Its session manager runs in one
background task from then until ComfyUI shuts down. Stateless: each POST carries one exchange, so nothing is
kept between requests and every request is authenticated by CozyGen's guard on its own.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

import orjson
from aiohttp import web

from ...core.errors import CozyGenError, RateLimited
from ...core.mcp.tools import ToolResult
from ...core.version import __version__
from ..state import CozyGenState
from . import asgi
from .tools import McpTools

log = logging.getLogger("cozygen")
REQUEST_KEY = "cozygen.request"  # the ASGI scope's entry holding the aiohttp request
MAX_BODY = 1024 * 1024
INSTRUCTIONS = (
    "CozyGen runs ComfyUI workflows. list_workflows, then get_workflow_parameters for the form of one, then "
    "generate with values by parameter name (it waits for the images by default). get_job polls a job; "
    "search_gallery finds earlier outputs; fetch_image shows one."
)


def error_text(error: CozyGenError) -> str:
    """A tool error as an assistant reads it: the code, the message, and when to retry."""
    text = f"{error.code}: {error.message}"
    if isinstance(error, RateLimited):
        text += f" (retry after {error.retry_after} s)"
    return text


def build_server(state: CozyGenState) -> Any:
    """The SDK's low-level server with CozyGen's tools (imports the SDK)."""
    import mcp_types as types
    from mcp.server.lowlevel.server import Server

    def tools_for(ctx: Any) -> McpTools:
        request = ctx.request.scope.get(REQUEST_KEY) if ctx.request is not None else None
        if request is None:
            raise RuntimeError("an MCP message without its HTTP request")
        return McpTools(state, request)

    def content(result: ToolResult) -> list[Any]:
        parts: list[Any] = [types.TextContent(text=orjson.dumps(result.data).decode())]
        for image in result.images:
            parts.append(types.ImageContent(data=base64.b64encode(image.data).decode(), mime_type=image.mime_type))
        return parts

    async def list_tools(ctx: Any, _params: Any) -> Any:
        listed = tools_for(ctx).listed()
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=tool.name,
                    title=tool.title,
                    description=tool.description,
                    input_schema=tool.input_schema,
                    annotations=types.ToolAnnotations(
                        title=tool.title,
                        read_only_hint=tool.read_only,
                        destructive_hint=False,
                        idempotent_hint=tool.read_only,
                        open_world_hint=False,
                    ),
                )
                for tool in listed
            ]
        )

    async def call_tool(ctx: Any, params: Any) -> Any:
        try:
            result = await tools_for(ctx).call(params.name, params.arguments)
        except CozyGenError as error:
            return types.CallToolResult(
                content=[types.TextContent(text=error_text(error))], structured_content=error.to_dict(), is_error=True
            )
        except Exception:  # a bug of ours: logged, and told as a tool error rather than a broken exchange
            log.exception("CozyGen: MCP tool %s failed", params.name)
            return types.CallToolResult(
                content=[types.TextContent(text="INTERNAL: the tool failed; see ComfyUI's log")], is_error=True
            )
        return types.CallToolResult(content=content(result), structured_content=result.data)

    return Server(
        "cozygen",
        version=__version__,
        title="CozyGen",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


class McpServer:
    """The SDK's session manager, started on first use and stopped at shutdown."""

    def __init__(self, state: CozyGenState) -> None:
        self.state = state
        self.manager: Any = None
        self.task: asyncio.Task | None = None
        self.stop: asyncio.Event | None = None
        self.starting: asyncio.Future | None = None

    async def started(self) -> Any:
        """The running session manager (built and started by the first caller; the others wait for it)."""
        if self.starting is None:
            loop = asyncio.get_running_loop()
            self.starting, self.stop = loop.create_future(), asyncio.Event()
            self.task = loop.create_task(self.run(self.starting, self.stop), name="cozygen-mcp")
        return await asyncio.shield(self.starting)

    async def run(self, starting: asyncio.Future, stop: asyncio.Event) -> None:
        try:
            from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
            from mcp.server.transport_security import TransportSecuritySettings

            manager = StreamableHTTPSessionManager(
                build_server(self.state),
                stateless=True,
                json_response=True,
                # CozyGen's guard authenticates every request and checks the origin of cookie requests; the
                # endpoint checks the Host itself while auth is off (api/mcp/__init__.py)
                security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
                max_request_body_size=MAX_BODY,
            )
            async with manager.run():
                starting.set_result(manager)
                await stop.wait()
        except Exception as exc:
            log.exception("CozyGen: the MCP server stopped")
            if not starting.done():
                starting.set_exception(exc)
            self.starting = None  # the next request tries again

    async def serve(self, request: web.Request) -> web.StreamResponse:
        manager = await self.started()
        return await asgi.serve(request, manager.handle_request, extra={REQUEST_KEY: request}, max_body=MAX_BODY)

    async def shutdown(self) -> None:
        if self.stop is not None and self.task is not None:
            self.stop.set()
            try:
                await asyncio.wait_for(self.task, timeout=10)
            except asyncio.TimeoutError:
                log.warning("CozyGen: the MCP server did not stop within 10 s")
