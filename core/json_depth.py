"""How deep JSON may nest before CozyGen refuses it, and the check itself (no recursion, so any depth is safe).

Request bodies (api.responses.read_json) and the JSON CozyGen reads out of files (PNG text chunks) share the
limit: recursive code breaks on a few hundred levels (RecursionError), orjson writes at most 254 back, and
nothing CozyGen keeps nests more than a few levels.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 64


def nesting_exceeds(value: Any, max_depth: int = MAX_DEPTH) -> bool:
    """Whether lists and dicts in ``value`` nest deeper than ``max_depth`` (``[[1]]`` is 2 deep)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        current, depth = stack.pop()
        if depth > max_depth:
            return True
        items = current.values() if isinstance(current, dict) else current
        stack.extend((child, depth + 1) for child in items if isinstance(child, dict | list))
    return False


def too_deep(raw: str | bytes, value: Any, max_depth: int = MAX_DEPTH) -> bool:
    """Whether ``value``, parsed from the JSON text ``raw``, nests deeper than ``max_depth``: counting the
    brackets of ``raw`` first (in C) spares the walk for the usual text, which has few of them."""
    opening = raw.count(b"[") + raw.count(b"{") if isinstance(raw, bytes) else raw.count("[") + raw.count("{")
    return opening > max_depth and nesting_exceeds(value, max_depth)
