"""The ``profiles`` and ``profile_models`` tables (migration 19): functions of a ``sqlite3.Connection``. Rows of
provider ``comfyui`` are backends; the others are LLM profiles (Spoon Feeder's, the prompt assistant's). The local
ComfyUI is never a row: its enabled flag and job count are one ``settings`` key."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from typing import Any

from .model import LOCAL_ID, Backend

COMFYUI = "comfyui"
LOCAL_KEY = "backend.local"  # settings key: {"enabled": bool, "max_jobs": int} (settings.load ignores it)
PINS_KEY = "backend.pins"  # settings key: {workflow name: backend id}, the workflows an admin pinned
COLUMNS = (
    "name",
    "provider",
    "type",
    "description",
    "url",
    "auth_kind",
    "auth_user",
    "secret",
    "enabled",
    "max_jobs",
    "tags_json",
    "subfolder",
    "is_default",
    "options_json",
    "prompt_template",
    "input_modalities_json",
    "output_modalities_json",
)


def to_backend(row: sqlite3.Row) -> Backend:
    return Backend(
        id=row["id"],
        name=row["name"],
        url=row["url"],
        auth_kind=row["auth_kind"],
        auth_user=row["auth_user"],
        secret=row["secret"],
        enabled=bool(row["enabled"]),
        max_jobs=row["max_jobs"],
        tags=tuple(json.loads(row["tags_json"] or "[]")),
        subfolder=row["subfolder"] or "",
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def backends(conn: sqlite3.Connection) -> list[Backend]:
    rows = conn.execute("SELECT * FROM profiles WHERE provider = ? ORDER BY created_at, id", (COMFYUI,))
    return [to_backend(row) for row in rows]


def profiles(conn: sqlite3.Connection, provider: str | None = None) -> list[dict[str, Any]]:
    if provider is None:
        rows = conn.execute("SELECT * FROM profiles ORDER BY created_at, id")
    else:
        rows = conn.execute("SELECT * FROM profiles WHERE provider = ? ORDER BY created_at, id", (provider,))
    return [dict(row) for row in rows]


def profile(conn: sqlite3.Connection, profile_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM profiles WHERE id = ?", (profile_id,)).fetchone()
    return dict(row) if row is not None else None


def name_taken(conn: sqlite3.Connection, name: str, *, other_than: str | None = None) -> bool:
    row = conn.execute(
        "SELECT id FROM profiles WHERE provider = ? AND name = ? COLLATE NOCASE AND id IS NOT ?",
        (COMFYUI, name, other_than),
    ).fetchone()
    return row is not None


def insert(conn: sqlite3.Connection, values: dict[str, Any], *, by: str | None) -> str:
    """A new profile from column values (missing ones take the table's defaults); its id."""
    new_id, now = str(uuid.uuid4()), time.time()
    columns = [c for c in COLUMNS if c in values]
    conn.execute(
        f"INSERT INTO profiles(id, {', '.join(columns)}, created_by, created_at, updated_at) "
        f"VALUES (?, {', '.join('?' for _ in columns)}, ?, ?, ?)",
        (new_id, *(values[c] for c in columns), by, now, now),
    )
    return new_id


def update(conn: sqlite3.Connection, profile_id: str, values: dict[str, Any]) -> bool:
    columns = [c for c in COLUMNS if c in values]
    sets = ", ".join(f"{c} = ?" for c in [*columns, "updated_at"])
    cursor = conn.execute(
        f"UPDATE profiles SET {sets} WHERE id = ?", (*(values[c] for c in columns), time.time(), profile_id)
    )
    return cursor.rowcount > 0


def delete(conn: sqlite3.Connection, profile_id: str) -> bool:
    return conn.execute("DELETE FROM profiles WHERE id = ?", (profile_id,)).rowcount > 0


def backend_columns(fields: dict[str, Any]) -> dict[str, Any]:
    """Checked backend fields (core/backends/fields.py) as column values."""
    renamed = {"auth": "auth_kind", "tags": "tags_json"}
    values: dict[str, Any] = {}
    for key, value in fields.items():
        column = renamed.get(key, key)
        if column == "tags_json":
            value = json.dumps(list(value))
        elif column == "enabled":
            value = int(value)
        values[column] = value
    return values


# -- the local ComfyUI ---------------------------------------------------------------------------------------
def local_settings(conn: sqlite3.Connection) -> dict[str, Any]:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (LOCAL_KEY,)).fetchone()
    try:
        stored = json.loads(row["value"]) if row is not None else {}
    except ValueError:
        stored = {}
    return stored if isinstance(stored, dict) else {}


