"""Jobs: what CozyGen queued on ComfyUI, followed through ComfyUI's own execution messages.

A job is one prompt on ComfyUI's queue. Its record holds who asked for it, the workflow and
values, the resolved parameters (seeds included) and the exact graph queued; ComfyUI's
messages then move it along::

    pending ──execution_start──▶ running ──execution_success──▶ completed
       │                           ├──────execution_error─────▶ failed (ComfyUI's message, the node)
       │                           └──execution_interrupted───▶ cancelled (asked for) / interrupted
       └──removed from the queue──▶ cancelled

:func:`apply_message` is that state machine, pure. :class:`JobTracker` keeps the jobs that are
not finished in memory (a dict behind a lock, fed from ComfyUI's executor thread): progress
stays there, and only state changes and images are written to the database, through the
single writer, in order. Every change is published on an :class:`~.events.EventHub` as
``job.<what>`` with the job as data. A job's end is told (its event, its status in
:meth:`JobTracker.live`) only once it is committed: what a client was told survives ComfyUI
being killed.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import math
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from .db import Database
from .errors import BadRequest
from .events import EventHub
from .workflow_fill import FieldErrors

log = logging.getLogger("cozygen")

PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, INTERRUPTED = (
    "pending",
    "running",
    "completed",
    "failed",
    "cancelled",
    "interrupted",
)
STATUSES = (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, INTERRUPTED)
ACTIVE = frozenset({PENDING, RUNNING})
FINISHED = frozenset({COMPLETED, FAILED, CANCELLED, INTERRUPTED})
FINAL_EVENTS = {
    COMPLETED: "job.completed",
    FAILED: "job.failed",
    CANCELLED: "job.cancelled",
    INTERRUPTED: "job.interrupted",
}
# The ComfyUI messages that concern a job; everything else is dropped before any lock is taken.
TRACKED_MESSAGES = frozenset(
    {"execution_start", "executing", "progress", "executed", "execution_success", "execution_error",
     "execution_interrupted"}
)  # fmt: skip
JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MAX_LIMIT = 200
MAX_EXPORT = 100_000
MAX_SESSION_ID = 128
MAX_IMAGES = 8  # num_images: at most this many prompts for one job
PROGRESS_INTERVAL = 0.1  # at most ~10 progress events a second per job
# ComfyUI's binary preview messages (its protocol.BinaryEventTypes): the image comes as
# ("JPEG" or "PNG", a PIL image, max size); the second kind adds a metadata dict with the prompt id.
UNENCODED_PREVIEW, PREVIEW_WITH_METADATA = 2, 4
PREVIEW_PATH = "/cozygen/api/jobs/{job_id}/preview"
ENDED_OWNERS_KEPT = 4096  # prompt owners remembered after their jobs end (or before they start)


def check_job_id(value: Any) -> str:
    """A client-chosen job id: a lowercase, hyphenated UUID (what newer ComfyUIs require of prompt ids)."""
    if not isinstance(value, str) or not JOB_ID.match(value):
        raise BadRequest(
            f"job_id must be a lowercase UUID such as 3f2b8c1e-6d4a-4e0b-9a57-1c2d3e4f5a6b, not {value!r}",
            code="INVALID_JOB_ID",
        )
    return value


def check_session_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SESSION_ID:
        raise BadRequest(
            f"session_id must be a non-empty text of at most {MAX_SESSION_ID} characters", code="INVALID_SESSION_ID"
        )
    return value.strip()


def check_status(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if value.strip() not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}, not {value!r}", code="INVALID_STATUS")
    return value.strip()


@dataclass
class Job:
    id: str
    prompt_id: str
    workflow: str | None
    username: str | None
    status: str = PENDING
    session_id: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    graph: dict[str, Any] | None = None
    node: str | None = None
    step: int = 0
    total_steps: int = 0
    images: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    model: str | None = None  # the checkpoint or model the graph loads (see :func:`graph_model`)
    reproduced_from: str | None = None  # the job whose graph this one ran again
    requeued: bool = False  # queued again by a queue reset (at most once)
    prompt_ids: list[str] = field(default_factory=list)  # every prompt of a job of several (one per image)
    more_graphs: dict[str, dict[str, Any]] = field(default_factory=dict)  # the graph of each prompt after the first
    prompts_done: int = 0  # kept in memory: how many of those prompts completed
    cancel_requested: bool = False  # kept in memory: decides cancelled or interrupted

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def all_prompts(self) -> list[str]:
        """The ComfyUI prompt ids of this job, in the order they were queued."""
        return list(self.prompt_ids) if len(self.prompt_ids) > 1 else [self.prompt_id]

    @property
    def percent(self) -> float:
        """How far along: the steps of the node reporting progress (across the prompts of a job of
        several); 100 once completed."""
        if self.status == COMPLETED:
            return 100.0
        current = min(1.0, self.step / self.total_steps) if self.total_steps > 0 else 0.0
        count = len(self.prompt_ids)
        if count > 1:
            return round(min(100.0, 100.0 * (self.prompts_done + current) / count), 1)
        return round(100.0 * current, 1)

    def copy(self) -> Job:
        return dataclasses.replace(self, images=[dict(i) for i in self.images], prompt_ids=list(self.prompt_ids))

    def to_dict(self, *, queue_position: int | None = None) -> dict[str, Any]:
        """The job as the API shows it (the graph stays out: it can be large)."""
        return {
            "id": self.id,
            "prompt_id": self.prompt_id,
            "prompt_ids": self.all_prompts,
            "status": self.status,
            "queue_position": queue_position if self.status == PENDING else None,
            "workflow": self.workflow,
            "username": self.username,
            "session_id": self.session_id,
            "node": self.node,
            "step": self.step,
            "total_steps": self.total_steps,
            "percent": self.percent,
            "images": [dict(i) for i in self.images],
            "error": self.error,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "params": self.params,
            "values": self.values,
            "model": self.model,
            "reproduced_from": self.reproduced_from,
            "requeued": self.requeued,
            "cancel_requested": self.cancel_requested,
        }


@dataclass(frozen=True)
class Change:
    """What a message did to a job: the event to publish, whether to write it, whether throttling may drop it."""

    event: str
    persist: bool = False
    urgent: bool = True


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _start(job: Job, now: float) -> Change:
    job.status, job.started_at = RUNNING, now
    return Change("job.started", persist=True)


def apply_message(job: Job, event: str, data: Mapping[str, Any], now: float) -> Change | None:
    """Apply one ComfyUI message to ``job`` (in place); None when it changes nothing worth telling."""
    if job.finished:
        return None
    if event == "execution_start":
        return _start(job, now) if job.status == PENDING else None
    if event == "executing":
        node = data.get("node")
        if node is None:  # ComfyUI's "prompt done" marker; the execution_* message says how it ended
            return None
        if job.status == PENDING:  # execution_start was missed
            job.node = str(node)
            return _start(job, now)
        if str(node) == job.node:
            return None
        job.node = str(node)
        return Change("job.progress", urgent=False)
    if event == "progress":
        value, maximum = _int(data.get("value")), _int(data.get("max"))
        if value is None or maximum is None:
            return None
        change = _start(job, now) if job.status == PENDING else None
        if data.get("node") is not None:
            job.node = str(data["node"])
        job.step, job.total_steps = value, maximum
        return change or Change("job.progress", urgent=value >= maximum)
    if event == "executed":
        output = data.get("output")
        images = output.get("images") if isinstance(output, Mapping) else None
        found = [
            {
                "filename": str(i["filename"]),
                "subfolder": str(i.get("subfolder") or ""),
                "type": str(i.get("type") or "output"),
            }
            for i in images or ()
            if isinstance(i, Mapping) and i.get("filename")
        ]
        if not found:
            return None
        job.images.extend(found)
        return Change("job.image", persist=True)
    if event == "execution_success":
        return finish(job, COMPLETED, now)
    if event == "execution_error":
        message = str(data.get("exception_message") or data.get("exception_type") or "the node failed").strip()
        node = data.get("node_id")
        job.node = str(node) if node is not None else job.node
        return finish(job, FAILED, now, error=message)
    if event == "execution_interrupted":
        return finish(job, CANCELLED if job.cancel_requested else INTERRUPTED, now)
    return None


def aggregate(job: Job, parts: list[Job], change: Change, now: float) -> Change | None:
    """Fold the prompts of a job of several (``parts``, in queue order; one of them just made ``change``)
    into ``job``: running while any runs, completed when all completed, failed as soon as one fails;
    images in prompt order, step and total steps those of the prompt running."""
    if job.finished:
        return None
    job.images = [dict(i) for part in parts for i in part.images]
    job.prompts_done = sum(part.status == COMPLETED for part in parts)
    current = next((part for part in parts if part.status == RUNNING), None)
    if current is not None:
        job.node, job.step, job.total_steps = current.node, current.step, current.total_steps
    statuses = {part.status for part in parts}
    failed = next((part for part in parts if part.status == FAILED), None)
    if failed is not None:
        job.node = failed.node
        return finish(job, FAILED, now, error=failed.error)
    if statuses <= FINISHED:
        if statuses == {COMPLETED}:
            job.step, job.total_steps = parts[-1].step, parts[-1].total_steps
            return finish(job, COMPLETED, now)
        return finish(job, CANCELLED if CANCELLED in statuses else INTERRUPTED, now)
    if current is None:
        job.step = 0  # between two prompts
    if job.status == PENDING and any(part.started_at is not None for part in parts):
        return _start(job, now)
    if change.event == "job.started" or change.event in FINAL_EVENTS.values():
        return Change("job.progress", persist=True)  # one prompt began or ended: the job goes on
    return change


def finish(job: Job, status: str, now: float, *, error: str | None = None) -> Change | None:
    if job.finished:
        return None
    job.status, job.finished_at = status, now
    if error is not None:
        job.error = error
    return Change(FINAL_EVENTS[status], persist=True)


# -- storage ------------------------------------------------------------------------------------
_LIST_COLUMNS = (
    "id, prompt_id, workflow, username, session_id, status, values_json, params_json, node, step, "
    "total_steps, images_json, error, created_at, started_at, finished_at, model, reproduced_from, requeued, "
    "prompt_ids_json"
)


def insert(conn: sqlite3.Connection, job: Job) -> bool:
    """Record a new job; False when its id (or prompt id) is taken already."""
    cursor = conn.execute(
        "INSERT INTO jobs (id, prompt_id, workflow, username, session_id, status, values_json, params_json, "
        "graph_json, node, step, total_steps, images_json, error, created_at, started_at, finished_at, model, "
        "reproduced_from, requeued, prompt_ids_json) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
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
        ),
    )
    if cursor.rowcount != 1:
        return False
    _keep_graphs(conn, job.id, job.more_graphs)
    return True


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


MODEL_INPUTS = ("ckpt_name", "unet_name", "model_name", "checkpoint_name", "checkpoint")
PROCEDURAL_MODEL = "procedural"  # the weights-free procedural node stands for a model of its own


def graph_model(graph: Mapping[str, Any] | None) -> str | None:
    """The checkpoint (or diffusion model) a graph loads: the first loader input naming one, in node order;
    a graph drawing with CozyGen's procedural node counts as model ``procedural``."""
    procedural = False
    nodes = graph.items() if isinstance(graph, Mapping) else ()
    for _, node in sorted(nodes, key=lambda item: (len(str(item[0])), str(item[0]))):
        if not isinstance(node, Mapping):
            continue
        inputs = node.get("inputs") if isinstance(node.get("inputs"), Mapping) else {}
        for name in MODEL_INPUTS:
            value = _linked_value(graph, inputs.get(name))
            if isinstance(value, str) and value.strip():
                return value.strip()
        procedural = procedural or "Procedural" in str(node.get("class_type") or "")
    return PROCEDURAL_MODEL if procedural else None


