"""Sessions: a user's named groups of jobs (a phone's conversation, a client's project).

A session belongs to one user. Deleting it removes its jobs' records with it; the images those
jobs saved stay unless the caller asks for them too (then the API moves them to the gallery trash).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest

MAX_NAME = 200


@dataclass
class Session:
    id: str
    username: str
    name: str
    created_at: float
    job_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "username": self.username,
            "created_at": self.created_at,
            "job_count": self.job_count,
        }


def check_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_NAME:
        raise BadRequest(f"name must be a non-empty text of at most {MAX_NAME} characters", code="INVALID_NAME")
    return value.strip()


_SELECT = (
    "SELECT s.id, s.username, s.name, s.created_at, "
    "(SELECT COUNT(*) FROM jobs WHERE jobs.session_id = s.id) AS job_count FROM sessions s"
)


def _from_row(row: sqlite3.Row) -> Session:
    return Session(row["id"], row["username"], row["name"], row["created_at"], row["job_count"])


def create(conn: sqlite3.Connection, session: Session) -> None:
    conn.execute(
        "INSERT INTO sessions (id, username, name, created_at) VALUES (?, ?, ?, ?)",
        (session.id, session.username, session.name, session.created_at),
    )


def get(conn: sqlite3.Connection, session_id: str) -> Session | None:
    row = conn.execute(f"{_SELECT} WHERE s.id = ?", (session_id,)).fetchone()
    return _from_row(row) if row is not None else None


def list_sessions(conn: sqlite3.Connection, username: str, *, limit: int = 200) -> list[Session]:
    """One user's sessions, newest first, with how many jobs each holds."""
    rows = conn.execute(
        f"{_SELECT} WHERE s.username = ? ORDER BY s.created_at DESC, s.id DESC LIMIT ?", (username, limit)
    )
    return [_from_row(row) for row in rows]


def rename(conn: sqlite3.Connection, session_id: str, name: str) -> bool:
    return conn.execute("UPDATE sessions SET name = ? WHERE id = ?", (name, session_id)).rowcount == 1


def busy(conn: sqlite3.Connection, session_id: str) -> int:
    """How many of the session's jobs are still pending or running."""
    sql = "SELECT COUNT(*) FROM jobs WHERE session_id = ? AND status IN ('pending', 'running')"
    return conn.execute(sql, (session_id,)).fetchone()[0]


def delete(conn: sqlite3.Connection, session_id: str) -> tuple[int, list[dict[str, str]]] | None:
    """Remove a session and its jobs' records: (jobs removed, the images they listed); None when it is gone
    or still has a job pending or running (nothing is removed then)."""
    if busy(conn, session_id) or conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is None:
        return None
    images: list[dict[str, str]] = []
    for row in conn.execute("SELECT images_json FROM jobs WHERE session_id = ? ORDER BY created_at", (session_id,)):
        try:
            listed = json.loads(row["images_json"] or "[]")
        except ValueError:
            listed = []
        images.extend(i for i in listed if isinstance(i, dict) and i.get("filename"))
    removed = conn.execute("DELETE FROM jobs WHERE session_id = ?", (session_id,)).rowcount
    conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
    return removed, images


def status_counts(conn: sqlite3.Connection, session_ids: list[str]) -> dict[str, dict[str, int]]:
    """For each of these sessions, how many of its jobs are in each status (sessions without jobs left out)."""
    counts: dict[str, dict[str, int]] = {}
    for start in range(0, len(session_ids), 500):  # SQLite's host-parameter limit
        chunk = session_ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        sql = f"SELECT session_id, status, COUNT(*) AS n FROM jobs WHERE session_id IN ({marks}) GROUP BY 1, 2"
        for row in conn.execute(sql, chunk):
            counts.setdefault(row["session_id"], {})[row["status"]] = row["n"]
    return counts
