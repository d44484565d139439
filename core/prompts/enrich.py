"""Prompt enrichment: a prompt rewritten in a style, by a language model when one is configured, else by the
style's template.

A style is a JSON file ``<name>.json``: ``{"description", "system", "template"}``. CozyGen ships cyberpunk,
anime, realistic, fantasy, sci-fi and enhance in ``data/styles/``; the user's own in ``<data dir>/styles/``
add styles or replace shipped ones of the same name. ``template`` is the offline rewrite: ``{prompt}`` stands
for the prompt, and the rest is expanded as in ``core.prompts.wildcards`` (``{a|b}`` choices, ``__wildcard__`` lines).
``system`` is what the language model is told about the style.

The model is the default LLM provider (core/llm: the one client, its timeout, retry and error shape), asked
without streaming. When none is set up, or it fails, times out or answers with nothing usable, ``enrich`` answers
from the template with ``source: "template"`` (and a ``warning`` saying why when a model failed). Random prompts
(``imagine``) ask the model for one prompt grown from the wildcards' draw, and keep the draw when it fails.
The provider's key never appears in an answer or a warning.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BadRequest, CozyGenError
from .wildcards import Expander, Wildcard, tidy

if TYPE_CHECKING:  # the client is handed in by the API layer
    from ..llm.client import LLMClient
    from ..llm.model import Provider

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

IMAGINE = (
    "You write one prompt for a text-to-image model. Grow the idea you are given into a vivid, specific scene: "
    "subject, setting, composition, lighting, colour and medium. Answer with the prompt only: one paragraph of "
    "comma-separated phrases, under 70 words, no quotes, no preamble."
)


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


class Unusable(Exception):
    """The model answered, but with nothing usable as a prompt."""


def messages(style: Style, prompt: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": f"{INSTRUCTIONS}\n\nStyle: {style.name}. {style.system}"},
        {"role": "user", "content": prompt},
    ]


_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_LABEL = re.compile(r"^(?:enhanced|enriched|rewritten|improved)?\s*prompt\s*:\s*", re.IGNORECASE)


def clean(content: str) -> str:
    """The prompt in a model's answer: no thinking, label, quotes or line breaks; Unusable when nothing is left."""
    text = _THINKING.sub("", content).strip().strip("\"'`").strip()
    text = _LABEL.sub("", text).strip().strip("\"'`").strip()
    text = " ".join(text.split())
    if not text:
        raise Unusable("its answer is empty")
    return text[:MAX_ANSWER]


async def ask(llm: LLMClient, provider: Provider, chat: list[dict[str, str]]) -> tuple[str, str | None]:
    """The model's cleaned answer and the model that gave it (LLMError, LLMTimeout or Unusable)."""
    done = await llm.complete(provider, list(chat), temperature=0.7)
    return clean(done.text), done.model or provider.default_model


def _failed(exc: Exception, provider: Provider) -> str:
    return exc.message if isinstance(exc, CozyGenError) else f"the LLM at {provider.shown()} failed: {exc}"


async def enrich(
    prompt: Any,
    style_name: Any,
    styles: Mapping[str, Style],
    wildcards: Mapping[str, Wildcard],
    provider: Provider | None,
    llm: LLMClient | None,
    seed: int | None = None,
) -> dict[str, Any]:
    """``{"original_prompt", "enriched_prompt", "style", "source": "llm"|"template"}``, plus ``model`` from the
    model and ``warning`` when the provider failed and the template answered instead."""
    text = check_prompt(prompt)
    style = find_style(styles, style_name)
    reply: dict[str, Any] = {"original_prompt": prompt, "style": style.name}
    if provider is not None and llm is not None:
        try:
            enriched, model = await ask(llm, provider, messages(style, text))
        except (CozyGenError, Unusable) as exc:
            warning = f"{_failed(exc, provider)}; the {style.name} template answered instead"
            log.warning("CozyGen: enrich: %s", warning)
            reply["warning"] = warning
        else:
            return {**reply, "enriched_prompt": enriched, "source": "llm", "model": model}
    enriched = from_template(style, text, wildcards, random.Random(seed))
    return {**reply, "enriched_prompt": enriched, "source": "template"}


async def imagine(drawn: dict[str, Any], provider: Provider | None, llm: LLMClient | None) -> dict[str, Any]:
    """A random prompt: the wildcards' draw (``{"positive", "negative", "seed"}``) grown by the model into one
    prompt (``source: "llm"``, ``idea``: the draw), or the draw itself (``source: "wildcards"``, with a ``warning``
    when the model failed)."""
    if provider is None or llm is None or not str(drawn.get("positive") or "").strip():
        return {**drawn, "source": "wildcards"}
    idea = str(drawn["positive"])[:MAX_PROMPT]
    chat = [{"role": "system", "content": IMAGINE}, {"role": "user", "content": f"The idea: {idea}"}]
    try:
        positive, model = await ask(llm, provider, chat)
    except (CozyGenError, Unusable) as exc:
        warning = f"{_failed(exc, provider)}; the wildcards answered instead"
        log.warning("CozyGen: random prompt: %s", warning)
        return {**drawn, "source": "wildcards", "warning": warning}
    return {**drawn, "positive": positive, "idea": idea, "source": "llm", "model": model}
