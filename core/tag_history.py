"""The tags of the user's own prompts (jobs and gallery images): autocomplete before any list is installed."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from .prompt_summary import summarize
from .tag_lists import normalize

MAX_PROMPT_TAG = 64  # longer pieces of a prompt are sentences, not tags
HISTORY_ROWS = 20_000  # the most recent jobs and images read for history tags
_WEIGHT = re.compile(r":\s*-?\d*\.?\d+\s*(?=[)\]]*$)")
_PAIRS = {"(": ")", "[": "]", "{": "}"}


def prompt_tag(piece: str) -> str:
    """One comma-separated piece of a prompt as a tag: emphasis and weights off, ``\\(`` kept as ``(``."""
    text = piece.strip().replace("\\(", "\x01").replace("\\)", "\x02")
    if text[:1] in _PAIRS:  # (tag:1.2); a bare "12:00" is a tag
        text = _WEIGHT.sub("", text).strip()
    while len(text) >= 2 and text[0] in _PAIRS and text[-1] == _PAIRS[text[0]]:
        text = text[1:-1].strip()
    while text and text[0] in _PAIRS and text.count(text[0]) > text.count(_PAIRS[text[0]]):
        text = text[1:].strip()
    while text and text[-1] in ")]}" and text.count(text[-1]) > text.count({")": "(", "]": "[", "}": "{"}[text[-1]]):
        text = text[:-1].strip()
    return normalize(text.replace("\x01", "(").replace("\x02", ")"))


def prompt_tags(prompt: str) -> set[str]:
    """The tag-like pieces of a prompt (LoRA and embedding references and sentences left out)."""
    found = set()
    for piece in re.split(r"[,\n]", prompt):
        piece = piece.strip()
        if not piece or piece.startswith("<") or piece.lower().startswith("embedding:") or piece == "BREAK":
            continue
        tag = prompt_tag(piece)
        if tag and len(tag) <= MAX_PROMPT_TAG and tag.count("_") < 6:
            found.add(tag)
    return found


def history_counts(uses: Iterable[str]) -> Counter:
    """How many prompts used each tag."""
    counts: Counter = Counter()
    for prompt in uses:
        counts.update(prompt_tags(prompt))
    return counts


def read_history(conn: Any, limit: int = HISTORY_ROWS) -> list[str]:
    """The positive prompts of recent jobs and gallery images, one per ComfyUI prompt (a job's images count once)."""
    by_prompt: dict[Any, str] = {}
    for row in conn.execute(
        "SELECT prompt_id, prompt_ids_json, params_json FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,)
    ):
        try:
            params = json.loads(row[2])
        except ValueError:
            continue
        positive = summarize(None, params if isinstance(params, dict) else None).get("positive")
        if not isinstance(positive, str) or not positive.strip():
            continue
        try:
            prompt_ids = json.loads(row[1]) or [row[0]]
        except ValueError:
            prompt_ids = [row[0]]
        for prompt_id in prompt_ids if isinstance(prompt_ids, list) else [row[0]]:
            by_prompt[str(prompt_id)] = positive
    for row in conn.execute(
        "SELECT id, prompt_id, positive FROM media WHERE positive IS NOT NULL AND positive != '' "
        "ORDER BY mtime DESC LIMIT ?",
        (limit,),
    ):
        by_prompt.setdefault(row[1] if row[1] else ("media", row[0]), row[2])
    return list(by_prompt.values())
