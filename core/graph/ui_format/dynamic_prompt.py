"""The editor's dynamic prompts: on export a text widget with ``dynamicPrompts`` loses its ``//`` and ``/* */``
comments and each ``{a|b|c}`` becomes one of its choices (``\\{`` keeps a brace). A port of the frontend's
``processDynamicPrompt``; the choice is random there, and here it is ``choose`` (random unless given)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

COMMENTS = re.compile(r"/\*[\s\S]*?\*/|//[^\n\r\u2028\u2029]*")
ESCAPED = re.compile(r"\\([{}|])")
Choose = Callable[[Sequence[str]], str]


def process(text: str, choose: Choose | None = None) -> str:
    """``text`` as the editor sends it: comments stripped, choices made."""
    return _process(text, choose or random.choice)


def _process(text: str, pick: Choose) -> str:
    return ESCAPED.sub(r"\1", _expand(COMMENTS.sub("", text), pick))


def _expand(text: str, pick: Choose) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        i += 1
        if char == "\\":
            out.append("\\" + text[i] if i < len(text) else "\\undefined")
            i += 1
        elif char == "{":
            block, i = _block(text, i)
            out.append(_process(pick(block), pick))
        else:
            out.append(char)
    return "".join(out)


def _block(text: str, i: int) -> tuple[list[str], int]:
    """The choices of the ``{...}`` block that starts at ``i`` (after its brace), and where it ends."""
    choices: list[str] = []
    current: list[str] = []
    depth = 0
    while i < len(text):
        char = text[i]
        i += 1
        if char == "\\":
            current.append("\\" + text[i] if i < len(text) else "\\undefined")
            i += 1
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            if not depth:
                break
            depth -= 1
        elif char == "|" and not depth:
            choices.append("".join(current))
            current = []
            continue
        current.append(char)
    choices.append("".join(current))
    return choices, i
