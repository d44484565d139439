"""The SQL of the download queue and its history (the ``downloads`` table of migration 18).

The other tables of that migration have their SQL beside their logic: ``model_sources`` in catalogue.py,
``model_hashes`` in hashing.py, ``model_trash`` in library.py. Functions take a ``sqlite3.Connection``: writes run
in the database's writer thread (``Database.execute_write_fn``), reads on its readers (``Database.execute_fn``). A
target has at most one ``queued`` or ``running`` download (a unique partial index), so two requests for the same
file cannot both be queued.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from typing import Any

ACTIVE = ("queued", "running")
FINAL = ("done", "failed", "cancelled")
_DOWNLOAD_FIELDS = (
    "id",
    "folder",
    "name",
    "source_json",
    "sha256_expected",
    "total",
    "state",
    "warning",
    "created_by",
    "created_at",
)


# -- downloads --------------------------------------------------------------------------------------------------
def insert_download(conn: sqlite3.Connection, values: dict[str, Any]) -> sqlite3.Row | None:
    """Record a queued download; returns the target's queued or running download instead when there is one."""
    existing = active_download(conn, values["folder"], values["name"])
    if existing is not None:
        return existing
    marks = ", ".join("?" * len(_DOWNLOAD_FIELDS))
    conn.execute(
        f"INSERT INTO downloads({', '.join(_DOWNLOAD_FIELDS)}) VALUES ({marks})",
        [values.get(name) for name in _DOWNLOAD_FIELDS],
    )
    return None


def get_download(conn: sqlite3.Connection, download_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM downloads WHERE id = ?", (download_id,)).fetchone()
    return row


def recent_downloads(conn: sqlite3.Connection, limit: int) -> list[sqlite3.Row]:
    """The newest downloads first (queue and history together)."""
    return conn.execute("SELECT * FROM downloads ORDER BY created_at DESC, id DESC LIMIT ?", (limit,)).fetchall()


def active_download(conn: sqlite3.Connection, folder: str, name: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM downloads WHERE folder = ? AND name = ? AND state IN ('queued', 'running')", (folder, name)
    ).fetchone()
    return row


def newest_download(
    conn: sqlite3.Connection, folder: str, name: str, states: Collection[str] = ("queued", "running", "failed")
) -> sqlite3.Row | None:
    """The newest download of a target in one of ``states`` (what a workflow check shows beside a missing model)."""
    marks = ", ".join("?" * len(states))
    row: sqlite3.Row | None = conn.execute(
        f"SELECT * FROM downloads WHERE folder = ? AND name = ? AND state IN ({marks}) "
        "ORDER BY created_at DESC, id DESC LIMIT 1",
        (folder, name, *states),
    ).fetchone()
    return row


def next_queued(conn: sqlite3.Connection, skip: Collection[str] = ()) -> sqlite3.Row | None:
    """The oldest queued download not in ``skip``."""
    marks = ", ".join("?" * len(skip))
    extra = f" AND id NOT IN ({marks})" if skip else ""
    row: sqlite3.Row | None = conn.execute(
        f"SELECT * FROM downloads WHERE state = 'queued'{extra} ORDER BY created_at, id LIMIT 1", tuple(skip)
    ).fetchone()
    return row


def claim(conn: sqlite3.Connection, download_id: str, at: float) -> bool:
    """queued → running; False when it is no longer queued (cancelled meanwhile)."""
    cursor = conn.execute(
        "UPDATE downloads SET state = 'running', started_at = ?, error = NULL, code = NULL "
        "WHERE id = ? AND state = 'queued'",
        (at, download_id),
    )
    return cursor.rowcount == 1


def cancel_queued(conn: sqlite3.Connection, download_id: str, at: float) -> bool:
    """queued → cancelled; False when it is not queued (running or finished by now)."""
    cursor = conn.execute(
        "UPDATE downloads SET state = 'cancelled', finished_at = ?, code = 'CANCELLED', error = ? "
        "WHERE id = ? AND state = 'queued'",
        (at, "cancelled before it started", download_id),
    )
    return cursor.rowcount == 1


def set_remote(conn: sqlite3.Connection, download_id: str, total: int | None, sha256_expected: str | None) -> None:
    """What the source said about the file: its size and (when the request gave none) its hash."""
    conn.execute(
        "UPDATE downloads SET total = COALESCE(?, total), sha256_expected = COALESCE(sha256_expected, ?) "
        "WHERE id = ?",
        (total, sha256_expected, download_id),
    )


def requeue(conn: sqlite3.Connection, download_id: str, done: int, total: int | None) -> None:
    """running → queued (the server stops; its ``.part`` stays for the next start to resume)."""
    conn.execute(
        "UPDATE downloads SET state = 'queued', started_at = NULL, done = ?, total = COALESCE(?, total) "
        "WHERE id = ? AND state = 'running'",
        (done, total, download_id),
    )


def requeue_running(conn: sqlite3.Connection) -> int:
    """Every download the last run left ``running`` goes back to ``queued``; how many."""
    return conn.execute("UPDATE downloads SET state = 'queued', started_at = NULL WHERE state = 'running'").rowcount


def finish(
    conn: sqlite3.Connection,
    download_id: str,
    state: str,
    *,
    at: float,
    done: int,
    total: int | None = None,
    size: int | None = None,
    sha256: str | None = None,
    error: str | None = None,
    code: str | None = None,
) -> None:
    """An active download ends: done, failed or cancelled."""
    assert state in FINAL, state
    conn.execute(
        "UPDATE downloads SET state = ?, finished_at = ?, done = ?, total = COALESCE(?, total), size = ?, "
        "sha256 = ?, error = ?, code = ? WHERE id = ? AND state IN ('queued', 'running')",
        (state, at, done, total, size, sha256, error, code, download_id),
    )
