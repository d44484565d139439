"""The one client that asks a language model (the assistant, enrich, random prompts, the seeds' chat routes): the
OpenAI chat-completions protocol at the provider's ``chat_url``, through a :class:`Transport`.

One policy for every call: connect within 5 s, the first token (or a non-streamed answer) within the provider's
``timeout``, the whole answer within ``total_timeout`` (180 s); one retry, after 0.5 s, of a connect failure or a
502/503 answered before any of the body was read; one error shape (``LLMError``, ``LLMTimeout``). The provider is
untrusted: a line is capped at 64 KB, the answer at ``MAX_ANSWER`` characters (the stream then ends with reason
``length``), anything that is not a chat stream is an ``LLMError``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from .model import Completion, Finished, LLMError, LLMTimeout, Provider, TextDelta, ToolCall, http_failure
from .transport import Transport, TransportError

CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 180.0
RETRY_DELAY = 0.5
LINE_CAP = 64 * 1024
MAX_ANSWER = 32_000  # characters of text (and of tool-call arguments) in one answer
JSON_CAP = 4 * 1024 * 1024  # a non-streamed answer
MODELS_CAP = 8 * 1024 * 1024
MODELS_TIMEOUT = 15.0
MAX_MODELS = 2000
MAX_TOOL_CALLS = 16
RETRIED = (502, 503)
REASONS = {"stop": "stop", "tool_calls": "tool_calls", "function_call": "tool_calls", "length": "length",
           "max_tokens": "length"}  # fmt: skip


def request_body(
    provider: Provider,
    messages: list[dict[str, Any]],
    *,
    model: str | None,
    tools: list[dict[str, Any]] | None,
    max_tokens: int | None,
    temperature: float | None,
    stream: bool,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    chosen = model or provider.default_model
    if chosen:
        body["model"] = chosen
    body["messages"] = messages
    if tools:
        body["tools"] = tools
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if temperature is not None:
        body["temperature"] = temperature
    body["stream"] = stream
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def error_text(text: str) -> str:
    """The message of an OpenAI-style error body (``{"error": {"message"}}`` or ``{"error": "..."}``), else the text."""
    try:
        found = json.loads(text)
    except ValueError:
        return text
    error = found.get("error") if isinstance(found, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    return error if isinstance(error, str) else text


def failure(provider: Provider, exc: TransportError, timeout: float) -> LLMError:
    if exc.status is not None and 200 <= exc.status < 300:  # it answered, but too much
        return LLMError(f"the LLM at {provider.shown()} {exc.text}")
    if exc.status is not None:
        return http_failure(provider, exc.status, error_text(exc.text))
    if exc.timeout:
        return LLMTimeout(f"the LLM at {provider.shown()} did not answer within {timeout:g} s: it may be busy "
                          "loading a model; try again, or raise its timeout")  # fmt: skip
    reason = " ".join(exc.text.split())[:200] or "no answer"
    return LLMError(f"the LLM at {provider.shown()} could not be reached ({reason}): check that it is running and "
                    "its URL")  # fmt: skip


def usage_of(value: Any) -> dict[str, int] | None:
    if not isinstance(value, dict):
        return None
    found = {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)}
    return found or None


@dataclass
class _Call:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class _Stream:
    """The state of one streamed answer: what its chunks said so far."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.chars = 0
        self.calls: dict[int, _Call] = {}
        self.reason: str | None = None
        self.usage: dict[str, int] | None = None
        self.done = False

    def garbage(self, what: str) -> LLMError:
        return LLMError(f"the LLM at {self.provider.shown()} answered {what}, not a chat-completions stream: check "
                        "that its URL is an OpenAI-compatible endpoint")  # fmt: skip

    def line(self, raw: bytes) -> list[TextDelta | Finished]:
        """The events of one line of the body (text deltas; ``Finished("length")`` when the answer is too long)."""
        if len(raw) > LINE_CAP:
            raise self.garbage(f"a line longer than {LINE_CAP // 1024} KB")
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise self.garbage("bytes that are not UTF-8") from None
        if not line or line.startswith(":"):
            return []
        name, _, value = line.partition(":")
        if name in ("event", "id", "retry"):
            return []
        if name != "data":
            raise self.garbage("a line that is not server-sent events")
        value = value.strip()
        if value == "[DONE]":
            self.done = True
            return []
        try:
            chunk = json.loads(value)
        except ValueError:
            raise self.garbage("data that is not JSON") from None
        if not isinstance(chunk, dict):
            raise self.garbage("data that is not a JSON object")
        if "error" in chunk:
            raise LLMError(f"the LLM at {self.provider.shown()} failed mid-answer: "
                           f"{' '.join(error_text(value).split())[:300]}")  # fmt: skip
        self.usage = usage_of(chunk.get("usage")) or self.usage
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            raise self.garbage("a chunk without choices")
        events: list[TextDelta | Finished] = []
        for choice in choices[:1]:
            if not isinstance(choice, dict):
                raise self.garbage("a choice that is not an object")
            delta = choice.get("delta") or {}
            if not isinstance(delta, dict):
                raise self.garbage("a delta that is not an object")
            text = delta.get("content")
            if isinstance(text, str) and text:
                room = MAX_ANSWER - self.chars
                self.chars += len(text)
                if len(text) > room:
                    if room > 0:
                        events.append(TextDelta(text[:room]))
                    events.append(Finished("length", self.usage))
                    return events
                events.append(TextDelta(text))
            if delta.get("tool_calls") is not None:
                if self.tool_deltas(delta["tool_calls"]):
                    events.append(Finished("length", self.usage))
                    return events
            reason = choice.get("finish_reason")
            if isinstance(reason, str) and reason:
                self.reason = reason
        return events

    def tool_deltas(self, deltas: Any) -> bool:
        """Add tool-call deltas to the calls (by index); True when the arguments went past the cap."""
        if not isinstance(deltas, list):
            raise self.garbage("tool calls that are not a list")
        for delta in deltas:
            if not isinstance(delta, dict):
                raise self.garbage("a tool call that is not an object")
            index = delta.get("index", len(self.calls) if delta.get("id") else max(self.calls, default=0))
            if not isinstance(index, int) or not 0 <= index < MAX_TOOL_CALLS:
                raise self.garbage("a tool call with a bad index")
            call = self.calls.setdefault(index, _Call())
            if isinstance(delta.get("id"), str) and delta["id"]:
                call.id = delta["id"][:128]
            function = delta.get("function") or {}
            if not isinstance(function, dict):
                raise self.garbage("a tool call whose function is not an object")
            if isinstance(function.get("name"), str) and function["name"]:
                call.name = function["name"][:128]
            arguments = function.get("arguments")
            if isinstance(arguments, str) and arguments:
                self.chars += len(arguments)
                if self.chars > MAX_ANSWER:
                    return True
                call.arguments.append(arguments)
        return False

    def finish(self) -> list[ToolCall | Finished]:
        if not self.done and self.reason is None:
            raise LLMError(f"the LLM at {self.provider.shown()} closed the stream before the answer ended")
        calls: list[ToolCall | Finished] = []
        for index in sorted(self.calls):
            call = self.calls[index]
            if not call.name:
                raise self.garbage("a tool call without a name")
            calls.append(ToolCall(call.id or f"call_{index}", call.name, "".join(call.arguments)))
        reason = "tool_calls" if calls else REASONS.get(self.reason or "stop", "stop")
        if reason == "tool_calls" and not calls:
            reason = "stop"
        return [*calls, Finished(reason, self.usage)]


