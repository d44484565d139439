"""Job records in SQLite: insert, state, lookups, listings, export, statistics and requeue claims."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import BadRequest
from .model import CANCELLED, COMPLETED, FAILED, FINISHED, INTERRUPTED, MAX_EXPORT, MAX_LIMIT, PENDING, Job

# -- storage ------------------------------------------------------------------------------------
_LIST_COLUMNS = (
    "id, prompt_id, workflow, username, session_id, status, values_json, params_json, node, step, "
    "total_steps, images_json, error, created_at, started_at, finished_at, model, reproduced_from, requeued, "
    "prompt_ids_json, outputs_json, backend, pinned"
)


def insert(conn: sqlite3.Connection, job: Job) -> bool:
    """Record a new job; False when its id (or prompt id) is taken already."""
    cursor = conn.execute(
        "INSERT INTO jobs (id, prompt_id, workflow, username, session_id, status, values_json, params_json, "
        "graph_json, node, step, total_steps, images_json, error, created_at, started_at, finished_at, model, "
        "reproduced_from, requeued, prompt_ids_json, outputs_json, backend, pinned) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (
            job.id,
            job.prompt_id,
            job.workflow,
            job.username,
            job.session_id,
            job.status,
            _dumps(job.values),
            _dumps(job.params),
            _dumps(job.graph or {}),
            job.node,
            job.step,
            job.total_steps,
            _dumps(job.images),
            job.error,
            job.created_at,
            job.started_at,
            job.finished_at,
            job.model,
            job.reproduced_from,
            int(job.requeued),
            _dumps(job.prompt_ids if len(job.prompt_ids) > 1 else []),
            _dumps(job.outputs),
            job.backend,
            int(job.pinned),
        ),
    )
    if cursor.rowcount != 1:
        return False
    _keep_graphs(conn, job.id, job.more_graphs)
    if job.backends:
        set_backends(conn, job.id, job.backends)
    return True


# -- jobs on other backends (core/backends/dispatch.py) ------------------------------------------------------
def set_backends(conn: sqlite3.Connection, job_id: str, backends: Mapping[str, str]) -> None:
    """Where each prompt of a job was sent (prompt id -> backend id); a prompt sent is no longer held."""
    conn.executemany(
        "UPDATE job_prompts SET backend = ?, held = 0 WHERE prompt_id = ? AND job_id = ?",
        [(backend, prompt_id, job_id) for prompt_id, backend in backends.items()],
    )


def hold(conn: sqlite3.Connection, job_id: str, prompt_ids: Iterable[str]) -> None:
    """Prompts of a job CozyGen holds (every backend able to run them is full): sent nowhere yet."""
    conn.executemany(
        "UPDATE job_prompts SET held = 1 WHERE prompt_id = ? AND job_id = ?", [(p, job_id) for p in prompt_ids]
    )


def move_prompt(conn: sqlite3.Connection, job_id: str, prompt_id: str, backend: str) -> None:
    """A prompt sent to another backend (its own went down before it started, or it was held); the job's
    backend follows its first prompt."""
    set_backends(conn, job_id, {prompt_id: backend})
    conn.execute("UPDATE jobs SET backend = ? WHERE id = ? AND prompt_id = ?", (backend, job_id, prompt_id))


def remote_unfinished(conn: sqlite3.Connection) -> list[tuple[Job, dict[str, str], set[str]]]:
    """Jobs left pending or running on other backends or held (with their graphs), oldest first: each prompt's
    backend, and the prompts held."""
    rows = conn.execute(
        f"SELECT {_LIST_COLUMNS}, graph_json FROM jobs WHERE backend IS NOT NULL AND status IN ('pending', 'running') "
        "ORDER BY created_at, id"
    ).fetchall()
    found = []
    for row in rows:
        job = _with_more_graphs(conn, from_row(row))
        placed = conn.execute("SELECT prompt_id, backend, held FROM job_prompts WHERE job_id = ?", (job.id,)).fetchall()
        found.append((job, {p: b for p, b, held in placed if b and not held}, {p for p, _, held in placed if held}))
    return found


def _keep_graphs(conn: sqlite3.Connection, job_id: str, graphs: Mapping[str, Any]) -> None:
    """Store the graphs of a job's prompts after the first (their job_prompts rows come from a trigger)."""
    conn.executemany(
        "UPDATE job_prompts SET graph_json = ? WHERE prompt_id = ? AND job_id = ?",
        [(_dumps(graph), prompt_id, job_id) for prompt_id, graph in graphs.items()],
    )


