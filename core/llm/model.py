"""Providers, the events of a chat answer, and the errors every LLM call raises.

    LLMError      502 LLM_FAILED   the model's server failed or answered garbage (the message says what to do)
    └── LLMTimeout 504 LLM_TIMEOUT it did not answer in time
    NoProvider    503 NO_LLM       no language model is set up

Every kind is spoken to through the OpenAI chat-completions protocol at :meth:`Provider.chat_url`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from ..errors import CozyGenError

KINDS = ("openai-compatible", "ollama", "openai", "claude", "gemini")
DEFAULT_URLS = {
    "openai": "https://api.openai.com/v1",
    "ollama": "http://127.0.0.1:11434",
    "claude": "https://api.anthropic.com/v1",
    "gemini": "https://generativelanguage.googleapis.com/v1beta",
}
ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_TIMEOUT = 60.0
SETTINGS_ID = "settings"  # the implicit provider of the old enrich settings (never stored)


@dataclass(frozen=True)
class Provider:
    id: str
    name: str
    kind: str
    url: str | None
    key: str | None = field(repr=False)  # never answered
    default_model: str | None
    is_default: bool
    timeout: float = DEFAULT_TIMEOUT  # seconds to the first token

    def base(self) -> str:
        base = (self.url or DEFAULT_URLS.get(self.kind, "")).strip().rstrip("/")
        if self.kind == "ollama":
            base = base.removesuffix("/v1")  # Ollama's root, whether or not its /v1 was given
        return base

    def chat_url(self) -> str:
        base = self.base()
        if base.endswith("/chat/completions"):  # the old enrich setting may name the endpoint itself
            return base
        if self.kind == "ollama":
            return base + "/v1/chat/completions"
        if self.kind == "gemini":
            return base + "/openai/chat/completions"
        return base + "/chat/completions"

    def models_request(self) -> tuple[str, dict[str, str]]:
        """Where the provider lists its models (Ollama: /api/tags), and the headers that carry its key."""
        base = self.base().removesuffix("/chat/completions")
        if self.kind == "ollama":
            return base + "/api/tags", {}
        if self.kind == "claude":
            return base + "/models", {"x-api-key": self.key or "", "anthropic-version": ANTHROPIC_VERSION}
        if self.kind == "gemini":
            return base + "/models", {"x-goog-api-key": self.key or ""}
        return base + "/models", self.headers()

    def headers(self) -> dict[str, str]:
        """The headers of a chat request: the provider's own key only."""
        if not self.key:
            return {}
        if self.kind == "claude":
            return {"x-api-key": self.key, "anthropic-version": ANTHROPIC_VERSION}
        return {"Authorization": f"Bearer {self.key}"}

    def shown(self) -> str:
        """host:port of the provider, for messages (no credentials, no path)."""
        return shown_host(self.chat_url())

    def as_dict(self, *, admin: bool) -> dict[str, Any]:
        seen: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "default_model": self.default_model,
            "is_default": self.is_default,
        }
        if admin:
            seen.update(url=self.url, has_key=bool(self.key), timeout=self.timeout)
        return seen


def shown_host(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


# The events and the whole answer are named tuples, not frozen dataclasses: as immutable, and a fifth of the cost
# when the module loads (the seeds' chat routes import it as ComfyUI starts; bench/import_time.py).
class TextDelta(NamedTuple):
    text: str


class ToolCall(NamedTuple):
    id: str
    name: str
    arguments: str  # raw JSON text as the model sent it


class Finished(NamedTuple):
    reason: str  # "stop" | "tool_calls" | "length"
    usage: dict[str, int] | None = None


ChatEvent = TextDelta | ToolCall | Finished


class Completion(NamedTuple):
    text: str
    tool_calls: list[ToolCall]
    reason: str
    usage: dict[str, int] | None
    model: str


class LLMError(CozyGenError):
    status = 502
    code = "LLM_FAILED"


class LLMTimeout(LLMError):
    status = 504
    code = "LLM_TIMEOUT"


class NoProvider(CozyGenError):
    status = 503
    code = "NO_LLM"

    def __init__(self, message: str = "no language model is set up: an admin adds one in Settings → Assistant",
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(message, **kwargs)


HINTS = {
    401: "check its API key",
    403: "check its API key and what the key may use",
    404: "check its URL and the model name",
    429: "it is rate limiting: wait and try again",
}


def http_failure(provider: Provider, status: int, text: str = "") -> LLMError:
    """The error of a provider that answered ``status``, with what a person can do about it."""
    hint = HINTS.get(status) or ("it failed on its side: try again later" if status >= 500 else "")
    detail = " ".join(text.split())[:200]
    message = f"the LLM at {provider.shown()} answered HTTP {status}"
    if detail:
        message += f" ({detail})"
    return LLMError(f"{message}: {hint}" if hint else message)