class LLMClient:
    def __init__(self, transport: Transport, *, total_timeout: float = TOTAL_TIMEOUT,
                 retry_delay: float = RETRY_DELAY) -> None:  # fmt: skip
        self.transport = transport
        self.total_timeout = total_timeout
        self.retry_delay = retry_delay

    # -- chat ----------------------------------------------------------------------------------------------------
    async def stream(
        self,
        provider: Provider,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> AsyncGenerator[TextDelta | ToolCall | Finished, None]:
        """The answer's events as they come: text deltas, then whole tool calls, then one ``Finished``. Closing the
        iterator (or cancelling its reader) closes the provider's connection."""
        body = request_body(provider, messages, model=model, tools=tools, max_tokens=max_tokens,
                            temperature=temperature, stream=True)  # fmt: skip
        deadline = asyncio.get_running_loop().time() + self.total_timeout
        state = _Stream(provider)
        for attempt in (0, 1):
            lines = self.transport.post_lines(
                provider.chat_url(), {**provider.headers(), "Accept": "text/event-stream"}, body,
                connect_timeout=CONNECT_TIMEOUT, line_timeout=provider.timeout, line_cap=LINE_CAP,
            )  # fmt: skip
            received = False
            try:
                while True:
                    remaining = deadline - asyncio.get_running_loop().time()
                    if remaining <= 0:
                        raise LLMTimeout(f"the LLM at {provider.shown()} did not finish its answer within "
                                         f"{self.total_timeout:g} s")  # fmt: skip
                    try:
                        raw = await asyncio.wait_for(lines.__anext__(), remaining)
                    except StopAsyncIteration:
                        break
                    except asyncio.TimeoutError:
                        raise LLMTimeout(f"the LLM at {provider.shown()} did not finish its answer within "
                                         f"{self.total_timeout:g} s") from None  # fmt: skip
                    received = True
                    for event in state.line(raw):
                        yield event
                        if isinstance(event, Finished):
                            return
                    if state.done:
                        break
            except TransportError as exc:
                if attempt == 0 and not received and self._retried(exc):
                    await asyncio.sleep(self.retry_delay)
                    continue
                raise failure(provider, exc, provider.timeout) from None
            finally:
                await lines.aclose()
            for last in state.finish():
                yield last
            return

    async def complete(
        self,
        provider: Provider,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        """The whole answer of a ``stream: false`` request (within the provider's timeout)."""
        body = request_body(provider, messages, model=model, tools=tools, max_tokens=max_tokens,
                            temperature=temperature, stream=False)  # fmt: skip
        headers = {**provider.headers(), "Accept": "application/json"}
        status, answer = await self._with_retry(
            provider, lambda: self.transport.post_json(provider.chat_url(), headers, body,
                                                       timeout=provider.timeout, cap=JSON_CAP),
        )  # fmt: skip
        if status != 200:
            raise http_failure(provider, status, error_text(answer if isinstance(answer, str) else json.dumps(answer)))
        return self._completion(provider, answer, body.get("model") or "")

    def _completion(self, provider: Provider, answer: Any, asked: str) -> Completion:
        state = _Stream(provider)
        try:
            choice = answer["choices"][0]
            message = choice["message"]
            if not isinstance(message, dict):
                raise TypeError
        except (KeyError, IndexError, TypeError):
            raise state.garbage("JSON that is not a chat completion") from None
        text = message.get("content")
        text = text if isinstance(text, str) else ""
        reason = choice.get("finish_reason") if isinstance(choice.get("finish_reason"), str) else "stop"
        if len(text) > MAX_ANSWER:
            text, reason = text[:MAX_ANSWER], "length"
        calls: list[ToolCall] = []
        raw_calls = message.get("tool_calls") or []
        if not isinstance(raw_calls, list):
            raise state.garbage("tool calls that are not a list")
        for index, call in enumerate(raw_calls[:MAX_TOOL_CALLS]):
            function = call.get("function") if isinstance(call, dict) else None
            name = function.get("name") if isinstance(function, dict) else None
            arguments = function.get("arguments") if isinstance(function, dict) else None
            if not isinstance(name, str) or not name:
                raise state.garbage("a tool call without a name")
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments) if isinstance(arguments, dict) else ""
            call_id = call.get("id") if isinstance(call.get("id"), str) and call.get("id") else f"call_{index}"
            calls.append(ToolCall(str(call_id)[:128], name[:128], arguments[:MAX_ANSWER]))
        reason = "tool_calls" if calls else REASONS.get(reason, "stop")
        model = answer.get("model") if isinstance(answer.get("model"), str) else asked
        return Completion(text, calls, reason, usage_of(answer.get("usage")), str(model)[:256])

    # -- models --------------------------------------------------------------------------------------------------
    async def models(self, provider: Provider) -> list[str]:
        """The model ids the provider lists (OpenAI's /models, Ollama's /api/tags, Gemini's and Claude's lists)."""
        url, headers = provider.models_request()
        status, answer = await self._with_retry(
            provider, lambda: self.transport.get_json(url, headers, timeout=MODELS_TIMEOUT, cap=MODELS_CAP)
        )
        if status != 200:
            raise http_failure(provider, status, error_text(answer if isinstance(answer, str) else json.dumps(answer)))
        return model_names(provider, answer)

    # -- the retry -----------------------------------------------------------------------------------------------
    @staticmethod
    def _retried(exc: TransportError) -> bool:
        return (exc.status is None and not exc.timeout) or exc.status in RETRIED

    async def _with_retry(self, provider: Provider, call: Any) -> tuple[int, Any]:
        for attempt in (0, 1):
            try:
                status, answer = await call()
            except TransportError as exc:
                if attempt == 0 and self._retried(exc):
                    await asyncio.sleep(self.retry_delay)
                    continue
                raise failure(provider, exc, provider.timeout) from None
            if attempt == 0 and status in RETRIED:
                await asyncio.sleep(self.retry_delay)
                continue
            return status, answer
        raise AssertionError("unreachable")  # pragma: no cover


def model_names(provider: Provider, answer: Any) -> list[str]:
    """The model ids of a provider's model list (untrusted: only strings of a sane length, at most MAX_MODELS)."""
    where = f"the model list of the LLM at {provider.shown()}"
    if not isinstance(answer, dict):
        raise LLMError(f"{where} is not a JSON object: check its URL")
    if provider.kind in ("ollama", "gemini"):
        items, key = answer.get("models"), "name"
    else:
        items, key = answer.get("data"), "id"
    if not isinstance(items, list):
        raise LLMError(f"{where} has no model array: check its URL and kind")
    names: list[str] = []
    for item in items[:MAX_MODELS]:
        name = item.get(key) if isinstance(item, dict) else None
        if isinstance(name, str) and 0 < len(name) <= 256:
            names.append(name.removeprefix("models/") if provider.kind == "gemini" else name)
    return list(dict.fromkeys(names))