def _linked_value(graph: Mapping[str, Any], value: Any, depth: int = 4) -> Any:
    """An input's value, following a link (``[node_id, slot]``) to a node that holds it as ``value``, as
    CozyGen's choice nodes and most primitive nodes do."""
    while depth > 0 and isinstance(value, list) and len(value) == 2:
        source = graph.get(str(value[0]))
        inputs = source.get("inputs") if isinstance(source, Mapping) else None
        value = inputs.get("value") if isinstance(inputs, Mapping) else None
        depth -= 1
    return value


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
        escaped = filters.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append("params_json LIKE ? ESCAPE '\\'")
        args.append(f"%{escaped}%")
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


RECENT_SECONDS = 24 * 3600


def stats(conn: sqlite3.Connection, now: float, *, window: float = RECENT_SECONDS) -> dict[str, Any]:
    """Counts over the jobs of the last ``window`` seconds: finished ones by status, jobs per workflow and
    per model, average run time (started to finished, completed jobs) and the failure rate."""
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
        "SELECT AVG(finished_at - started_at) AS s FROM jobs WHERE status = 'completed' AND finished_at >= ? "
        "AND started_at IS NOT NULL",
        (since,),
    ).fetchone()
    ended = recent[COMPLETED] + recent[FAILED]
    return {
        "recent": recent,
        "by_workflow": by_workflow,
        "by_model": by_model,
        "average_seconds": round(row["s"], 3) if row["s"] is not None else None,
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
        "ORDER BY created_at, id"
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
        "WHERE status IN ('pending', 'running')",
        (now,),
    ).rowcount


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
    )


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


