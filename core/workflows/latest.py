"""The newest output of each workflow, for the workflow list's thumbnails.

An output counts when the index still holds it (a deleted image gives no thumbnail) and it is an image of a
completed job of that workflow; with ``owner``, of that user's jobs alone (as their history lists them).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson


def latest_outputs(conn: sqlite3.Connection, workflows: list[str], owner: str | None = None) -> dict[str, sqlite3.Row]:
    """``{workflow: media row}``: the first indexed image of the newest completed job (that has one) of each
    workflow, in one query; workflows without one are left out."""
    if not workflows:
        return {}
    mine = " AND j.username = ?" if owner is not None else ""
    sql = (
        "SELECT w.value AS workflow, m.* FROM json_each(?) w JOIN media m ON m.id = ("
        " SELECT i.id FROM jobs j CROSS JOIN job_prompts p CROSS JOIN media i"  # from the jobs, newest first
        " WHERE p.job_id = j.id AND i.prompt_id = p.prompt_id"
        f" AND j.workflow = w.value AND j.status = 'completed'{mine}"
        " AND +i.root = 'output' AND i.kind = 'image' AND i.hidden = 0"  # + : reach i by its prompt id
        " ORDER BY j.created_at DESC, j.id DESC, i.mtime, i.id LIMIT 1)"
    )
    params: list[Any] = [orjson.dumps(workflows).decode()]
    if owner is not None:
        params.append(owner)
    return {row["workflow"]: row for row in conn.execute(sql, params)}
