"""Spoon Feeder's tasks over CozyGen's jobs: list, create, get, delete, retry and the finished tasks' history.

A task is a job: its id is the job id, its provider ``comfyui``, its type ``image``, its status ``pending``,
``running``, ``complete`` or ``failed`` (cancelled and interrupted jobs count as failed, with the reason). The
name a task was created with, and how often it was retried, live beside the jobs (the ``documents`` table); a
job made elsewhere is named after its workflow. Creating one runs a generation as a session's ``generate``
does (:mod:`.sessions`): ``prompt`` is its prompt, ``options`` its ``workflow_id``, ``negative_prompt``,
``parameters`` (or the same fields at the top of ``options``) and ``profile_id``, the backend (a ComfyUI profile) it
must run on; a task's ``profile_id`` says where it ran. Retrying a failed task queues the graph it ran
once more as a new task (CozyGen's records of a finished job stay as they ended), named as it was.

Other providers' tasks (Ollama, OpenAI, ...) are the prompt assistant's: none run here, and filtering by
another provider or type lists none. Lists take ``limit`` with ``page`` (the real client) or ``offset`` (the
seed's document), and answer ``pagination`` beside ``data``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ....core.errors import BadRequest, Conflict, NotFound
from ....core.graph.fill import FieldErrors
from ....core.jobs import groups
from ....core.jobs.model import (
    CANCELLED,
    COMPLETED,
    FAILED,
    FINISHED,
    INTERRUPTED,
    LOCAL_BACKEND,
    MAX_LIMIT,
    PENDING,
    RUNNING,
    Job,
)
from ....core.jobs.pages import JobPage, jobs
from ....core.store import documents
from ...jobs import caller
from ...params import integer, timestamp
from ...responses import json_response, read_json
from ...state import CozyGenState
from ..common import renamed
from .sessions import SessionRoutes, check_generate
from .shapes import PARAMETERS, done, iso, ok, seed_parameters, task_row

TASK_META = "spoonfeeder_tasks"
PROVIDER, TYPE = "comfyui", "image"
TYPES = ("text", "image", "video", "audio")
STATUSES: dict[str, tuple[str, ...]] = {
    "pending": (PENDING,),
    "running": (RUNNING,),
    "complete": (COMPLETED,),
    "completed": (COMPLETED,),
    "failed": (FAILED, CANCELLED, INTERRUPTED),
}
RETRYABLE = frozenset(STATUSES["failed"])
OPTION_FIELDS = (*PARAMETERS, "batch_size")


def task(job: Job, meta: dict[str, Any]) -> dict[str, Any]:
    """A job as a Spoon Feeder task (the seed's fields, the export's, and what the real client reads)."""
    row = task_row(job)
    options = {k: v for k, v in seed_parameters(job).items() if v is not None}
    return {
        **row,
        "name": meta.get("name") or row["name"],
        "options": {"workflow_id": job.workflow, **options},
        "profile_id": job.backend or LOCAL_BACKEND,
        "progress": job.percent,
        "retryCount": meta.get("retries", 0),
        "retried_from": meta.get("retried_from"),
        "updated_at": iso(job.finished_at or job.started_at or job.created_at),
    }


def paged(request: web.Request) -> tuple[int, int, int]:
    """(page, limit, offset): ``limit`` 20 unless told (1 to 200); ``offset`` when given, else ``page``."""
    limit = integer(request, "limit", 20, floor=1, ceiling=MAX_LIMIT, code="BAD_PAGING")
    offset = integer(request, "offset", None, low=0, code="BAD_PAGING")
    if offset is None:
        page = integer(request, "page", 1, floor=1, high=1_000_000, code="BAD_PAGING")
        return page, limit, (page - 1) * limit
    return offset // limit + 1, limit, offset


def pagination(page: int, limit: int, total: int) -> dict[str, int]:
    return {"page": page, "limit": limit, "total": total, "totalPages": -(-total // limit)}


def selected(request: web.Request, among: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The statuses of ``?status=`` (within ``among``; None: any), or () when the provider or type chosen has no
    tasks here."""
    query = request.query
    provider, kind = (query.get("provider") or "").strip(), (query.get("type") or "").strip()
    if kind and kind not in TYPES:
        raise BadRequest(f"type must be one of {', '.join(TYPES)}, not {kind!r}", code="INVALID_TYPE")
    status = (query.get("status") or "").strip()
    if status and status not in STATUSES:
        raise BadRequest(
            f"status must be one of pending, running, complete, failed, not {status!r}", code="INVALID_STATUS"
        )
    if (provider and provider != PROVIDER) or (kind and kind != TYPE):
        return ()
    chosen = STATUSES[status] if status else among
    return tuple(s for s in chosen if among is None or s in among) if chosen is not None else None


