"""Server-wide settings an admin can change, stored in the ``settings`` table.

Each setting has a type, a default and, where it applies, the values allowed;
values are stored as JSON. ``update`` validates every change before it writes
any, so a bad request changes nothing.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from .errors import BadRequest


@dataclass(frozen=True)
class Setting:
    kind: type
    default: Any
    description: str
    choices: tuple[Any, ...] = ()


SETTINGS: dict[str, Setting] = {
    "guard_comfyui": Setting(
        bool,
        True,
        "while auth is on, ComfyUI's own routes (its editor, /prompt, /view, /ws...) need a login too; "
        "turn off only on a LAN you trust",
    ),
    "gallery_visibility": Setting(
        str,
        "shared",
        "shared: everyone sees every output; per_user: users see the outputs of their own jobs (admins see all)",
        ("shared", "per_user"),
    ),
}


def defaults() -> dict[str, Any]:
    return {name: setting.default for name, setting in SETTINGS.items()}


def load(conn: sqlite3.Connection) -> dict[str, Any]:
    """Every setting, stored value or default."""
    values = defaults()
    for row in conn.execute("SELECT key, value FROM settings"):
        if row["key"] in SETTINGS:
            values[row["key"]] = json.loads(row["value"])
    return values


def validate(changes: Any) -> dict[str, Any]:
    if not isinstance(changes, dict) or not changes:
        raise BadRequest(f"send an object with one or more of: {', '.join(SETTINGS)}", code="INVALID_BODY")
    unknown = sorted(set(changes) - set(SETTINGS))
    if unknown:
        raise BadRequest(f"unknown setting {unknown[0]!r}; known: {', '.join(SETTINGS)}", code="UNKNOWN_SETTING")
    for name, value in changes.items():
        setting = SETTINGS[name]
        if type(value) is not setting.kind:
            raise BadRequest(f"{name} must be a {setting.kind.__name__}", code="INVALID_SETTING")
        if setting.choices and value not in setting.choices:
            choices = ", ".join(map(str, setting.choices))
            raise BadRequest(f"{name} must be one of {choices}", code="INVALID_SETTING")
    return changes


def update(conn: sqlite3.Connection, changes: Any) -> dict[str, Any]:
    """Apply validated changes and return every setting."""
    for name, value in validate(changes).items():
        conn.execute(
            "INSERT INTO settings(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = strftime('%s','now')",
            (name, json.dumps(value)),
        )
    return load(conn)
