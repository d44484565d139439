"""Prompt enrichment: a prompt rewritten in a style, by a language model when one is configured, else by the
style's template.

A style is a JSON file ``<name>.json``: ``{"description", "system", "template"}``. CozyGen ships cyberpunk,
anime, realistic, fantasy, sci-fi and enhance in ``data/styles/``; the user's own in ``<data dir>/styles/``
add styles or replace shipped ones of the same name. ``template`` is the offline rewrite: ``{prompt}`` stands
for the prompt, and the rest is expanded as in ``core.prompts.wildcards`` (``{a|b}`` choices, ``__wildcard__`` lines).
``system`` is what the language model is told about the style.

The model is any OpenAI-compatible server (Ollama, a llama.cpp server, a hosted API): ``ask_llm`` posts to
``{url}/chat/completions`` through a ``post`` function the caller supplies (the API layer's aiohttp client;
a fake in the unit tests), so this module does no I/O of its own. When the server fails, times out or
answers with nothing usable, ``enrich`` answers from the template with ``source: "template"`` and a
``warning`` saying why. The API key is sent as a Bearer token and never appears in an answer or a warning.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import BadRequest
from .wildcards import Expander, Wildcard, tidy

log = logging.getLogger("cozygen")

MAX_PROMPT = 4_000
MAX_STYLE_FILE = 64 * 1024
MAX_ANSWER = 8_000
STYLE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
PLACEHOLDER = "{prompt}"
DEFAULT_STYLE = "enhance"
SHIPPED, USER = "shipped", "user"
INSTRUCTIONS = (
    "You rewrite prompts for a text-to-image model. Keep the subject and every detail the user gave, and add "
    "concrete visual detail: setting, composition, lighting, colour, materials and medium. Answer with the "
    "rewritten prompt only: one paragraph of comma-separated phrases, under 90 words, no quotes, no preamble."
)

# post(url, headers, payload, timeout) -> (status, body); raises OSError, asyncio.TimeoutError or similar on failure
Post = Callable[[str, dict[str, str], dict[str, Any], float], Awaitable[tuple[int, bytes]]]


@dataclass(frozen=True)
class Style:
    name: str
    description: str
    system: str
    template: str
    source: str = SHIPPED

    def summary(self) -> dict[str, str]:
        return {"name": self.name, "description": self.description, "source": self.source}


def parse_style(name: str, data: Any, source: str) -> Style:
    if not isinstance(data, dict):
        raise ValueError("a style file holds a JSON object")
    fields = {key: data.get(key, "") for key in ("description", "system", "template")}
    if any(not isinstance(value, str) for value in fields.values()):
        raise ValueError("description, system and template must be text")
    if not fields["system"].strip() and not fields["template"].strip():
        raise ValueError("a style needs a system instruction, a template or both")
    template = fields["template"].strip() or PLACEHOLDER
    if PLACEHOLDER not in template:
        template = f"{PLACEHOLDER}, {template}"
    system = fields["system"].strip() or f"Restyle it in the style {name!r}: {fields['description'] or name}."
    return Style(name, fields["description"].strip(), system, template, source)


def load_styles(shipped: Path, user: Path | None = None) -> dict[str, Style]:
    """Every style by name, the user's replacing shipped ones (blocking: call it in a thread).
    A user file that is not a valid style is skipped with a warning in the log."""
    styles: dict[str, Style] = {}
    for source, root in ((SHIPPED, shipped), (USER, user)):
        if root is None or not root.is_dir():
            continue
        for path in sorted(root.glob("*.json")):
            name = path.stem.lower()
            if not STYLE_NAME.fullmatch(name) or not path.is_file():
                continue
            try:
                if path.stat().st_size > MAX_STYLE_FILE:
                    raise ValueError(f"larger than {MAX_STYLE_FILE} bytes")
                styles[name] = parse_style(name, json.loads(path.read_text(encoding="utf-8")), source)
            except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
                log.warning("CozyGen: style %s skipped: %s", path, exc)
    return dict(sorted(styles.items()))


def find_style(styles: Mapping[str, Style], name: Any) -> Style:
    if name is None or (isinstance(name, str) and not name.strip()):
        name = DEFAULT_STYLE
    if not isinstance(name, str) or name.strip().lower() not in styles:
        raise BadRequest(
            f"unknown style {name!r}; known styles: {', '.join(styles)}",
            code="UNKNOWN_STYLE",
            extra={"styles": list(styles)},
        )
    return styles[name.strip().lower()]


def check_prompt(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest('send {"prompt": "<a description of the image>", "style": "<style>"}', code="EMPTY_PROMPT")
    prompt = value.strip()
    if len(prompt) > MAX_PROMPT:
        raise BadRequest(f"the prompt is {len(prompt)} characters; at most {MAX_PROMPT}", code="PROMPT_TOO_LONG")
    return prompt


def from_template(style: Style, prompt: str, wildcards: Mapping[str, Wildcard], rng: random.Random) -> str:
    """The template with ``{prompt}`` replaced by the prompt and the rest expanded (the prompt itself is not)."""
    expander = Expander(wildcards, rng)
    parts = [expander.expand(part, tidied=False) for part in style.template.split(PLACEHOLDER)]
    return tidy(prompt.rstrip(" .,;").join(parts))


@dataclass(frozen=True)
class LLMConfig:
    url: str = ""
    model: str = ""
    api_key: str = ""
    timeout: float = 8.0

    @classmethod
    def from_settings(cls, values: Mapping[str, Any]) -> LLMConfig:
        return cls(
            url=str(values.get("enrich_url") or "").strip(),
            model=str(values.get("enrich_model") or "").strip(),
            api_key=str(values.get("enrich_api_key") or ""),
            timeout=float(values.get("enrich_timeout") or 8.0),
        )

    @property
    def enabled(self) -> bool:
        return bool(self.url)


class LLMError(Exception):
    """The model's server could not give an answer; the message says why, without secrets."""