def check_task(body: dict[str, Any]) -> tuple[str, dict[str, Any], tuple[str, str | None, dict[str, Any], int]]:
    """The name, the options and the generation of a create request, or FieldErrors."""
    errors: dict[str, str] = {}
    name = ""
    try:
        name = groups.check_name(body.get("name"))
    except BadRequest:
        errors["name"] = f"required: a non-empty text of at most {groups.MAX_NAME} characters"
    if body.get("type") != TYPE:
        errors["type"] = "image: CozyGen runs image tasks on ComfyUI (text tasks are the prompt assistant's)"
    if body.get("provider") != PROVIDER:
        errors["provider"] = "comfyui: the one provider whose tasks run here"
    options = body.get("options")
    if options is None:
        options = {}
    elif not isinstance(options, dict):
        errors["options"] = "an object: workflow_id, negative_prompt, parameters (width, height, steps, seed, ...)"
        options = {}
    parameters = options.get("parameters")
    if parameters is None:
        parameters = {k: options[k] for k in OPTION_FIELDS if k in options}
    generate: tuple[str, str | None, dict[str, Any], int] = ("", None, {}, 1)
    try:
        request = {"prompt_text": body.get("prompt"), "negative_prompt": options.get("negative_prompt")}
        generate = check_generate({**request, "parameters": parameters})
    except FieldErrors as exc:
        errors.update(renamed(exc, {"prompt_text": "prompt", "negative_prompt": "options.negative_prompt"}).errors)
    if errors:
        raise FieldErrors(errors)
    return name, options, generate


class TaskRoutes:
    """Tasks: CozyGen's jobs in Spoon Feeder's shape."""

    def __init__(self, state: CozyGenState, sessions: SessionRoutes) -> None:
        self.state, self.sessions = state, sessions

    async def metas(self) -> dict[str, dict[str, Any]]:
        return await self.state.db.execute_fn(lambda conn: documents.read(conn, TASK_META, {}))

    async def save_meta(self, job_id: str, changes: dict[str, Any] | None) -> dict[str, Any]:
        return await self.state.db.execute_write_fn(
            lambda conn: documents.update_entry(conn, TASK_META, job_id, changes)
        )

    async def visible_job(self, request: web.Request) -> Job:
        task_id = request.match_info["task_id"]
        try:
            return await self.state.job_service.visible(caller(request, self.state), task_id)
        except NotFound:
            raise NotFound(f"Task {task_id} not found", code="TASK_NOT_FOUND") from None

    async def listed(self, request: web.Request, among: tuple[str, ...] | None, *, history: bool) -> web.Response:
        asking = caller(request, self.state)
        page, limit, offset = paged(request)
        statuses = selected(request, among)
        chosen = JobPage(
            username=None if asking.sees_all else asking.username,
            statuses=statuses,
            since=timestamp(request, "dateFrom") if history else None,
            until=timestamp(request, "dateTo", end=True) if history else None,
            text=((request.query.get("search") or "").strip() or None) if history else None,
        )
        found: list[Job] = []
        total = 0
        if statuses != ():
            found, total = await self.state.db.execute_settled(
                lambda conn: jobs(conn, chosen, offset=offset, limit=limit)
            )
        metas = await self.metas()
        rows = [task(self.state.jobs.live(j.id) or j, metas.get(j.id, {})) for j in found]
        return json_response({"success": True, "data": rows, "pagination": pagination(page, limit, total)})

    async def list_tasks(self, request: web.Request) -> web.Response:
        """Every task, newest first (``status``, ``provider``, ``type``, ``limit``, ``page`` or ``offset``)."""
        return await self.listed(request, None, history=False)

    async def history(self, request: web.Request) -> web.Response:
        """Finished tasks (complete and failed), newest first, with ``dateFrom``, ``dateTo`` and ``search`` (the
        prompt, the parameters or the workflow's name) besides the list's filters."""
        return await self.listed(request, tuple(sorted(FINISHED)), history=True)

    async def create(self, request: web.Request) -> web.Response:
        name, options, generate = check_task(await read_json(request))
        pinned = options.get("profile_id")
        job = await self.sessions.submit(request, options.get("workflow_id"), {}, generate, backend=pinned)
        meta = await self.save_meta(job.id, {"name": name})
        return ok(task(job, meta), status=201)

    async def get_one(self, request: web.Request) -> web.Response:
        job = await self.visible_job(request)
        return ok(task(job, (await self.metas()).get(job.id, {})))

    async def delete(self, request: web.Request) -> web.Response:
        """A waiting task is cancelled and deleted, a finished one deleted (its images stay in the output
        folder); a running one is refused (cancel it first)."""
        job = await self.visible_job(request)
        if job.status == PENDING:
            job, _ = await self.state.job_service.cancel(caller(request, self.state), job.id)
        if not job.finished:
            raise Conflict(
                f"task {job.id} is running; cancel it first (POST /cozygen/api/jobs/{job.id}/cancel)",
                code="TASK_RUNNING",
            )
        await self.state.job_service.forget(job)
        await self.save_meta(job.id, None)
        return done(f"Task {job.id} deleted")

    async def retry(self, request: web.Request) -> web.Response:
        """A failed task's graph queued once more, as a new task of the same name."""
        job = await self.visible_job(request)
        if job.status not in RETRYABLE:
            raise Conflict(f"only failed tasks can be retried; task {job.id} is {task_row(job)['status']}",
                           code="TASK_NOT_FAILED")  # fmt: skip
        again = await self.state.job_service.reproduce(caller(request, self.state), job.id)
        before = (await self.metas()).get(job.id, {})
        meta = {"name": before.get("name") or job.workflow, "retries": before.get("retries", 0) + 1,
                "retried_from": job.id}  # fmt: skip
        await self.save_meta(again.id, meta)
        return json_response({"success": True, "data": task(again, meta), "message": f"Task {job.id} queued for retry"})