@dataclass(frozen=True)
class Preview:
    """The latest preview image ComfyUI sent for a running job (encoded only when someone asks)."""

    number: int
    format: str
    image: Any  # a PIL image
    max_size: int | None


def _remember(recent: collections.OrderedDict[str, Any], key: str, value: Any) -> None:
    """Keep ``key`` in a map of the latest ``ENDED_OWNERS_KEPT`` (the oldest go first)."""
    recent[key] = value
    while len(recent) > ENDED_OWNERS_KEPT:
        recent.popitem(last=False)


# -- the live jobs --------------------------------------------------------------------------------
class JobTracker:
    """The unfinished jobs, kept current from ComfyUI's messages (any thread may call in)."""

    def __init__(
        self,
        db: Database,
        hub: EventHub,
        *,
        clock: Callable[[], float] = time.time,
        progress_interval: float = PROGRESS_INTERVAL,
    ) -> None:
        self.db, self.hub, self.clock = db, hub, clock
        self.progress_interval = progress_interval
        self._lock = threading.RLock()
        self._by_prompt: dict[str, Job] = {}
        self._by_id: dict[str, Job] = {}
        self._progress_sent: dict[str, float] = {}
        self._parts: dict[str, Job] = {}  # prompt id → that prompt's own state, for jobs of several prompts
        self._previews: dict[str, Preview] = {}
        self._preview_sent: dict[str, float] = {}
        self._executing: str | None = None  # the prompt ComfyUI runs (its plain previews name none)
        # job id -> the job as it was before its end, shown until that end is committed (see _emit)
        self._ending: dict[str, Job] = {}
        # prompt id -> username of jobs that ended lately: their files reach the gallery after the job's end
        self._ended_owners: collections.OrderedDict[str, str | None] = collections.OrderedDict()
        self._posted_by: collections.OrderedDict[str, str] = collections.OrderedDict()  # see claim()
        # Told the prompts of a job of several that will not run because another of them failed (takes
        # them off ComfyUI's queue); called outside the lock.
        self.drop_prompts: Callable[[list[str]], None] | None = None

    # -- called from the routes -----------------------------------------------------------------
    def add(self, job: Job, *, queue_position: int | None = None) -> None:
        """Follow a job that was just recorded; call before it is queued so no message is missed."""
        with self._lock:
            self._by_prompt[job.prompt_id] = job
            self._by_id[job.id] = job
            if len(job.prompt_ids) > 1:
                for prompt_id in job.prompt_ids:
                    self._by_prompt[prompt_id] = job
                    self._parts[prompt_id] = Job(id=job.id, prompt_id=prompt_id, workflow=None, username=None)
            self.hub.publish("job.queued", job.to_dict(queue_position=queue_position))

    def follows(self, prompt_id: str) -> bool:
        with self._lock:
            return prompt_id in self._by_prompt

    def adopt(self, job: Job) -> bool:
        """Record and follow a prompt queued straight into ComfyUI (by its editor, another client);
        False when that prompt is followed already."""
        with self._lock:
            if job.prompt_id in self._by_prompt:
                return False
            if job.username is None:
                job.username = self._posted_by.pop(job.prompt_id, None)
            future = self.db.submit_write(lambda conn: insert(conn, job))  # written before any of its changes
            future.add_done_callback(lambda done: self._recorded(job, done))
            self.add(job)
            return True

    def claim(self, prompt_id: str, username: str) -> None:
        """Say whose a prompt queued straight into ComfyUI is (the signed-in user who posted it, known once
        ComfyUI has answered: it may have started, or even ended, by then)."""
        with self._lock:
            job = self._by_prompt.get(prompt_id)
            if job is not None and job.username is not None:
                return
            if job is not None:
                job.username = username
            else:  # not started yet (adopt takes it from here), or ended already (the record is updated)
                _remember(self._posted_by, prompt_id, username)
            if self._ended_owners.get(prompt_id, username) is None:
                self._ended_owners[prompt_id] = username
            self.db.submit_write(lambda conn: set_owner(conn, prompt_id, username))

    def live(self, job_id: str) -> Job | None:
        """A followed job as it stands; a job whose end is not yet committed still shows as it was before."""
        with self._lock:
            job = self._ending.get(job_id) or self._by_id.get(job_id)
            return job.copy() if job is not None else None

    def cancel_requested(self, prompt_id: str) -> bool:
        """Whether the live job this prompt belongs to was asked to stop (its prompt may be just starting)."""
        with self._lock:
            job = self._by_prompt.get(prompt_id)
            return job is not None and job.cancel_requested and not job.finished

    def owner_of(self, prompt_id: str) -> str | None:
        """Whose job ``prompt_id`` belongs to, for a job followed now or lately (None when unknown here)."""
        with self._lock:
            job = self._by_prompt.get(prompt_id)
            return job.username if job is not None else self._ended_owners.get(prompt_id)

    def preview(self, job_id: str) -> Preview | None:
        with self._lock:
            return self._previews.get(job_id)

    def live_ids(self) -> list[str]:
        with self._lock:
            return list(self._by_id)

    def request_cancel(self, job_id: str) -> Job | None:
        """Mark a running job so that its interruption counts as cancelled; None when it is not live."""
        with self._lock:
            job = self._by_id.get(job_id)
            if job is None or job.finished:
                return None
            job.cancel_requested = True
            for prompt_id in job.prompt_ids:
                part = self._parts.get(prompt_id)
                if part is not None:
                    part.cancel_requested = True
            return job.copy()

    def end_prompts(self, job_id: str, prompt_ids: list[str], status: str) -> Job | None:
        """Finish some prompts of a live job of several (taken off ComfyUI's queue, say); the job ends
        with them when nothing else of it is left."""
        with self._lock:
            job = self._by_id.get(job_id)
            if job is None:
                return None
            for prompt_id in prompt_ids:
                part = self._parts.get(prompt_id)
                change = finish(part, status, self.clock()) if part is not None else None
                if change is not None:
                    self._apply_part(job, change)
            return job.copy()

    def end(self, job_id: str, status: str, *, error: str | None = None) -> Job | None:
        """Finish a live job from outside ComfyUI's messages (removed from the queue, never queued)."""
        with self._lock:
            job = self._by_id.get(job_id)
            if job is None:
                return None
            change = finish(job, status, self.clock(), error=error)
            if change is not None:
                self._emit(job, change)
            return job.copy()

    # -- called from ComfyUI's threads ----------------------------------------------------------
    def on_message(self, event: Any, data: Any) -> None:
        """One message ComfyUI sends; cheap for the ones that concern no job of ours."""
        if event in (UNENCODED_PREVIEW, PREVIEW_WITH_METADATA):
            self._on_preview(event, data)
            return
        if event not in TRACKED_MESSAGES or not isinstance(data, Mapping):
            return
        prompt_id = data.get("prompt_id")
        if not isinstance(prompt_id, str):
            return
        if event in ("execution_start", "executing"):
            self._executing = prompt_id
        with self._lock:
            job = self._by_prompt.get(prompt_id)
            if job is None:
                return
            part = self._parts.get(prompt_id)
            change = apply_message(part if part is not None else job, event, data, self.clock())
            if change is not None and part is not None:
                self._apply_part(job, change)
            elif change is not None:
                self._emit(job, change)
            left = [p for p in job.prompt_ids if p in self._parts and not self._parts[p].finished]
            drop = left if part is not None and job.status == FAILED else []
            for prompt_id in drop:  # they will not run: the job failed
                finish(self._parts[prompt_id], CANCELLED, self.clock())
        if drop and self.drop_prompts is not None:
            self.drop_prompts(drop)

    def _on_preview(self, event: int, data: Any) -> None:
        """Keep a running job's latest preview and announce it (at most every ``progress_interval``)."""
        image, prompt_id = data, self._executing
        if event == PREVIEW_WITH_METADATA:
            if not (isinstance(data, tuple) and len(data) == 2 and isinstance(data[1], Mapping)):
                return
            image, prompt_id = data[0], data[1].get("prompt_id")
        if not (isinstance(image, tuple) and len(image) == 3 and isinstance(prompt_id, str)):
            return
        with self._lock:
            job = self._by_prompt.get(prompt_id)
            if job is None or job.finished:
                return
            previous = self._previews.get(job.id)
            number = previous.number + 1 if previous is not None else 1
            max_size = image[2] if isinstance(image[2], int) and image[2] > 0 else None
            self._previews[job.id] = Preview(number, str(image[0]), image[1], max_size)
            now = time.monotonic()
            if now - self._preview_sent.get(job.id, -math.inf) < self.progress_interval:
                return
            self._preview_sent[job.id] = now
            self.hub.publish(
                "job.preview",
                {"id": job.id, "session_id": job.session_id, "username": job.username, "preview": number,
                 "url": PREVIEW_PATH.format(job_id=job.id) + f"?n={number}", "step": job.step,
                 "total_steps": job.total_steps, "percent": job.percent},
            )  # fmt: skip

    def _apply_part(self, job: Job, change: Change) -> None:
        parts = [self._parts[p] for p in job.prompt_ids if p in self._parts]
        folded = aggregate(job, parts, change, self.clock())
        if folded is not None:
            self._emit(job, folded)

    def _emit(self, job: Job, change: Change) -> None:
        """Publish (and write, when it matters) one change; the caller holds the lock, which keeps the order."""
        now = time.monotonic()
        if change.event == "job.progress":
            if not change.urgent and now - self._progress_sent.get(job.id, -math.inf) < self.progress_interval:
                return
            self._progress_sent[job.id] = now
        snapshot = job.copy()
        if snapshot.finished:  # previews are for watching a job run
            self._previews.pop(job.id, None)
            self._preview_sent.pop(job.id, None)
        if not change.persist:
            self.hub.publish(change.event, snapshot.to_dict())
            return
        if snapshot.finished:  # told once committed (_written): until then it shows as it was
            self._ending[job.id] = dataclasses.replace(
                snapshot, status=RUNNING if snapshot.started_at is not None else PENDING, finished_at=None, error=None
            )
        else:
            self.hub.publish(change.event, snapshot.to_dict())
        future = self.db.submit_write(lambda conn: save_state(conn, snapshot))
        future.add_done_callback(lambda done: self._written(snapshot, done, change.event))

    def _recorded(self, job: Job, done: Any) -> None:
        if done.exception() is not None:
            log.error("CozyGen: the job of prompt %s could not be recorded: %s", job.prompt_id, done.exception())

    def _written(self, snapshot: Job, done: Any, event: str) -> None:
        error = done.exception()
        if error is not None:
            log.error("CozyGen: job %s could not be saved: %s", snapshot.id, error)
        if snapshot.finished:  # the record is final now: say so, and reads go to the database
            with self._lock:
                self._ending.pop(snapshot.id, None)
                self.hub.publish(event, snapshot.to_dict())
                job = self._by_id.get(snapshot.id)
                if job is not None and job.finished:
                    del self._by_id[snapshot.id]
                    for prompt_id in {job.prompt_id, *job.prompt_ids}:
                        self._by_prompt.pop(prompt_id, None)
                        _remember(self._ended_owners, prompt_id, job.username)
                        self._parts.pop(prompt_id, None)
                    self._progress_sent.pop(snapshot.id, None)


