"""Each user's conversation with the assistant (the ``assistant_messages`` table): functions over a
``sqlite3.Connection``, written through the database's one writer. Every write trims the user's conversation to the
newest ``MAX_MESSAGES`` messages within ``MAX_BYTES``; a user's own messages only, always by username."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from .tools import Action

MAX_MESSAGES = 50
MAX_BYTES = 64 * 1024
USER, ASSISTANT = "user", "assistant"


@dataclass
class Message:
    role: str
    content: dict[str, Any]  # user: {"text", "workflow"}; assistant: {"text", "reason", "cancelled"?, "error"?}
    actions: list[Action] = field(default_factory=list)
    id: int = 0
    created_at: float = 0.0

    def shown(self) -> dict[str, Any]:
        return {"id": self.id, "role": self.role, **self.content, "actions": [a.shown() for a in self.actions],
                "created_at": self.created_at}  # fmt: skip


def _message(row: sqlite3.Row) -> Message:
    actions = [Action.from_dict(a) for a in orjson.loads(row["actions_json"]) if isinstance(a, dict)]
    return Message(row["role"], orjson.loads(row["content_json"]), actions, row["id"], row["created_at"])


def append(conn: sqlite3.Connection, username: str, messages: Sequence[Message], now: float) -> None:
    """Add messages to the user's conversation (in order; the writer's transaction holds them all), then trim it."""
    for message in messages:
        content = orjson.dumps(message.content).decode()
        actions = orjson.dumps([a.to_dict() for a in message.actions]).decode()
        cursor = conn.execute(
            "INSERT INTO assistant_messages (username, role, content_json, actions_json, size, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (username, message.role, content, actions, len(content) + len(actions), now),
        )
        message.id, message.created_at = int(cursor.lastrowid or 0), now
    trim(conn, username)


def trim(conn: sqlite3.Connection, username: str) -> int:
    """Drop the user's oldest messages beyond the newest ``MAX_MESSAGES`` within ``MAX_BYTES`` (the newest is
    always kept); the number dropped."""
    rows = conn.execute(
        "SELECT id, size FROM assistant_messages WHERE username = ? ORDER BY id DESC LIMIT ?",
        (username, MAX_MESSAGES + 1),
    ).fetchall()
    kept, total = 0, 0
    for row in rows[:MAX_MESSAGES]:
        if kept and total + row["size"] > MAX_BYTES:
            break
        kept, total = kept + 1, total + row["size"]
    if kept == len(rows):
        return 0
    oldest_kept = rows[kept - 1]["id"]
    return conn.execute(
        "DELETE FROM assistant_messages WHERE username = ? AND id < ?", (username, oldest_kept)
    ).rowcount


def listing(conn: sqlite3.Connection, username: str) -> list[Message]:
    """The user's conversation, oldest first."""
    rows = conn.execute("SELECT * FROM assistant_messages WHERE username = ? ORDER BY id", (username,)).fetchall()
    return [_message(row) for row in rows]


def clear(conn: sqlite3.Connection, username: str) -> int:
    return conn.execute("DELETE FROM assistant_messages WHERE username = ?", (username,)).rowcount


def find_action(conn: sqlite3.Connection, username: str, action_id: str) -> tuple[int, list[Action]] | None:
    """The message of the user's that holds the action (its id and all its actions), or None."""
    rows = conn.execute(
        "SELECT id, actions_json FROM assistant_messages WHERE username = ? AND role = ? AND instr(actions_json, ?)",
        (username, ASSISTANT, f'"{action_id}"'),
    ).fetchall()
    for row in rows:
        actions = [Action.from_dict(a) for a in orjson.loads(row["actions_json"]) if isinstance(a, dict)]
        if any(a.id == action_id for a in actions):
            return row["id"], actions
    return None


def save_action(conn: sqlite3.Connection, username: str, action: Action) -> bool:
    """Write an action's new state (and jobs) into the message that holds it; whether one did."""
    found = find_action(conn, username, action.id)
    if found is None:
        return False
    message_id, actions = found
    actions = [action if a.id == action.id else a for a in actions]
    conn.execute(
        "UPDATE assistant_messages SET actions_json = ? WHERE id = ?",
        (orjson.dumps([a.to_dict() for a in actions]).decode(), message_id),
    )
    return True
