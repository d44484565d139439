"""Small JSON documents kept in the database: prompt aliases and workflow types (seed 004 shapes)."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import orjson

from ..errors import BadRequest

ALIASES, WORKFLOW_TYPES = "aliases", "workflow_types"
TYPE_CHOICES = ["image-to-image", "image-to-video", "text-to-image", "text-to-video"]
TYPE_SHORT = {"t2i": "text-to-image", "i2i": "image-to-image", "t2v": "text-to-video", "i2v": "image-to-video"}
ALIAS_NAME = re.compile(r"^[^\s$:][^$:]{0,99}$")
MAX_ALIAS_TEXT = 20_000


def read(conn: sqlite3.Connection, key: str, default: Any) -> Any:
    row = conn.execute("SELECT value FROM documents WHERE key = ?", (key,)).fetchone()
    return orjson.loads(row[0]) if row else default


def write(conn: sqlite3.Connection, key: str, value: Any) -> None:
    conn.execute(
        "INSERT INTO documents(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = strftime('%s','now')",
        (key, orjson.dumps(value).decode()),
    )


def update_entry(
    conn: sqlite3.Connection, key: str, entry: str, changes: dict[str, Any] | None, *, only_one: str | None = None
) -> dict[str, Any]:
    """Change one entry of a document of entries (name -> object) in one transaction: ``changes`` merged into
    it, or the entry removed (None). ``only_one`` names a flag that at most one entry may have: setting it
    clears it on the others. Returns the entry as it is now ({} when removed)."""
    entries = read(conn, key, {})
    if changes is None:
        entries.pop(entry, None)
    else:
        merged = {**entries.get(entry, {}), **changes}
        if only_one is not None and merged.get(only_one):
            for other in entries.values():
                other[only_one] = False
        entries[entry] = merged
    write(conn, key, entries)
    return entries.get(entry, {})


def validate_aliases(body: Any) -> dict[str, Any]:
    """``{"items": {name: text}, "categories": {name: category}, "categoryList": [...]}`` (or a flat map)."""
    if not isinstance(body, dict):
        raise BadRequest('send {"items": {"name": "text"}, "categories": {...}}', code="INVALID_ALIASES")
    flat = "items" not in body and all(isinstance(v, str) for v in body.values())
    items = body if flat else body.get("items", {})
    categories = {} if flat else body.get("categories", {}) or {}
    category_list = [] if flat else body.get("categoryList", []) or []
    if not isinstance(items, dict) or not isinstance(categories, dict) or not isinstance(category_list, list):
        raise BadRequest("items and categories must be objects, categoryList a list", code="INVALID_ALIASES")
    problems = [
        f"{name!r}: the name must be 1-100 characters without '$', ':' or leading spaces"
        for name in items
        if not ALIAS_NAME.match(name)
    ]
    problems += [f"{name!r}: the text must be a string" for name, text in items.items() if not isinstance(text, str)]
    long = [n for n, t in items.items() if isinstance(t, str) and len(t) > MAX_ALIAS_TEXT]
    problems += [f"{n!r}: the text is longer than {MAX_ALIAS_TEXT} characters" for n in long]
    problems += [f"category of {n!r} must be a string" for n, c in categories.items() if not isinstance(c, str)]
    if problems:
        raise BadRequest("invalid aliases: " + "; ".join(problems[:5]), code="INVALID_ALIASES")
    unknown = sorted(set(categories) - set(items))
    if unknown:
        raise BadRequest(f"categories name aliases that do not exist: {', '.join(unknown[:5])}", code="INVALID_ALIASES")
    listed = [c for c in category_list if isinstance(c, str)]
    listed += sorted({c for c in categories.values() if c and c not in listed})
    return {"items": items, "categories": categories, "categoryList": listed}


def workflow_type(mode: Any) -> str | None:
    """The seed's mode string for a submitted mode (t2i & co accepted); None removes the mapping."""
    if mode is None or (isinstance(mode, str) and not mode.strip()):
        return None
    if not isinstance(mode, str):
        raise BadRequest("Invalid workflow mode", code="INVALID_WORKFLOW_MODE")
    value = TYPE_SHORT.get(mode.strip().lower(), mode.strip().lower())
    if value not in TYPE_CHOICES:
        raise BadRequest(
            f"Invalid workflow mode {mode!r}: use one of {', '.join(TYPE_CHOICES)} (or t2i, i2i, t2v, i2v)",
            code="INVALID_WORKFLOW_MODE",
        )
    return value
