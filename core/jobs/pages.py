"""Offset pages of jobs and of their outputs, with their totals (the paging Spoon Feeder's tasks and results use).

A job's outputs are the files its ``images`` name that the gallery still indexes: a file moved keeps its id and
its job (moves relink the job's images), a file deleted leaves the list.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import records
from .model import COMPLETED, Job

# one row per (job, output), joined to the gallery's row of that file
_OUTPUTS = (
    "FROM jobs j, json_each(j.images_json) e JOIN media m "
    "ON m.root = coalesce(json_extract(e.value, '$.type'), 'output') "
    "AND m.subfolder = coalesce(json_extract(e.value, '$.subfolder'), '') "
    "AND m.filename = json_extract(e.value, '$.filename')"
)
_OUTPUT_COLUMNS = (
    "m.id, m.root, m.subfolder, m.filename, m.kind, m.size, m.mtime, m.width, m.height, m.model, "
    "j.id AS job_id, j.username AS job_username, j.workflow AS job_workflow, j.finished_at AS job_finished_at"
)


@dataclass(frozen=True)
class JobPage:
    """What a page of jobs is narrowed to; None means no narrowing."""

    username: str | None = None
    statuses: tuple[str, ...] | None = None
    since: float | None = None  # created_at >= since
    until: float | None = None  # created_at < until
    text: str | None = None  # a substring of the resolved parameters or of the workflow's name


def _where(page: JobPage) -> tuple[str, list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if page.username is not None:
        where.append("username = ?")
        args.append(page.username)
    if page.statuses is not None:
        where.append(f"status IN ({', '.join('?' for _ in page.statuses)})")
        args.extend(page.statuses)
    if page.since is not None:
        where.append("created_at >= ?")
        args.append(page.since)
    if page.until is not None:
        where.append("created_at < ?")
        args.append(page.until)
    if page.text:
        where.append("(params_json LIKE ? ESCAPE '\\' OR workflow LIKE ? ESCAPE '\\')")
        args.extend([records.containing(page.text)] * 2)
    return (" WHERE " + " AND ".join(where)) if where else "", args


def jobs(conn: sqlite3.Connection, page: JobPage, *, offset: int, limit: int) -> tuple[list[Job], int]:
    """The jobs the page selects, newest first, from ``offset`` (at most ``limit``), and how many it selects."""
    where, args = _where(page)
    total = conn.execute(f"SELECT count(*) FROM jobs{where}", args).fetchone()[0]
    sql = f"SELECT {records._LIST_COLUMNS} FROM jobs{where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
    return [records.from_row(row) for row in conn.execute(sql, [*args, limit, offset])], total


def _output_where(username: str | None, kinds: Iterable[str] | None) -> tuple[str, list[Any]]:
    where, args = ["j.status = ?"], [COMPLETED]
    if username is not None:
        where.append("j.username = ?")
        args.append(username)
    if kinds is not None:
        chosen = list(kinds)
        where.append(f"m.kind IN ({', '.join('?' for _ in chosen)})" if chosen else "0")
        args.extend(chosen)
    return " WHERE " + " AND ".join(where), args


def outputs(
    conn: sqlite3.Connection, *, username: str | None, kinds: Iterable[str] | None, offset: int, limit: int
) -> tuple[list[sqlite3.Row], int]:
    """Completed jobs' outputs still in the gallery, the newest job first and in the job's order, from
    ``offset`` (at most ``limit``), and how many there are. ``username`` None: everyone's."""
    where, args = _output_where(username, list(kinds) if kinds is not None else None)
    total = conn.execute(f"SELECT count(*) {_OUTPUTS}{where}", args).fetchone()[0]
    sql = (
        f"SELECT {_OUTPUT_COLUMNS} {_OUTPUTS}{where} "
        "ORDER BY j.created_at DESC, j.id DESC, CAST(e.key AS INTEGER) LIMIT ? OFFSET ?"
    )
    return conn.execute(sql, [*args, limit, offset]).fetchall(), total


def output(conn: sqlite3.Connection, file_id: int) -> sqlite3.Row | None:
    """The output with this gallery id and its completed job (None when no job made it): looked up by the
    file's prompt, else by the job naming the file."""
    found = conn.execute("SELECT root, subfolder, filename, prompt_id FROM media WHERE id = ?", (file_id,)).fetchone()
    if found is None:
        return None
    lookups = [("json_extract(e.value, '$.filename') = ?", found["filename"])]
    if found["prompt_id"] is not None:  # the file's own record of its prompt: found through an index
        lookups.insert(0, ("j.id IN (SELECT job_id FROM job_prompts WHERE prompt_id = ?)", found["prompt_id"]))
    for narrowed, arg in lookups:
        sql = f"SELECT {_OUTPUT_COLUMNS} {_OUTPUTS} WHERE j.status = ? AND m.id = ? AND {narrowed} LIMIT 1"
        row = conn.execute(sql, [COMPLETED, file_id, arg]).fetchone()
        if row is not None:
            return row
    return None