def save_local_settings(conn: sqlite3.Connection, values: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO settings(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = strftime('%s','now')",
        (LOCAL_KEY, json.dumps(values)),
    )


def pins(conn: sqlite3.Connection) -> dict[str, str]:
    """The workflows pinned to a backend: workflow name -> backend id."""
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (PINS_KEY,)).fetchone()
    try:
        stored = json.loads(row["value"]) if row is not None else {}
    except ValueError:
        stored = {}
    if not isinstance(stored, dict):
        return {}
    return {k: v for k, v in stored.items() if isinstance(k, str) and isinstance(v, str)}


def save_pins(conn: sqlite3.Connection, values: dict[str, str]) -> None:
    conn.execute(
        "INSERT INTO settings(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = strftime('%s','now')",
        (PINS_KEY, json.dumps(values, sort_keys=True)),
    )


def local_backend(stored: dict[str, Any], name: str = LOCAL_ID) -> Backend:
    max_jobs = stored.get("max_jobs")
    return Backend(
        id=LOCAL_ID,
        name=name,
        url=None,
        enabled=stored.get("enabled") is not False,
        max_jobs=max_jobs if isinstance(max_jobs, int) and not isinstance(max_jobs, bool) and max_jobs >= 1 else 1,
        tags=tuple(t for t in stored.get("tags", ()) if isinstance(t, str)),
    )


# -- a profile's models (Spoon Feeder) -----------------------------------------------------------------------
def models(conn: sqlite3.Connection, profile_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, profile_id, model_id, name, created_at FROM profile_models WHERE profile_id = ? "
        "ORDER BY created_at, model_id",
        (profile_id,),
    )
    return [dict(row) for row in rows]


def add_model(conn: sqlite3.Connection, profile_id: str, model_id: str, name: str) -> dict[str, Any]:
    conn.execute(
        "INSERT INTO profile_models(id, profile_id, model_id, name, created_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(profile_id, model_id) DO UPDATE SET name = excluded.name",
        (str(uuid.uuid4()), profile_id, model_id, name, time.time()),
    )
    row = conn.execute(
        "SELECT id, profile_id, model_id, name, created_at FROM profile_models WHERE profile_id = ? AND model_id = ?",
        (profile_id, model_id),
    ).fetchone()
    return dict(row)


def delete_model(conn: sqlite3.Connection, profile_id: str, model_id: str) -> bool:
    cursor = conn.execute(
        "DELETE FROM profile_models WHERE profile_id = ? AND (model_id = ? OR id = ?)", (profile_id, model_id, model_id)
    )
    return cursor.rowcount > 0


def sync_models(conn: sqlite3.Connection, profile_id: str, found: list[str]) -> tuple[int, int]:
    """Make a profile's models exactly ``found``: (added, removed)."""
    have = {
        row["model_id"]
        for row in conn.execute("SELECT model_id FROM profile_models WHERE profile_id = ?", (profile_id,))
    }
    wanted = list(dict.fromkeys(found))
    gone = have - set(wanted)
    for model_id in gone:
        conn.execute("DELETE FROM profile_models WHERE profile_id = ? AND model_id = ?", (profile_id, model_id))
    added = [m for m in wanted if m not in have]
    now = time.time()
    conn.executemany(
        "INSERT INTO profile_models(id, profile_id, model_id, name, created_at) VALUES (?, ?, ?, ?, ?)",
        [(str(uuid.uuid4()), profile_id, m, m, now) for m in added],
    )
    return len(added), len(gone)
