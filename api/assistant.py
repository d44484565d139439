"""The prompt assistant over HTTP (core/assistant): the chat as a stream of named Server-Sent Events, the
actions' confirm and undo, and the user's own conversation.

``POST /cozygen/api/assistant/chat`` answers its errors (400, 404, 503 ``NO_LLM``, 429) before the stream starts;
then ``token``, ``action``, ``error`` and ``done`` events. ComfyUI's server does not cancel a handler whose client
went away, so the handler watches the connection and cancels the turn at once (closing the provider's stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from ..core.accounts.access import USER, VIEWER
from ..core.errors import BadRequest, NotFound
from ..core.tags.history import prompt_tag
from . import sse
from .jobs import caller
from .responses import json_response, read_json
from .routing import Routes
from .state import CozyGenState
from .workflows import callers_store, form_of

if TYPE_CHECKING:  # the assistant loads on its first use, not when ComfyUI imports CozyGen (bench/import_time.py)
    from ..core.assistant.session import Assistant, Turn

ACTION_ID = re.compile(r"^act[0-9a-f]{16}$")
WATCH = 0.1  # seconds between looks at whether the phone is still connected
TAGS_WAIT = 2.0  # seconds a tag check waits for a tag index still being made


def frame(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\n".encode() + b"data: " + orjson.dumps(data) + b"\n\n"


async def gone(request: web.Request) -> None:
    """Returns once the client's connection is closed."""
    while True:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(WATCH)


class AssistantRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state
        self._service: Assistant | None = None

    @property
    def service(self) -> Assistant:
        """Made on first use, over the services the server's start opened."""
        if self._service is None:
            from ..core.assistant.session import Assistant

            state = self.state
            self._service = Assistant(
                state.db, state.llm, state.providers, lambda: state.job_service, limits=state.llm_limits
            )
        return self._service

    async def tags(self, names: list[str]) -> dict[str, str | None]:
        """Each name as the tag lists' tag (an alias resolved), or None (history tags of the users' prompts are
        not the tag list, and are nobody else's business)."""
        service = self.state.tag_service
        if service is None:
            return dict.fromkeys(names)
        await service.settle(TAGS_WAIT)
        lists = (await service.current()).tags.lists
        found: dict[str, str | None] = {}
        for name in names:
            i = lists.lookup(prompt_tag(name))
            found[name] = lists.names[i] if i is not None else None
        return found

    async def chat(self, request: web.Request) -> web.StreamResponse:
        from ..core.assistant.session import check_message

        body = await read_json(request)
        workflow = body.get("workflow")
        if not isinstance(workflow, str) or not workflow.strip():
            raise BadRequest('send {"workflow": "<name>", "values": {...}, "message": "<text>"}',
                             code="MISSING_WORKFLOW")  # fmt: skip
        message = check_message(body.get("message"))
        values = body.get("values") if body.get("values") is not None else {}
        if not isinstance(values, dict):
            raise BadRequest("values must be an object of field -> value", code="INVALID_VALUES")
        asking = caller(request, self.state)
        form = await form_of(self.state, callers_store(self.state, asking), workflow)
        turn = await self.service.begin(
            username=asking.username, rate_key=asking.rate_key, workflow=workflow, parameters=form.schema,
            values=values, message=message, tags=self.tags,
        )  # fmt: skip
        response = web.StreamResponse(headers=sse.HEADERS)
        await response.prepare(request)
        pump, watch = asyncio.ensure_future(self._pump(turn, response)), asyncio.ensure_future(gone(request))
        try:
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            pump.cancel()
            watch.cancel()
            await asyncio.gather(pump, watch, return_exceptions=True)
        return response

    @staticmethod
    async def _pump(turn: Turn, response: web.StreamResponse) -> None:
        events = turn.events()
        async with contextlib.aclosing(events):
            async for kind, data in events:
                await response.write(frame(kind, data))

    def action_id(self, request: web.Request) -> str:
        action_id = request.match_info["action_id"]
        if not ACTION_ID.match(action_id):
            raise NotFound(f"no assistant action {action_id[:40]}", code="ACTION_NOT_FOUND")
        return action_id

    async def confirm(self, request: web.Request) -> web.Response:
        action_id = self.action_id(request)
        values = None
        if request.can_read_body:
            body = await read_json(request)
            values = body.get("values")
        jobs = await self.service.confirm(caller(request, self.state), action_id, values)
        return json_response({"jobs": jobs})

    async def undo(self, request: web.Request) -> web.Response:
        jobs = await self.service.undo(caller(request, self.state), self.action_id(request))
        return json_response({"jobs": jobs})

    async def conversation(self, request: web.Request) -> web.Response:
        messages = await self.service.conversation(caller(request, self.state).username)
        return json_response({"messages": messages})

    async def clear(self, request: web.Request) -> web.Response:
        removed = await self.service.clear(caller(request, self.state).username)
        return json_response({"removed": removed})


def add_routes(routes: Routes, state: CozyGenState) -> None:
    handlers = AssistantRoutes(state)
    routes.post("/cozygen/api/assistant/chat", access=USER)(handlers.chat)
    routes.post("/cozygen/api/assistant/actions/{action_id}/confirm", access=USER)(handlers.confirm)
    routes.post("/cozygen/api/assistant/actions/{action_id}/undo", access=USER)(handlers.undo)
    routes.get("/cozygen/api/assistant/conversation", access=VIEWER)(handlers.conversation)
    routes.delete("/cozygen/api/assistant/conversation", access=USER)(handlers.clear)