def endpoint(url: str) -> str:
    """``{base}/chat/completions`` (a URL that already ends so is used as it is)."""
    base = url.strip().rstrip("/")
    return base if base.endswith("/chat/completions") else f"{base}/chat/completions"


def shown_url(url: str) -> str:
    """The URL without user:password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def chat_request(config: LLMConfig, style: Style, prompt: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    payload: dict[str, Any] = {
        "messages": [
            {"role": "system", "content": f"{INSTRUCTIONS}\n\nStyle: {style.name}. {style.system}"},
            {"role": "user", "content": prompt},
        ],
        "temperature": 0.7,
        "stream": False,
    }
    if config.model:
        payload = {"model": config.model, **payload}
    return endpoint(config.url), headers, payload


_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_LABEL = re.compile(r"^(?:enhanced|enriched|rewritten|improved)?\s*prompt\s*:\s*", re.IGNORECASE)


def read_answer(status: int, body: bytes) -> str:
    """The rewritten prompt in a chat-completions answer, or LLMError."""
    if status != 200:
        raise LLMError(f"it answered HTTP {status}")
    try:
        content = json.loads(body)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise LLMError("its answer is not a chat completion") from None
    if not isinstance(content, str):
        raise LLMError("its answer has no text")
    text = _THINKING.sub("", content).strip().strip("\"'`").strip()
    text = _LABEL.sub("", text).strip().strip("\"'`").strip()
    text = " ".join(text.split())
    if not text:
        raise LLMError("its answer is empty")
    return text[:MAX_ANSWER]


async def ask_llm(config: LLMConfig, style: Style, prompt: str, post: Post) -> str:
    """The model's rewrite of the prompt, or LLMError (within ``config.timeout`` seconds)."""
    url, headers, payload = chat_request(config, style, prompt)
    try:
        status, body = await asyncio.wait_for(post(url, headers, payload, config.timeout), config.timeout)
    except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
        raise LLMError(f"it did not answer within {config.timeout:g} s") from None
    except Exception as exc:  # connection refused, bad host name, TLS... whatever the transport raises
        raise LLMError(f"it could not be reached ({type(exc).__name__})") from None
    return read_answer(status, body)


async def enrich(
    prompt: Any,
    style_name: Any,
    styles: Mapping[str, Style],
    wildcards: Mapping[str, Wildcard],
    config: LLMConfig,
    post: Post,
    seed: int | None = None,
) -> dict[str, Any]:
    """``{"original_prompt", "enriched_prompt", "style", "source": "llm"|"template"}``, plus ``model`` from the
    model and ``warning`` when a configured model failed and the template answered instead."""
    text = check_prompt(prompt)
    style = find_style(styles, style_name)
    reply: dict[str, Any] = {"original_prompt": prompt, "style": style.name}
    if config.enabled:
        try:
            enriched = await ask_llm(config, style, text, post)
        except LLMError as exc:
            warning = f"the LLM at {shown_url(config.url)} failed: {exc}; the {style.name} template answered instead"
            log.warning("CozyGen: %s", warning)
            reply["warning"] = warning
        else:
            return {**reply, "enriched_prompt": enriched, "source": "llm", "model": config.model or None}
    enriched = from_template(style, text, wildcards, random.Random(seed))
    return {**reply, "enriched_prompt": enriched, "source": "template"}