def save_state(conn: sqlite3.Connection, job: Job) -> None:
    """Write what execution changes: status, node, steps, images, error, timings."""
    conn.execute(
        "UPDATE jobs SET status = ?, node = ?, step = ?, total_steps = ?, images_json = ?, error = ?, "
        "started_at = ?, finished_at = ? WHERE id = ?",
        (
            job.status,
            job.node,
            job.step,
            job.total_steps,
            _dumps(job.images),
            job.error,
            job.started_at,
            job.finished_at,
            job.id,
        ),
    )


def get(conn: sqlite3.Connection, job_id: str, *, with_graph: bool = False) -> Job | None:
    columns = _LIST_COLUMNS + (", graph_json" if with_graph else "")
    row = conn.execute(f"SELECT {columns} FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        return None
    job = from_row(row)
    return _with_more_graphs(conn, job) if with_graph else job


def _with_more_graphs(conn: sqlite3.Connection, job: Job) -> Job:
    """``job`` with the graphs of its prompts after the first (a job of several)."""
    if len(job.prompt_ids) > 1:
        found = conn.execute(
            "SELECT prompt_id, graph_json FROM job_prompts WHERE job_id = ? AND graph_json IS NOT NULL", (job.id,)
        )
        graphs = {prompt_id: _loads(text, {}) for prompt_id, text in found}
        job.more_graphs = {p: graphs[p] for p in job.prompt_ids[1:] if p in graphs}
    return job


def set_owner(conn: sqlite3.Connection, prompt_id: str, username: str) -> None:
    """Give the job of ``prompt_id`` (recorded with no owner: queued straight into ComfyUI) to ``username``."""
    conn.execute("UPDATE jobs SET username = ? WHERE prompt_id = ? AND username IS NULL", (username, prompt_id))
    conn.execute("UPDATE job_prompts SET username = ? WHERE prompt_id = ? AND username IS NULL", (username, prompt_id))


def prompts_of(conn: sqlite3.Connection, username: str) -> set[str]:
    """Every prompt id of ``username``'s jobs."""
    return {row[0] for row in conn.execute("SELECT prompt_id FROM job_prompts WHERE username = ?", (username,))}


def prompt_exists(conn: sqlite3.Connection, prompt_id: str) -> bool:
    """Whether any job has a prompt by this id."""
    return conn.execute("SELECT 1 FROM job_prompts WHERE prompt_id = ?", (prompt_id,)).fetchone() is not None


def owns_prompt(conn: sqlite3.Connection, username: str, prompt_id: str | None) -> bool:
    """Whether ``prompt_id`` is one of the prompts of ``username``'s jobs."""
    if not prompt_id:
        return False
    found = conn.execute("SELECT 1 FROM job_prompts WHERE prompt_id = ? AND username = ?", (prompt_id, username))
    return found.fetchone() is not None


@dataclass(frozen=True)
class Filters:
    """What a history listing (or export) is narrowed to; None means no narrowing."""

    username: str | None = None
    status: str | None = None
    session_id: str | None = None
    workflow: str | None = None
    model: str | None = None
    since: float | None = None  # created_at >= since
    until: float | None = None  # created_at < until
    text: str | None = None  # a substring of the resolved parameters


def _where(filters: Filters) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    for column, value in (
        ("username", filters.username),
        ("status", filters.status),
        ("session_id", filters.session_id),
        ("workflow", filters.workflow),
        ("model", filters.model),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if filters.since is not None:
        where.append("created_at >= ?")
        args.append(filters.since)
    if filters.until is not None:
        where.append("created_at < ?")
        args.append(filters.until)
    if filters.text:
        where.append("params_json LIKE ? ESCAPE '\\'")
        args.append(containing(filters.text))
    return where, args


def list_jobs(
    conn: sqlite3.Connection,
    *,
    username: str | None = None,
    status: str | None = None,
    session_id: str | None = None,
    before: str | None = None,
    limit: int = 50,
    filters: Filters | None = None,
) -> list[Job]:
    """Newest first; ``username`` None lists everyone's; ``before`` is the id of the last job already seen."""
    filters = filters or Filters()
    filters = dataclasses.replace(
        filters,
        username=username if username is not None else filters.username,
        status=status if status is not None else filters.status,
        session_id=session_id if session_id is not None else filters.session_id,
    )
    where, args = _where(filters)
    if before is not None:
        anchor = conn.execute("SELECT created_at, id FROM jobs WHERE id = ?", (before,)).fetchone()
        if anchor is None:
            raise BadRequest(f"before must be the id of a listed job; {before!r} is unknown", code="INVALID_CURSOR")
        where.append("(created_at < ? OR (created_at = ? AND id < ?))")
        args.extend([anchor["created_at"], anchor["created_at"], anchor["id"]])
    sql = f"SELECT {_LIST_COLUMNS} FROM jobs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
    args.append(max(1, min(MAX_LIMIT, limit)))
    return [from_row(row) for row in conn.execute(sql, args)]


def export_jobs(conn: sqlite3.Connection, filters: Filters, *, limit: int = MAX_EXPORT) -> list[Job]:
    """Every job the filters select, newest first (at most ``limit``)."""
    where, args = _where(filters)
    sql = f"SELECT {_LIST_COLUMNS} FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
    return [from_row(row) for row in conn.execute(sql, [*args, limit])]


def finished_since(conn: sqlite3.Connection, since: float, filters: Filters, *, limit: int = 50) -> list[Job]:
    """The jobs the filters select that finished at or after ``since``, oldest first (the latest ``limit``)."""
    where, args = _where(filters)
    where.append("finished_at >= ?")
    sql = f"SELECT {_LIST_COLUMNS} FROM jobs WHERE " + " AND ".join(where) + " ORDER BY finished_at DESC LIMIT ?"
    return [from_row(row) for row in reversed(conn.execute(sql, [*args, since, limit]).fetchall())]


EXPORT_COLUMNS = ("id", "created_at", "finished_at", "status", "workflow", "model", "seed", "prompt", "images")


def prompt_text(params: Mapping[str, Any]) -> str | None:
    """The prompt of a job: its ``prompt`` parameter, else the first text parameter whose name says prompt."""
    value = params.get("prompt")
    if isinstance(value, str):
        return value
    for name, value in params.items():
        if isinstance(value, str) and "prompt" in name.lower() and "negative" not in name.lower():
            return value
    return None


def export_row(job: Job) -> dict[str, Any]:
    """One job as an export row (the columns of :data:`EXPORT_COLUMNS`)."""
    seed = job.params.get("seed")
    return {
        "id": job.id,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "status": job.status,
        "workflow": job.workflow,
        "model": job.model,
        "seed": seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        "prompt": prompt_text(job.params),
        "images": ["/".join(p for p in (i.get("subfolder"), i.get("filename")) if p) for i in job.images],
    }


def delete(conn: sqlite3.Connection, job_id: str) -> bool:
    """Remove a finished job's record (its images stay where ComfyUI saved them)."""
    placeholders = ", ".join("?" for _ in FINISHED)
    sql = f"DELETE FROM jobs WHERE id = ? AND status IN ({placeholders})"
    return conn.execute(sql, (job_id, *sorted(FINISHED))).rowcount == 1


def forget_unqueued(conn: sqlite3.Connection, job: Job) -> bool:
    """Remove the record of a job that was never queued (ComfyUI refused it): only that submission's, known by
    its fresh prompt id, and only while it is still pending."""
    sql = "DELETE FROM jobs WHERE id = ? AND prompt_id = ? AND status = ?"
    return conn.execute(sql, (job.id, job.prompt_id, PENDING)).rowcount == 1


RECENT_SECONDS = 24 * 3600
ESTIMATE_RUNS = 3  # a time estimate needs at least this many completed runs: one run says little


def stats(conn: sqlite3.Connection, now: float, *, window: float = RECENT_SECONDS) -> dict[str, Any]:
    """Counts over the jobs of the last ``window`` seconds: finished ones by status, jobs per workflow and
    per model, average run time (started to finished, completed jobs) and the failure rate; and the time
    estimates, overall and per workflow, only from at least ``ESTIMATE_RUNS`` completed runs (else None/absent)."""
    since = now - window
    recent = {COMPLETED: 0, FAILED: 0, CANCELLED: 0, INTERRUPTED: 0}
    for row in conn.execute("SELECT status, COUNT(*) AS n FROM jobs WHERE finished_at >= ? GROUP BY status", (since,)):
        recent[row["status"]] = row["n"]
    by_workflow = {
        row["name"] or "": row["n"]
        for row in conn.execute(
            "SELECT workflow AS name, COUNT(*) AS n FROM jobs WHERE created_at >= ? GROUP BY workflow", (since,)
        )
    }
    by_model = {
        row["name"] or "": row["n"]
        for row in conn.execute(
            "SELECT model AS name, COUNT(*) AS n FROM jobs WHERE created_at >= ? GROUP BY model", (since,)
        )
    }
    row = conn.execute(
        "SELECT AVG(finished_at - started_at) AS s, COUNT(*) AS n FROM jobs WHERE status = 'completed' "
        "AND finished_at >= ? AND started_at IS NOT NULL",
        (since,),
    ).fetchone()
    estimates = {
        r["name"]: round(r["s"], 3)
        for r in conn.execute(
            "SELECT workflow AS name, AVG(finished_at - started_at) AS s FROM jobs WHERE status = 'completed' "
            "AND finished_at >= ? AND started_at IS NOT NULL AND workflow IS NOT NULL GROUP BY workflow "
            "HAVING COUNT(*) >= ?",
            (since, ESTIMATE_RUNS),
        )
    }
    ended = recent[COMPLETED] + recent[FAILED]
    return {
        "recent": recent,
        "by_workflow": by_workflow,
        "by_model": by_model,
        "average_seconds": round(row["s"], 3) if row["s"] is not None else None,
        "estimate_seconds": round(row["s"], 3) if row["s"] is not None and row["n"] >= ESTIMATE_RUNS else None,
        "estimate_by_workflow": estimates,
        "failure_rate": round(recent[FAILED] / ended, 4) if ended else 0.0,
    }


def status_counts(conn: sqlite3.Connection, *, since: float | None = None) -> dict[str, dict[str, int]]:
    """How many jobs per model and status (``""`` for no model): all of them, or those created ``since``."""
    where, args = ("WHERE created_at >= ?", (since,)) if since is not None else ("", ())
    counts: dict[str, dict[str, int]] = {}
    for row in conn.execute(f"SELECT model, status, COUNT(*) AS n FROM jobs {where} GROUP BY model, status", args):
        counts.setdefault(row["model"] or "", {})[row["status"]] = row["n"]
    return counts


def lost_candidates(conn: sqlite3.Connection) -> list[Job]:
    """Jobs that may have been lost by ComfyUI: recorded pending or running, or marked interrupted at a
    start, never re-queued before, with a graph to queue again (every prompt's, for a job of several).
    The caller checks ComfyUI's queue."""
    rows = conn.execute(
        f"SELECT {_LIST_COLUMNS}, graph_json FROM jobs WHERE requeued = 0 AND graph_json != '{{}}' "
        "AND (status IN ('pending', 'running') OR (status = 'interrupted' AND orphaned = 1)) "
        "AND backend IS NULL ORDER BY created_at, id"
    )
    return [_with_more_graphs(conn, from_row(row)) for row in rows.fetchall()]


def claim_requeue(conn: sqlite3.Connection, job: Job, prompt_ids: list[str], now: float) -> Job | None:
    """Mark ``job`` re-queued under new prompt ids, one for each of its prompts (once: None when another
    reset claimed it first, or it ended since it was found lost). A job of several runs every image again."""
    several = len(job.prompt_ids) > 1
    changed = conn.execute(
        "UPDATE jobs SET prompt_id = ?, prompt_ids_json = ?, status = 'pending', requeued = 1, node = NULL, "
        "step = 0, total_steps = 0, images_json = '[]', error = NULL, started_at = NULL, finished_at = NULL "
        "WHERE id = ? AND prompt_id = ? AND requeued = 0 "
        "AND (status IN ('pending', 'running') OR (status = 'interrupted' AND orphaned = 1))",  # not ended meanwhile
        (prompt_ids[0], _dumps(prompt_ids if several else []), job.id, job.prompt_id),
    ).rowcount
    if changed != 1:
        return None
    graphs = dict(zip(prompt_ids[1:], (job.more_graphs.get(p, {}) for p in job.prompt_ids[1:]), strict=True))
    _keep_graphs(conn, job.id, graphs)
    return dataclasses.replace(
        job, prompt_id=prompt_ids[0], prompt_ids=list(prompt_ids) if several else [], more_graphs=graphs,
        status=PENDING, requeued=True, node=None, step=0, total_steps=0, images=[], error=None, started_at=None,
        finished_at=None,
    )  # fmt: skip


def interrupt_unfinished(conn: sqlite3.Connection, now: float) -> int:
    """At start: jobs left pending or running by a previous run are no longer on ComfyUI's queue."""
    return conn.execute(
        "UPDATE jobs SET status = 'interrupted', finished_at = ?, orphaned = 1, "
        "error = COALESCE(error, 'ComfyUI stopped before this job finished') "
        "WHERE status IN ('pending', 'running') AND backend IS NULL",  # jobs on other backends are re-attached
        (now,),
    ).rowcount


def interrupt_remote(conn: sqlite3.Connection, now: float) -> int:
    """At start, when the backends could not start: jobs left on other backends cannot be followed."""
    return conn.execute(
        "UPDATE jobs SET status = 'interrupted', finished_at = ?, "
        "error = COALESCE(error, 'CozyGen could not reach its backends after a restart') "
        "WHERE status IN ('pending', 'running') AND backend IS NOT NULL",
        (now,),
    ).rowcount


# -- images that moved -------------------------------------------------------------------------
Place = tuple[str, str]  # (subfolder, filename)


def move_images(
    conn: sqlite3.Connection, root: str, moved: Mapping[Place, Place], prompt_ids: Iterable[str], *, by_name: bool
) -> int:
    """Point jobs' images at the new places of moved files of ``root`` (``moved``: old place -> new place).

    The jobs are those of ``prompt_ids`` (the moved outputs' own prompts) and, with ``by_name``, any job naming
    one of the moved file names (outputs whose prompt is not known). Returns how many jobs changed."""
    found = conn.execute(
        "SELECT job_id FROM job_prompts WHERE prompt_id IN (SELECT value FROM json_each(?))",
        (_dumps(sorted(set(prompt_ids))),),
    )
    job_ids = {row[0] for row in found}
    if by_name:
        names = sorted({name for _, name in moved})
        found = conn.execute(
            "SELECT DISTINCT j.id FROM jobs j, json_each(j.images_json) e "
            "WHERE json_extract(e.value, '$.filename') IN (SELECT value FROM json_each(?))",
            (_dumps(names),),
        )
        job_ids |= {row[0] for row in found}

    def new_place(image: dict[str, Any]) -> Place | None:
        if (image.get("type") or "output") != root:
            return None
        return moved.get((str(image.get("subfolder") or ""), str(image.get("filename"))))

    return _relink(conn, job_ids, new_place)


def move_image_folder(conn: sqlite3.Connection, root: str, old: str, new: str) -> int:
    """Point jobs' images inside folder ``old`` of ``root`` (at any depth) at the same place under ``new``."""
    fragment = _dumps(old)[1:-1]  # the folder as images_json spells it: a cheap filter before the exact test
    job_ids = {row[0] for row in conn.execute("SELECT id FROM jobs WHERE instr(images_json, ?) > 0", (fragment,))}

    def new_place(image: dict[str, Any]) -> Place | None:
        sub = str(image.get("subfolder") or "")
        if (image.get("type") or "output") != root or not (sub == old or sub.startswith(old + "/")):
            return None
        return new + sub[len(old) :], str(image.get("filename"))

    return _relink(conn, job_ids, new_place)


def _relink(conn: sqlite3.Connection, job_ids: Iterable[str], new_place: Any) -> int:
    changed = 0
    for job_id in sorted(job_ids):
        row = conn.execute("SELECT images_json FROM jobs WHERE id = ?", (job_id,)).fetchone()
        images = _loads(row[0], []) if row is not None else []
        touched = False
        for image in images:
            place = new_place(image) if isinstance(image, dict) else None
            if place is not None:
                image["subfolder"], image["filename"] = place
                touched = True
        if touched:
            conn.execute("UPDATE jobs SET images_json = ? WHERE id = ?", (_dumps(images), job_id))
            changed += 1
    return changed


def from_row(row: sqlite3.Row) -> Job:
    keys = row.keys()
    return Job(
        id=row["id"],
        prompt_id=row["prompt_id"],
        workflow=row["workflow"],
        username=row["username"],
        session_id=row["session_id"],
        status=row["status"],
        values=_loads(row["values_json"], {}),
        params=_loads(row["params_json"], {}),
        graph=_loads(row["graph_json"], None) if "graph_json" in keys else None,
        node=row["node"],
        step=row["step"],
        total_steps=row["total_steps"],
        images=_loads(row["images_json"], []),
        error=row["error"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        model=row["model"] if "model" in keys else None,
        reproduced_from=row["reproduced_from"] if "reproduced_from" in keys else None,
        requeued=bool(row["requeued"]) if "requeued" in keys else False,
        prompt_ids=_loads(row["prompt_ids_json"], []) if "prompt_ids_json" in keys else [],
        outputs=_loads(row["outputs_json"], []) if "outputs_json" in keys else [],
        backend=row["backend"] if "backend" in keys else None,
        pinned=bool(row["pinned"]) if "pinned" in keys else False,
    )


def containing(text: str) -> str:
    """A LIKE pattern (``ESCAPE '\\'``) for values that contain ``text`` as it is (its % and _ not wildcards)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # what orjson refuses (integers past 64 bits): the standard library writes it
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _loads(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            return json.loads(text)  # what orjson refuses to read back (integers past 64 bits)
        except ValueError:
            return default
