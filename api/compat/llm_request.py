"""What the seeds' chat routes (AI Playground's chat completions, Spoon Feeder's chat) take from a request, checked
before any model is asked: the messages (roles, text, size caps), the model's name, the sampling numbers and the
tools (OpenAI's function schemas); and the per-user limit on their calls."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ...core.errors import BadRequest, RateLimited, TooLarge
from ..jobs import caller
from ..state import CozyGenState

MAX_MESSAGES = 200
MAX_TEXT = 100_000  # characters over all the messages of one request
MAX_MODEL = 256
MAX_TOOLS, MAX_TOOLS_JSON = 32, 64 * 1024
MAX_TOKENS = 32_768
CHAT_ROLES = ("system", "user", "assistant")
OPENAI_ROLES = (*CHAT_ROLES, "tool")


def _bad(message: str, code: str = "INVALID_MESSAGES") -> BadRequest:
    return BadRequest(message, code=code)


def _text(content: Any, where: str) -> str | None:
    """A message's text: a string, or OpenAI's list of text parts joined (None stays None)."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise _bad(f"{where}.content: text only (a string or [{{type: 'text', text}}] parts)")
            parts.append(part["text"])
        return "\n".join(parts)
    raise _bad(f"{where}.content: a string")


def _tool_calls(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > MAX_TOOLS:
        raise _bad(f"{where}.tool_calls: a list of at most {MAX_TOOLS} calls")
    calls = []
    for call in value:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(call.get("id"), str):
            raise _bad(f"{where}.tool_calls: each {{id, type: 'function', function: {{name, arguments}}}}")
        name, arguments = function.get("name"), function.get("arguments", "")
        if not isinstance(name, str) or not isinstance(arguments, str):
            raise _bad(f"{where}.tool_calls: function.name and function.arguments are strings")
        calls.append({"id": call["id"], "type": "function", "function": {"name": name, "arguments": arguments}})
    return calls


def messages(value: Any, *, roles: tuple[str, ...] = CHAT_ROLES) -> list[dict[str, Any]]:
    """The conversation as the provider gets it: ``[{role, content}]`` (and a tool round's ``tool_calls`` and
    ``tool_call_id`` where ``roles`` allows ``tool``); a 400 for anything else, a 413 past the caps."""
    if not isinstance(value, list) or not value:
        raise _bad("messages: a non-empty list of {role, content}")
    if len(value) > MAX_MESSAGES:
        raise TooLarge(f"messages: at most {MAX_MESSAGES} in one request", code="PROMPT_TOO_LARGE")
    found, total = [], 0
    for index, message in enumerate(value):
        where = f"messages[{index}]"
        if not isinstance(message, dict) or message.get("role") not in roles:
            raise _bad(f"{where}: an object whose role is one of {', '.join(roles)}")
        role, content = message["role"], _text(message.get("content"), where)
        kept: dict[str, Any] = {"role": role, "content": content}
        if role == "assistant" and message.get("tool_calls") and "tool" in roles:
            kept["tool_calls"] = _tool_calls(message["tool_calls"], where)
        elif content is None:
            raise _bad(f"{where}.content: required")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or not 0 < len(call_id) <= MAX_MODEL:
                raise _bad(f"{where}.tool_call_id: the id of the call it answers")
            kept["tool_call_id"] = call_id
        total += len(content or "") + sum(len(c["function"]["arguments"]) for c in kept.get("tool_calls", []))
        found.append(kept)
    if total > MAX_TEXT:
        raise TooLarge(f"messages: at most {MAX_TEXT:,} characters in all", code="PROMPT_TOO_LARGE")
    return found


def model_name(value: Any) -> str | None:
    """A model's name as a client sends it (None: the provider's default)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_MODEL or not value.isprintable():
        raise _bad(f"model: a model's name of at most {MAX_MODEL} characters", code="INVALID_MODEL")
    return value.strip() or None


def temperature(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 2:
        raise _bad("temperature: a number from 0 to 2", code="INVALID_OPTIONS")
    return float(value)


def max_tokens(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOKENS:
        raise _bad(f"max_tokens: a whole number from 1 to {MAX_TOKENS}", code="INVALID_OPTIONS")
    return value


def tools(value: Any) -> list[dict[str, Any]] | None:
    """OpenAI's ``tools`` (function schemas), passed on to the provider as they are; None when absent."""
    if value is None or value == []:
        return None
    if not isinstance(value, list) or len(value) > MAX_TOOLS:
        raise _bad(f"tools: a list of at most {MAX_TOOLS} functions", code="INVALID_TOOLS")
    for tool in value:
        function = tool.get("function") if isinstance(tool, dict) else None
        named = isinstance(function, dict) and isinstance(function.get("name"), str)
        if not named or tool.get("type") != "function":
            raise _bad("tools: each {type: 'function', function: {name, description?, parameters?}}", "INVALID_TOOLS")
    if len(orjson.dumps(value)) > MAX_TOOLS_JSON:
        raise TooLarge(f"tools: at most {MAX_TOOLS_JSON // 1024} KB of schemas", code="PROMPT_TOO_LARGE")
    return value


class CallLimit:
    """A mount's check of the limit on LLM calls per user (``state.llm_limits``: the bucket the assistant spends
    too, ``COZYGEN_LLM_RATE_LIMIT`` a minute); 429 ``LLM_RATE_LIMITED`` with Retry-After past it."""

    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    def take(self, request: web.Request) -> None:
        wait = self.state.llm_limits.take(caller(request, self.state).rate_key)
        if wait:
            raise RateLimited(f"too many calls to the language model; try again in {wait} s", retry_after=wait,
                              code="LLM_RATE_LIMITED")  # fmt: skip
