"""Workflow presets, per user and per workflow (seed 004's semantics, in SQLite).

Each change is one transaction on the database's single writer, so concurrent
saves never lose each other's presets.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from typing import Any

import orjson

from ..errors import BadRequest

MAX_NAME = 200


def _preset(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "values": orjson.loads(row["preset_values"]),
        "updated": row["updated"],
        "created": row["created"],
    }


def workflow_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("Missing workflow: name the workflow the presets belong to", code="MISSING_WORKFLOW")
    return value.strip()


def list_presets(conn: sqlite3.Connection, username: str, workflow: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT * FROM presets WHERE username = ? AND workflow = ? ORDER BY updated DESC, created DESC, id",
        (username, workflow),
    )
    return [_preset(r) for r in rows]


def all_presets(conn: sqlite3.Connection, username: str) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    rows = conn.execute(
        "SELECT * FROM presets WHERE username = ? ORDER BY workflow, updated DESC, created DESC, id", (username,)
    )
    for row in rows:
        grouped.setdefault(row["workflow"], []).append(_preset(row))
    return grouped


def save_preset(conn: sqlite3.Connection, username: str, workflow: str, preset: Any) -> dict[str, Any]:
    """Insert or update: matched by id, else by name (case-insensitive); returns the saved preset."""
    if not isinstance(preset, dict):
        raise BadRequest("Invalid preset: send an object with a name and values", code="INVALID_PRESET")
    name = preset.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("Missing preset name", code="MISSING_PRESET_NAME")
    name = name.strip()[:MAX_NAME]
    values = preset.get("values")
    values = values if isinstance(values, dict) else {}
    wanted_id = str(preset["id"]) if preset.get("id") not in (None, "") else None
    match = None
    if wanted_id is not None:
        match = conn.execute(
            "SELECT * FROM presets WHERE id = ? AND username = ? AND workflow = ?", (wanted_id, username, workflow)
        ).fetchone()
    if match is None:
        match = conn.execute(
            "SELECT * FROM presets WHERE username = ? AND workflow = ? AND name = ? COLLATE NOCASE",
            (username, workflow, name),
        ).fetchone()
    now = int(time.time())
    if match is not None:
        conn.execute(
            "UPDATE presets SET name = ?, preset_values = ?, updated = ? WHERE id = ?",
            (name, orjson.dumps(values).decode(), now, match["id"]),
        )
        preset_id = match["id"]
    else:
        preset_id = wanted_id or str(uuid.uuid4())
        if conn.execute("SELECT 1 FROM presets WHERE id = ?", (preset_id,)).fetchone():
            preset_id = str(uuid.uuid4())  # that id belongs to another user's or workflow's preset
        conn.execute(
            "INSERT INTO presets(id, username, workflow, name, preset_values, created, updated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (preset_id, username, workflow, name, orjson.dumps(values).decode(), now, now),
        )
    return _preset(conn.execute("SELECT * FROM presets WHERE id = ?", (preset_id,)).fetchone())


def delete_preset(conn: sqlite3.Connection, username: str, workflow: str, preset_id: Any) -> bool:
    cursor = conn.execute(
        "DELETE FROM presets WHERE id = ? AND username = ? AND workflow = ?", (str(preset_id), username, workflow)
    )
    return cursor.rowcount > 0