# -- ComfyUI's validation, in CozyGen's terms -----------------------------------------------------
def validation_error(error: Any, node_errors: Any, schema: Any) -> BadRequest:
    """ComfyUI refused the graph: its node errors become field errors where a form field feeds that
    node input (400 ``INVALID_VALUES`` with ``fields``), else per-node messages (400 ``NODE_ERRORS``
    with ``nodes``: id → {class_type, errors}); with no node named, ``INVALID_PROMPT``."""
    targets: dict[tuple[str, str], str] = {}
    for param in schema or ():
        for node_id, input_name in getattr(param, "targets", ()):
            targets.setdefault((str(node_id), str(input_name)), param.name)
    fields: dict[str, str] = {}
    nodes: dict[str, dict[str, Any]] = {}
    for node_id, entry in (node_errors or {}).items() if isinstance(node_errors, Mapping) else ():
        entry = entry if isinstance(entry, Mapping) else {}
        for problem in entry.get("errors") or ():
            problem = problem if isinstance(problem, Mapping) else {"message": str(problem)}
            text = _problem_text(problem)
            extra = problem.get("extra_info") if isinstance(problem.get("extra_info"), Mapping) else {}
            name = targets.get((str(node_id), str(extra.get("input_name"))))
            if name is not None:
                fields.setdefault(name, text)
                continue
            node = nodes.setdefault(str(node_id), {"class_type": entry.get("class_type"), "errors": []})
            node["errors"].append(text)
    if fields and not nodes:
        return FieldErrors(fields)
    if nodes:
        shown = "; ".join(
            f"node {node_id} ({n['class_type']}): {', '.join(n['errors'])}" for node_id, n in nodes.items()
        )
        return BadRequest(
            f"ComfyUI refused the workflow: {shown}", code="NODE_ERRORS", extra={"nodes": nodes, "fields": fields}
        )
    message = _problem_text(error) if isinstance(error, Mapping) else str(error or "the workflow is not valid")
    return BadRequest(f"ComfyUI refused the workflow: {message}", code="INVALID_PROMPT")


def _problem_text(problem: Mapping[str, Any]) -> str:
    message = str(problem.get("message") or problem.get("type") or "invalid").strip()
    details = str(problem.get("details") or "").strip()
    return f"{message}: {details}" if details and details not in message else message
