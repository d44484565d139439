"""The tags of the users' own prompts (jobs and gallery images): autocomplete before any list is installed.

Each prompt is read with its owner (the user whose job it was), so a user's suggestions can come from their
own prompts alone. A gallery image's owner is the user of the job whose prompt saved it; prompts no job of
a user's made (older files, a server without auth) are nobody's (``None``): they count as the admins'.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any, NamedTuple

from ..graph.summary import summarize
from .lists import normalize

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


class Use(NamedTuple):
    """One positive prompt, and whose it is (None: nobody's, so the admins')."""

    owner: str | None
    prompt: str


def history_counts(prompts: Iterable[str]) -> Counter:
    """How many prompts used each tag."""
    counts: Counter = Counter()
    for prompt in prompts:
        counts.update(prompt_tags(prompt))
    return counts


def counts_by_owner(uses: Iterable[Use]) -> dict[str | None, Counter]:
    """How many of each owner's prompts used each tag."""
    grouped: dict[str | None, list[str]] = {}
    for owner, prompt in uses:
        grouped.setdefault(owner, []).append(prompt)
    return {owner: history_counts(prompts) for owner, prompts in grouped.items()}


def everyone(by_owner: dict[str | None, Counter]) -> Counter:
    """The counts of every owner's prompts together (what an admin, or a shared gallery, learns from)."""
    total: Counter = Counter()
    for counts in by_owner.values():
        total.update(counts)
    return total


def read_history(conn: Any, limit: int = HISTORY_ROWS) -> list[Use]:
    """The positive prompts of recent jobs and gallery images with their owners, one per ComfyUI prompt (a
    job's images count once, as the job's)."""
    by_prompt: dict[Any, Use] = {}
    for row in conn.execute(
        "SELECT prompt_id, prompt_ids_json, params_json, username FROM jobs ORDER BY created_at DESC LIMIT ?",
        (limit,),
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
            by_prompt[str(prompt_id)] = Use(row[3] or None, positive)
    for row in conn.execute(
        "SELECT m.id, m.prompt_id, m.positive, p.username FROM media m "
        "LEFT JOIN job_prompts p ON p.prompt_id = m.prompt_id AND m.prompt_id IS NOT NULL AND m.prompt_id != '' "
        "WHERE m.positive IS NOT NULL AND m.positive != '' ORDER BY m.mtime DESC LIMIT ?",
        (limit,),
    ):
        by_prompt.setdefault(row[1] if row[1] else ("media", row[0]), Use(row[3] or None, row[2]))
    return list(by_prompt.values())
