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

import dataclasses
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest

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
LOCAL_BACKEND = "local"  # core/backends/model.py's LOCAL_ID: a job's backend when it has none recorded
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
    outputs: list[str] = field(default_factory=list)  # the nodes whose images are its results (App mode); [] all
    backend: str | None = None  # the backend its (first) prompt was sent to; None: this ComfyUI, the usual way
    backend_name: str | None = None  # kept in memory: that backend's name when it was routed
    backends: dict[str, str] = field(default_factory=dict)  # prompt id -> backend, for a routed job
    pinned: bool = False  # routed to a backend it was pinned to (request or workflow): it never moves
    held: bool = False  # kept in memory: its (first) prompt waits in CozyGen for any backend with room
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

    @property
    def node_title(self) -> str | None:
        """What the running node is called: its title in the graph (``_meta.title``: ComfyUI's export writes the
        node's title, its display name unless renamed), else its class; None when no node runs."""
        if self.node is None:
            return None
        node = self.graph.get(self.node) if isinstance(self.graph, dict) else None
        if not isinstance(node, dict):
            return None
        meta = node.get("_meta")
        title = meta.get("title") if isinstance(meta, dict) else None
        if isinstance(title, str) and title.strip():
            return title.strip()[:120]
        class_type = node.get("class_type")
        return class_type if isinstance(class_type, str) and class_type else None

    def copy(self) -> Job:
        return dataclasses.replace(
            self, images=[dict(i) for i in self.images], prompt_ids=list(self.prompt_ids), outputs=list(self.outputs),
            backends=dict(self.backends),
        )  # fmt: skip

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
            "node_title": self.node_title,
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
            "backend": None  # held for whichever backend has room first: none yet
            if self.held
            else {
                "id": self.backend or LOCAL_BACKEND,
                "name": self.backend_name or self.backend or LOCAL_BACKEND,
            },
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
        if job.outputs and str(data.get("node")) not in job.outputs:  # an output App mode did not choose
            return None
        output = data.get("output")
        # CozyGen Video Output names its file under "videos" ("gifs"), as ComfyUI's own video nodes did
        lists = [output.get(key) for key in ("images", "videos", "gifs")] if isinstance(output, Mapping) else []
        images = [item for listed in lists if isinstance(listed, list) for item in listed]
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
        reason = next((part.error for part in parts if part.error), None)  # a part lost with its backend, say
        return finish(job, CANCELLED if CANCELLED in statuses else INTERRUPTED, now, error=reason)
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
