"""The system prompt of a chat: the open workflow's parameters as the phone's form has them (name, type, bounds,
choices, the user's current value) and how to use the tools. Nothing else of anyone goes in: no other user's
prompts, jobs or images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from ..graph.parameter import Parameter
from .tools import MAX_VARIATIONS

MAX_CHOICES = 30  # choices listed per parameter (the rest counted)
MAX_VALUE = 1500  # characters of one current value shown
MAX_PARAMETERS = 80

INSTRUCTIONS = f"""You are the prompt assistant of CozyGen, an image generator used from a phone.
You help the user write prompts and set up the form of the workflow they have open.
Act through the tools: set_field changes one field (applied at once, the user can undo it), insert_tags adds \
Danbooru tags to a text field (only tags of the tag list are accepted), queue proposes generating 1 to \
{MAX_VARIATIONS} variations (the user confirms). A tool answers ok false with the reason when a call is wrong: \
fix the call or tell the user. Name fields as listed below. Keep answers short: the user reads them on a phone."""


def system_prompt(workflow: str, parameters: Sequence[Parameter], values: Mapping[str, Any]) -> str:
    lines = [INSTRUCTIONS, "", f"The open workflow is {workflow!r}. Its fields (name, type, limits: current value):"]
    for param in list(parameters)[:MAX_PARAMETERS]:
        lines.append("- " + describe(param, values.get(param.name, param.default)))
    if len(parameters) > MAX_PARAMETERS:
        lines.append(f"- … and {len(parameters) - MAX_PARAMETERS} more fields")
    return "\n".join(lines)


def describe(param: Parameter, current: Any) -> str:
    """One parameter as a line of the prompt: ``steps (int, 1..50, "Steps"): 20``."""
    facts = [param.type]
    if param.min is not None or param.max is not None:
        facts.append(f"{'' if param.min is None else param.min}..{'' if param.max is None else param.max}")
    if param.choices:
        listed = ", ".join(str(c) for c in param.choices[:MAX_CHOICES])
        more = f" (+{len(param.choices) - MAX_CHOICES} more)" if len(param.choices) > MAX_CHOICES else ""
        facts.append(f"one of: {listed}{more}")
    if param.label and param.label != param.name:
        facts.append(orjson.dumps(param.label[:60]).decode())
    if param.type == "image":
        facts.append("chosen on the phone")
    return f"{param.name} ({', '.join(facts)}): {value_text(current)}"


def value_text(value: Any) -> str:
    if isinstance(value, str) and len(value) > MAX_VALUE:
        value = value[:MAX_VALUE] + "…"
    text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    return text if len(text) <= MAX_VALUE + 2 else text[:MAX_VALUE] + "…"
