"""AI Playground's OpenAI-compatible chat (seed 001) at /cozygen/compat/aiplayground/v1/chat/completions, answered
by CozyGen's default LLM provider through the one client (``state.llm``).

The request is OpenAI's (``model``, ``messages``, ``stream``, ``temperature``, ``max_tokens`` or
``max_completion_tokens``, ``tools``, ``stream_options.include_usage``). Its ``model`` is passed on when the
provider lists it (the list is kept a minute), else the provider's default model. Streaming answers
``chat.completion.chunk`` objects as ``data: {json}`` lines and ``data: [DONE]``; a tool call arrives whole in one
delta. A provider that fails before its first token answers a JSON error with the status (502, 504, 503 without a
provider); one that fails later ends the stream with a ``data: {"error": ...}`` line. Errors are OpenAI's
``{"error": {"message", "type", "code"}}`` (CozyGen's code); the guard's own 401 and 403 keep CozyGen's shape.
Closing the stream closes the provider's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import orjson
from aiohttp import web

from ...core.accounts.access import USER
from ...core.errors import BadRequest, CozyGenError
from ...core.llm.model import ChatEvent, Completion, Finished, Provider, TextDelta, ToolCall
from .. import sse
from ..assistant import gone
from ..responses import json_response, read_json
from ..routing import Routes
from ..state import CozyGenState
from . import llm_request
from .common import in_shape

T = TypeVar("T")
MODELS_KEPT = 60.0  # seconds a provider's model list is trusted
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_error(error: CozyGenError) -> dict[str, Any]:
    kind = ERROR_TYPES.get(error.status) or ("api_error" if error.status >= 500 else "invalid_request_error")
    return {"error": {"message": error.message, "type": kind, "code": error.code, "param": None}}


in_openai_shape = in_shape(openai_error)


def tool_call(index: int, call: ToolCall) -> dict[str, Any]:
    return {"index": index, "id": call.id, "type": "function",
            "function": {"name": call.name, "arguments": call.arguments}}  # fmt: skip


def completion_body(completion: Completion, model: str, *, answer_id: str, created: int) -> dict[str, Any]:
    """OpenAI's ``chat.completion``."""
    message: dict[str, Any] = {"role": "assistant", "content": completion.text or None}
    if completion.tool_calls:
        message["tool_calls"] = [
            {k: v for k, v in tool_call(i, c).items() if k != "index"} for i, c in enumerate(completion.tool_calls)
        ]
    elif message["content"] is None:
        message["content"] = ""
    return {
        "id": answer_id, "object": "chat.completion", "created": created, "model": completion.model or model,
        "choices": [{"index": 0, "message": message, "finish_reason": completion.reason}],
        "usage": completion.usage,
    }  # fmt: skip


class Chunks:
    """Chat events as OpenAI's ``chat.completion.chunk`` lines of one answer."""

    def __init__(self, model: str, *, include_usage: bool) -> None:
        self.base = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion.chunk",
                     "created": int(time.time()), "model": model}  # fmt: skip
        self.include_usage = include_usage
        self.calls = 0

    def line(self, delta: dict[str, Any] | None, finish: str | None = None, **more: Any) -> bytes:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
        return b"data: " + orjson.dumps({**self.base, "choices": choices, **more}) + b"\n\n"

    def start(self) -> bytes:
        return self.line({"role": "assistant", "content": ""})

    def of(self, event: ChatEvent) -> list[bytes]:
        if isinstance(event, TextDelta):
            return [self.line({"content": event.text})] if event.text else []
        if isinstance(event, ToolCall):
            self.calls += 1
            return [self.line({"tool_calls": [tool_call(self.calls - 1, event)]})]
        lines = [self.line({}, event.reason)]
        if self.include_usage:
            lines.append(self.line(None, usage=event.usage))
        return lines


class AIPlaygroundChatRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state, self.limit = state, llm_request.CallLimit(state)
        self._models: dict[tuple[str, str, str | None], tuple[float, list[str]]] = {}

    async def model_for(self, provider: Provider, wanted: str | None) -> str | None:
        """The request's model when the provider lists it, else the provider's default (None: the client's)."""
        if wanted is None:
            return provider.default_model
        listed = await self.listed(provider)
        if wanted in listed:
            return wanted
        return provider.default_model or (listed[0] if listed else wanted)

    async def listed(self, provider: Provider) -> list[str]:
        key = (provider.id, provider.chat_url(), provider.key)  # a changed provider is asked again
        kept = self._models.get(key)
        if kept is not None and time.monotonic() - kept[0] < MODELS_KEPT:
            return kept[1]
        try:
            names = await self.state.llm.models(provider)
        except CozyGenError:
            names = []  # the chat itself says what is wrong with the provider
        if len(self._models) > 64:
            self._models.clear()
        self._models[key] = (time.monotonic(), names)
        return names

    async def completions(self, request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        messages = llm_request.messages(body.get("messages"), roles=llm_request.OPENAI_ROLES)
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise BadRequest("stream: true or false", code="INVALID_OPTIONS")
        stream_options = body.get("stream_options")
        include_usage = isinstance(stream_options, dict) and stream_options.get("include_usage") is True
        tokens = body.get("max_tokens", body.get("max_completion_tokens"))
        options: dict[str, Any] = {
            "tools": llm_request.tools(body.get("tools")),
            "max_tokens": llm_request.max_tokens(tokens),
            "temperature": llm_request.temperature(body.get("temperature")),
        }
        wanted = llm_request.model_name(body.get("model"))
        self.limit.take(request)
        provider = await self.state.providers.default()
        model = await self.model_for(provider, wanted)
        shown = model or wanted or ""
        if not stream:
            completion = await self.state.llm.complete(provider, messages, model=model, **options)
            answer_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
            return json_response(completion_body(completion, shown, answer_id=answer_id, created=int(time.time())))
        events = self.state.llm.stream(provider, messages, model=model, **options)
        return await self.relay(request, events, Chunks(shown, include_usage=include_usage))

    async def relay(self, request: web.Request, events: AsyncIterator[ChatEvent], chunks: Chunks) -> web.StreamResponse:
        """The provider's events as chunk lines; its failure before the first event is the handler's error. The
        client's connection is watched (ComfyUI's server does not cancel a handler whose client left): once it
        is gone, the provider's stream is closed at once, even while it is waiting for a token."""
        watch = asyncio.ensure_future(gone(request))
        response = web.StreamResponse(headers=sse.HEADERS)
        try:
            first = await until_gone(anext(events, None), watch)
            await response.prepare(request)
            await until_gone(self.pump(response, events, first, chunks), watch)
            return response
        except ClientGone:
            return response if response.prepared else web.Response(status=499)  # nobody reads it
        finally:
            watch.cancel()
            await events.aclose()  # type: ignore[attr-defined]

    @staticmethod
    async def pump(response: web.StreamResponse, events: AsyncIterator[ChatEvent], first: ChatEvent | None,
                   chunks: Chunks) -> None:  # fmt: skip
        try:
            await response.write(chunks.start())
            event = first
            while event is not None:
                for line in chunks.of(event):
                    await response.write(line)
                if isinstance(event, Finished):
                    break
                event = await anext(events, None)
            await response.write(b"data: [DONE]\n\n")
        except CozyGenError as exc:
            with contextlib.suppress(ConnectionResetError):
                await response.write(b"data: " + orjson.dumps(openai_error(exc)) + b"\n\n")
        except ConnectionResetError:
            pass  # the client went away: the provider's stream is closed by relay


class ClientGone(Exception):
    """The client closed its connection before the answer ended."""


async def until_gone(work: Awaitable[T], watch: asyncio.Future[None]) -> T:
    """``work``'s result, or ClientGone (``work`` cancelled) once ``watch`` says the client left."""
    task = asyncio.ensure_future(work)
    waiting: set[asyncio.Future[Any]] = {task, watch}
    try:
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if task.cancelled():
        raise ClientGone()
    return task.result()


def add_routes(routes: Routes, state: CozyGenState, base: str) -> None:
    r = AIPlaygroundChatRoutes(state)
    routes.post(f"{base}/v1/chat/completions", access=USER)(in_openai_shape(r.completions))
