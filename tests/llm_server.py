"""A language model's server on a loopback socket, scripted per test: it speaks the OpenAI chat-completions
protocol (streaming and not, tool calls in OpenAI's delta shape) and Ollama's model routes, so tests assert what
CozyGen sends and what it does with each answer::

    with LLMServer(key="sk-test") as llm:       # key: requests without "Authorization: Bearer sk-test" (or
        llm.script([Text(["Hel", "lo"])])       #   x-api-key: sk-test) get 401 in OpenAI's error shape
        ...                                     # a provider with url=llm.v1 (openai-compatible) or llm.url (ollama)
        llm.chats[0].body["messages"]           # what CozyGen sent to /v1/chat/completions
        llm.requests                            # every request: method, path, query, headers (lowercased), body

Each chat request takes the next scripted answer (none left: ``Text(["fake answer"])``):

- ``Text(chunks)``: the text in those deltas (streamed) or joined (``"stream": false``); ``finish``, ``usage``;
- ``Tool(name, arguments)``: one tool call, its JSON ``arguments`` text split over ``pieces`` deltas; ``Calls([...])``
  several in one answer (``text`` before them);
- ``Error(status, body)``: that status and body (a dict is sent as JSON);
- ``Hang()``: accepts and never answers (until the client goes away: counted in ``aborted``);
- ``Garbage(data)``: a 200 whose body is not SSE or JSON;
- ``Drip(chunks, delay)``: text chunks with ``delay`` seconds before each (``aborted`` counts a client that went
  away mid-stream; ``open_streams`` is how many answers are being written now).

Models: ``GET /v1/models`` (OpenAI's list), Ollama's ``GET /api/tags``, ``GET /api/ps`` (the loaded ones) and
``POST /api/generate`` with ``keep_alive`` (-1 or a duration: load; 0: unload) and no prompt; ``llm.models`` and
``llm.loaded`` are the state (sets of names).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web
from loopback import Seen, Served, bound

CHAT = "/v1/chat/completions"


@dataclass(frozen=True)
class Text:
    chunks: list[str]
    finish: str = "stop"
    usage: dict[str, int] | None = None


@dataclass(frozen=True)
class Tool:
    name: str
    arguments: str  # JSON text, as a model sends it (it may be invalid on purpose)
    id: str | None = None
    pieces: int = 3


@dataclass(frozen=True)
class Calls:
    tools: list[Tool]
    text: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Error:
    status: int
    body: Any = None  # str, or a dict sent as JSON; None: OpenAI's error shape with a message


@dataclass(frozen=True)
class Hang:
    pass


@dataclass(frozen=True)
class Garbage:
    data: bytes = b"<html>\x00\xff this is not server-sent events {{{\n\n"


@dataclass(frozen=True)
class Drip:
    chunks: list[str]
    delay: float = 0.2


Answer = Text | Tool | Calls | Error | Hang | Garbage | Drip


def _split(text: str, pieces: int) -> list[str]:
    size = max(1, -(-len(text) // max(1, pieces)))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class LLMServer:
    def __init__(self, *, key: str | None = None, models: tuple[str, ...] = ("fake-model", "fake-small")) -> None:
        self.key = key
        self.models: set[str] = set(models)
        self.loaded: set[str] = set()
        self.requests: list[Seen] = []
        self.aborted = 0  # answers whose client went away before they ended
        self.open_streams = 0
        self._answers: list[Answer] = []
        self._lock = threading.Lock()
        self._served = Served("llm server", on_stop=self._stopping)
        self._stop: asyncio.Event | None = None
        self._calls = 0
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        sock = bound()
        self.port = sock.getsockname()[1]
        self._served.start(self._app, [sock])
        return self

    def __exit__(self, *_exc: object) -> None:
        self._served.stop()

    def _app(self) -> web.Application:
        self._stop = asyncio.Event()
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post(CHAT, self._chat)
        app.router.add_get("/v1/models", self._v1_models)
        app.router.add_get("/api/tags", self._tags)
        app.router.add_get("/api/ps", self._ps)
        app.router.add_post("/api/generate", self._generate)
        return app

    async def _stopping(self) -> None:
        if self._stop is not None:
            self._stop.set()

    # -- what a test sets up and reads ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The root, ``http://127.0.0.1:<port>`` (an Ollama provider's URL)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def v1(self) -> str:
        """The OpenAI base, ``<url>/v1`` (an openai-compatible provider's URL)."""
        return self.url + "/v1"

    def script(self, answers: list[Answer]) -> None:
        """Queue answers for the next chat requests, in order (after any still queued)."""
        with self._lock:
            self._answers.extend(answers)

    def reset(self) -> None:
        with self._lock:
            self._answers.clear()
            self.requests.clear()
            self.aborted = 0

    @property
    def chats(self) -> list[Seen]:
        """The chat-completions requests received, in order."""
        return [seen for seen in list(self.requests) if seen.path == CHAT]

    def seen(self, path: str) -> list[Seen]:
        return [seen for seen in list(self.requests) if seen.path == path]

    # -- the server -----------------------------------------------------------------------------------------
    async def _record(self, request: web.Request) -> Seen:
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        seen = Seen(
            request.method, request.path, request.query_string, {k.lower(): v for k, v in request.headers.items()},
            body,
        )  # fmt: skip
        with self._lock:
            self.requests.append(seen)
        return seen

    def _refused(self, seen: Seen) -> web.Response | None:
        if self.key is None:
            return None
        given = {seen.headers.get("authorization", ""), f"Bearer {seen.headers.get('x-api-key', '')}"}
        if f"Bearer {self.key}" in given:
            return None
        error = {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}
        return web.json_response({"error": error}, status=401)

    def _next(self) -> Answer:
        with self._lock:
            self._calls += 1
            return self._answers.pop(0) if self._answers else Text(["fake answer"])

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        seen = await self._record(request)
        refused = self._refused(seen)
        if refused is not None:
            return refused
        body = seen.body if isinstance(seen.body, dict) else {}
        answer = self._next()
        model = str(body.get("model") or "fake-model")
        if isinstance(answer, Error):
            if answer.body is None:
                error = {"message": f"scripted error {answer.status}", "type": "server_error", "code": None}
                return web.json_response({"error": error}, status=answer.status)
            if isinstance(answer.body, dict | list):
                return web.json_response(answer.body, status=answer.status)
            return web.Response(status=answer.status, text=str(answer.body))
        if isinstance(answer, Hang):
            return await self._hang(request)
        if body.get("stream"):
            return await self._stream(request, answer, model, body)
        if isinstance(answer, Garbage):
            return web.Response(body=answer.data, content_type="application/json")
        if isinstance(answer, Drip):
            for _chunk in answer.chunks:
                await asyncio.sleep(answer.delay)
        return web.json_response(self._completion(answer, model))

    async def _hang(self, request: web.Request) -> web.StreamResponse:
        assert self._stop is not None
        while not self._stop.is_set():
            transport = request.transport
            if transport is None or transport.is_closing():
                self.aborted += 1
                break
            await asyncio.sleep(0.05)
        return web.Response(status=503, text="the fake server stopped")

    def _completion(self, answer: Answer, model: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": None}
        finish, usage = "stop", {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        if isinstance(answer, Text | Drip):
            message["content"] = "".join(answer.chunks)
            if isinstance(answer, Text):
                finish, usage = answer.finish, answer.usage or usage
        else:
            calls = answer.tools if isinstance(answer, Calls) else [answer] if isinstance(answer, Tool) else []
            if isinstance(answer, Calls) and answer.text:
                message["content"] = "".join(answer.text)
            message["tool_calls"] = [
                {"id": self._call_id(i, tool), "type": "function",
                 "function": {"name": tool.name, "arguments": tool.arguments}}
                for i, tool in enumerate(calls)
            ]  # fmt: skip
            finish = "tool_calls"
        return {
            "id": f"chatcmpl-{self._calls}", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage,
        }  # fmt: skip

    def _call_id(self, index: int, tool: Tool) -> str:
        return tool.id or f"call_{self._calls}_{index}"

    async def _stream(
        self, request: web.Request, answer: Answer, model: str, body: dict[str, Any]
    ) -> web.StreamResponse:
        reply = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await reply.prepare(request)
        self.open_streams += 1
        base = {"id": f"chatcmpl-{self._calls}", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": model}  # fmt: skip

        async def send(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            await reply.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")

        finished = False
        try:
            if isinstance(answer, Garbage):
                await reply.write(answer.data)
                finished = True
                return reply
            await send({"role": "assistant", "content": ""})
            finish, usage = "stop", {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
            if isinstance(answer, Text):
                for chunk in answer.chunks:
                    await send({"content": chunk})
                finish, usage = answer.finish, answer.usage or usage
            elif isinstance(answer, Drip):
                for chunk in answer.chunks:
                    await asyncio.sleep(answer.delay)
                    transport = request.transport
                    if transport is None or transport.is_closing():
                        return reply  # the client went away: counted in aborted
                    await send({"content": chunk})
            else:
                calls = answer.tools if isinstance(answer, Calls) else [answer] if isinstance(answer, Tool) else []
                for chunk in answer.text if isinstance(answer, Calls) else []:
                    await send({"content": chunk})
                for index, tool in enumerate(calls):
                    first = {"index": index, "id": self._call_id(index, tool), "type": "function",
                             "function": {"name": tool.name, "arguments": ""}}  # fmt: skip
                    await send({"tool_calls": [first]})
                    for piece in _split(tool.arguments, tool.pieces):
                        await send({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                finish = "tool_calls"
            await send({}, finish)
            if (body.get("stream_options") or {}).get("include_usage"):
                await reply.write(b"data: " + json.dumps({**base, "choices": [], "usage": usage}).encode() + b"\n\n")
            await reply.write(b"data: [DONE]\n\n")
            await reply.write_eof()
            finished = True
            return reply
        except ConnectionError:  # the client went away while a chunk was written
            return reply
        finally:
            self.open_streams -= 1
            if not finished:
                self.aborted += 1

    async def _v1_models(self, request: web.Request) -> web.Response:
        refused = self._refused(await self._record(request))
        if refused is not None:
            return refused
        data = [{"id": name, "object": "model", "created": 1700000000, "owned_by": "library"}
                for name in sorted(self.models)]  # fmt: skip
        return web.json_response({"object": "list", "data": data})

    def _ollama_model(self, name: str) -> dict[str, Any]:
        return {
            "name": name, "model": name, "modified_at": "2026-01-01T00:00:00Z", "size": 1_000_000, "digest": "0" * 64,
            "details": {"format": "gguf", "family": "llama", "parameter_size": "1B", "quantization_level": "Q4_0"},
        }  # fmt: skip

    async def _tags(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"models": [self._ollama_model(name) for name in sorted(self.models)]})

    async def _ps(self, request: web.Request) -> web.Response:
        await self._record(request)
        loaded = [{**self._ollama_model(name), "expires_at": "2318-01-01T00:00:00Z", "size_vram": 1_000_000}
                  for name in sorted(self.loaded)]  # fmt: skip
        return web.json_response({"models": loaded})

    async def _generate(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        body = seen.body if isinstance(seen.body, dict) else {}
        name = body.get("model")
        if name not in self.models:
            return web.json_response({"error": f"model '{name}' not found"}, status=404)
        keep_alive = body.get("keep_alive")
        unload = keep_alive in (0, "0", "0s", "0m")
        with self._lock:
            (self.loaded.discard if unload else self.loaded.add)(name)
        return web.json_response({
            "model": name, "created_at": "2026-01-01T00:00:00Z", "response": "", "done": True,
            "done_reason": "unload" if unload else "load",
        })  # fmt: skip
