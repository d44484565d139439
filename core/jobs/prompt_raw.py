"""The prompts a client typed before expanding its ``$alias$`` tokens (seed 004's ``prompt_raw``), per job.

The original CozyGen app expands aliases itself, posts ``{"prompt_id", "prompt_raw": {"<node>:<input>": text}}``
to ``/cozygen/api/prompt_raw`` and then queues the expanded graph on ComfyUI's ``/prompt`` under the same
prompt id; its gallery later shows the raw texts of the files that prompt saved.

A raw map is kept per (prompt id, user) in SQLite, so nobody can overwrite another user's map or read it (a map
is shown only to the user who posted it, and only for a prompt of that user's own job). A map follows its job:
deleting the job's prompt deletes it (a trigger of migration 13). One whose prompt never came, or came as someone
else's, is an orphan: a user's orphans older than ``ORPHAN_SECONDS``, and beyond the newest ``MAX_ORPHANS``, are
dropped each time that user posts one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

import orjson

from ..errors import BadRequest, TooLarge

MAX_ENTRIES = 1_000  # "<node>:<input>" keys in one map
MAX_KEY = 256  # characters of a key
MAX_BYTES = 256 * 1024  # the map as stored (JSON, UTF-8)
MAX_PROMPT_ID = 128
ORPHAN_SECONDS = 24 * 3600
MAX_ORPHANS = 100
NO_USER = ""  # the owner while authentication is off


def parse(body: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """``(prompt_id, raw map)`` from a posted body, with the seed's errors (their exact texts).

    The map is ``prompt_raw``, or when that is null ``cozygen_prompt_raw``, then ``raw``; only entries with a
    non-blank string key and a string value are kept.
    """
    prompt_id = body.get("prompt_id")
    if isinstance(prompt_id, int) and not isinstance(prompt_id, bool):
        prompt_id = str(prompt_id)
    if not isinstance(prompt_id, str) or not prompt_id.strip():
        raise BadRequest("prompt_id required", code="MISSING_PROMPT_ID")
    prompt_id = prompt_id.strip()
    if len(prompt_id) > MAX_PROMPT_ID:
        raise BadRequest("prompt_id invalid", code="INVALID_PROMPT_ID", extra={"detail": "at most 128 characters"})
    raw: Any = None
    for key in ("prompt_raw", "cozygen_prompt_raw", "raw"):
        raw = body.get(key)
        if raw is not None:
            break
    if not isinstance(raw, dict) or not raw:
        raise BadRequest("prompt_raw required", code="MISSING_PROMPT_RAW")
    if len(raw) > MAX_ENTRIES:
        raise TooLarge("prompt_raw too large", code="PROMPT_RAW_TOO_LARGE", extra={"detail": f"at most {MAX_ENTRIES}"})
    kept = {
        key.strip(): value
        for key, value in raw.items()
        if isinstance(key, str) and key.strip() and len(key) <= MAX_KEY and isinstance(value, str)
    }
    if not kept:
        raise BadRequest("prompt_raw invalid", code="INVALID_PROMPT_RAW")
    if len(orjson.dumps(kept)) > MAX_BYTES:
        raise TooLarge(
            "prompt_raw too large", code="PROMPT_RAW_TOO_LARGE", extra={"detail": f"at most {MAX_BYTES} bytes"}
        )
    return prompt_id, kept


def store(conn: sqlite3.Connection, prompt_id: str, username: str | None, raw: Mapping[str, str], now: float) -> None:
    """Keep ``username``'s raw map of ``prompt_id`` (replacing their own earlier one), then prune their orphans."""
    owner = username or NO_USER
    conn.execute(
        "INSERT INTO prompt_raw (prompt_id, username, raw_json, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (prompt_id, username) "
        "DO UPDATE SET raw_json = excluded.raw_json, created_at = excluded.created_at",
        (prompt_id, owner, orjson.dumps(dict(raw)).decode(), now),
    )
    prune_orphans(conn, owner, now)


_OWN_JOB = (  # the map's prompt is a prompt of a job of the map's owner
    "EXISTS (SELECT 1 FROM job_prompts j WHERE j.prompt_id = r.prompt_id AND COALESCE(j.username, '') = r.username)"
)


def prune_orphans(conn: sqlite3.Connection, owner: str, now: float) -> int:
    """Drop ``owner``'s maps with no job of theirs that are old, or beyond the newest ``MAX_ORPHANS``."""
    rows = conn.execute(
        f"SELECT r.rowid, r.created_at FROM prompt_raw r WHERE r.username = ? AND NOT {_OWN_JOB} "
        "ORDER BY r.created_at DESC, r.rowid DESC",
        (owner,),
    ).fetchall()
    doomed = [rowid for n, (rowid, created) in enumerate(rows) if n >= MAX_ORPHANS or created < now - ORPHAN_SECONDS]
    conn.executemany("DELETE FROM prompt_raw WHERE rowid = ?", [(rowid,) for rowid in doomed])
    return len(doomed)


def read(conn: sqlite3.Connection, prompt_id: str | None, username: str | None) -> dict[str, str] | None:
    """``username``'s raw map of ``prompt_id``, if that prompt is one of their own jobs'."""
    if not prompt_id:
        return None
    row = conn.execute(
        f"SELECT r.raw_json FROM prompt_raw r WHERE r.prompt_id = ? AND r.username = ? AND {_OWN_JOB}",
        (prompt_id, username or NO_USER),
    ).fetchone()
    if row is None:
        return None
    value = orjson.loads(row[0])
    return value if isinstance(value, dict) else None
