"""The ``job_series`` table (migration 15): a job run N times or until stopped, one job after the other.

``times`` is None for a series that runs until it is stopped. ``submitted`` counts the jobs queued for it and
``completed`` those that completed; ``current_job`` is the job queued last (its end queues the next one).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

RUNNING, STOPPED, DONE, FAILED = "running", "stopped", "done", "failed"
SERIES_STATUSES = (RUNNING, STOPPED, DONE, FAILED)


@dataclass
class Series:
    id: str
    username: str
    workflow: str
    values: dict[str, Any]
    num_images: int
    session_id: str | None
    times: int | None  # None: until stopped
    created_at: float
    updated_at: float
    submitted: int = 0
    completed: int = 0
    current_job: str | None = None
    status: str = RUNNING
    reason: str | None = None
    backend: str | None = None  # the job request's backend (id or name): every job of the series is pinned so

    @property
    def until_stopped(self) -> bool:
        return self.times is None

    def to_dict(self) -> dict[str, Any]:
        """The series as the API shows it (its request's values are the caller's own: they are shown too)."""
        return {
            "id": self.id,
            "username": self.username,
            "workflow": self.workflow,
            "values": self.values,
            "num_images": self.num_images,
            "session_id": self.session_id,
            "times": self.times if self.times is not None else "until_stopped",
            "submitted": self.submitted,
            "completed": self.completed,
            "current_job": self.current_job,
            "status": self.status,
            "reason": self.reason,
            "backend": self.backend,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


_COLUMNS = (
    "id, username, workflow, values_json, num_images, session_id, times, submitted, completed, current_job, "
    "status, reason, created_at, updated_at, backend"
)


def _from_row(row: sqlite3.Row) -> Series:
    return Series(
        id=row["id"],
        username=row["username"],
        workflow=row["workflow"],
        values=json.loads(row["values_json"]),
        num_images=row["num_images"],
        session_id=row["session_id"],
        times=row["times"],
        submitted=row["submitted"],
        completed=row["completed"],
        current_job=row["current_job"],
        status=row["status"],
        reason=row["reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        backend=row["backend"],
    )


def insert(conn: sqlite3.Connection, s: Series) -> None:
    conn.execute(
        f"INSERT INTO job_series ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (s.id, s.username, s.workflow, json.dumps(s.values), s.num_images, s.session_id, s.times, s.submitted,
         s.completed, s.current_job, s.status, s.reason, s.created_at, s.updated_at, s.backend),
    )  # fmt: skip


def save(conn: sqlite3.Connection, s: Series) -> None:
    """Write a series' progress and status."""
    conn.execute(
        "UPDATE job_series SET submitted = ?, completed = ?, current_job = ?, status = ?, reason = ?, "
        "updated_at = ? WHERE id = ?",
        (s.submitted, s.completed, s.current_job, s.status, s.reason, s.updated_at, s.id),
    )


def delete(conn: sqlite3.Connection, series_id: str) -> None:
    conn.execute("DELETE FROM job_series WHERE id = ?", (series_id,))


def get(conn: sqlite3.Connection, series_id: str) -> Series | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM job_series WHERE id = ?", (series_id,)).fetchone()
    return _from_row(row) if row is not None else None


def running(conn: sqlite3.Connection) -> list[Series]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM job_series WHERE status = ? ORDER BY created_at", (RUNNING,))
    return [_from_row(row) for row in rows]


def with_job(conn: sqlite3.Connection, job_id: str) -> Series | None:
    """The series whose latest job this is (running or not)."""
    row = conn.execute(f"SELECT {_COLUMNS} FROM job_series WHERE current_job = ?", (job_id,)).fetchone()
    return _from_row(row) if row is not None else None


def listed(conn: sqlite3.Connection, username: str | None, *, ended: int = 20) -> list[Series]:
    """A user's series (everyone's for ``None``): every running one, oldest first, then the ``ended`` latest to
    end, newest first."""
    who, args = ("AND username = ?", (username,)) if username is not None else ("", ())
    live = conn.execute(
        f"SELECT {_COLUMNS} FROM job_series WHERE status = ? {who} ORDER BY created_at", (RUNNING, *args)
    ).fetchall()
    gone = conn.execute(
        f"SELECT {_COLUMNS} FROM job_series WHERE status != ? {who} ORDER BY updated_at DESC LIMIT ?",
        (RUNNING, *args, ended),
    ).fetchall()
    return [_from_row(row) for row in [*live, *gone]]
