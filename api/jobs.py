"""Jobs: generations queued on ComfyUI's own queue, followed live, listed and cancelled."""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web

from ..core import jobs
from ..core.access import ADMIN, USER, VIEWER
from ..core.errors import BadRequest, Conflict, HostNotReady, NotFound
from ..core.events import Event
from ..core.jobs import CANCELLED, FAILED, Job, check_job_id, check_session_id, check_status, validation_error
from . import host, sse
from .params import integer
from .responses import json_response, read_json
from .routing import Routes
from .session import current_user
from .state import CozyGenState
from .workflows import HostDefinitions, fill_named

log = logging.getLogger("cozygen")
DEFAULT_USER = "default"  # who owns jobs while auth is off, as presets do


def add_routes(routes: Routes, state: CozyGenState) -> None:
    definitions = HostDefinitions()

    def owner(request: web.Request) -> str:
        user = current_user(request)
        return user.username if user else DEFAULT_USER

    def sees_all(request: web.Request) -> bool:
        """Admins see every job; so does everyone while auth is off (there is no one else)."""
        user = current_user(request)
        return user.role == ADMIN if user is not None else not state.auth_enabled

    def may_see(request: web.Request, job: Job) -> bool:
        return sees_all(request) or job.username == owner(request)

    async def load(job_id: str) -> Job | None:
        live = state.jobs.live(job_id)
        if live is not None:
            return live
        return await state.db.execute_fn(lambda conn: jobs.get(conn, job_id))

    async def visible_job(request: web.Request) -> Job:
        job_id = request.match_info["job_id"]
        job = await load(job_id) if jobs.JOB_ID.match(job_id) else None
        if job is None or not may_see(request, job):
            raise NotFound(f"no job {job_id}", code="JOB_NOT_FOUND")
        return job

    def positions(listed: list[Job]) -> dict[str, int]:
        """1-based places on ComfyUI's queue, asked of ComfyUI only when a listed job waits."""
        if not any(j.status == jobs.PENDING for j in listed):
            return {}
        _, pending = host.queue_snapshot()
        return {prompt_id: n for n, prompt_id in enumerate(pending, start=1)}

    def view(job: Job, places: dict[str, int] | None = None) -> dict[str, Any]:
        places = positions([job]) if places is None else places
        return job.to_dict(queue_position=places.get(job.prompt_id))

    def repeated(request: web.Request, existing: Job, workflow: str, values: Any) -> web.Response:
        """The same job posted again (a retry): answer with it and queue nothing."""
        if existing.username != owner(request) or existing.workflow != workflow or existing.values != values:
            raise Conflict(
                f"job_id {existing.id} belongs to another job; choose a new id for a new job", code="JOB_ID_TAKEN"
            )
        return json_response({"job": view(existing)})

    @routes.post("/cozygen/api/jobs", access=USER)
    async def create_job(request: web.Request) -> web.Response:
        body = await read_json(request)
        workflow = body.get("workflow")
        if not isinstance(workflow, str) or not workflow.strip():
            raise BadRequest('workflow is required: {"workflow": "<name>", "values": {...}}', code="MISSING_WORKFLOW")
        values = body.get("values", {})
        if values is None:
            values = {}
        chosen = body.get("job_id")
        job_id = check_job_id(chosen) if chosen is not None else host.new_prompt_id()
        session_id = check_session_id(body.get("session_id"))
        tracker = state.jobs
        if chosen is not None:
            existing = await load(job_id)
            if existing is not None:
                return repeated(request, existing, workflow, values)

        schema, filled = await fill_named(state, definitions, workflow, values)
        prompt_id = host.new_prompt_id()
        graph = host.run_prompt_handlers(filled.graph, state.client_id)
        validation = await host.validate_prompt(prompt_id, graph)
        if not validation.ok:
            raise validation_error(validation.error, validation.node_errors, schema)

        job = Job(
            id=job_id,
            prompt_id=prompt_id,
            workflow=workflow,
            username=owner(request),
            session_id=session_id,
            values=values,
            params=filled.params,
            graph=graph,
            created_at=time.time(),
        )
        if not await state.db.execute_write_fn(lambda conn: jobs.insert(conn, job)):
            existing = await load(job_id)  # the same job_id, posted twice at once: the other one queued it
            if existing is None:
                raise Conflict("the job could not be recorded; try again", code="JOB_ID_TAKEN")
            return repeated(request, existing, workflow, values)
        _, waiting = host.queue_snapshot()
        tracker.add(job, queue_position=len(waiting) + 1)  # before queueing: no message can be missed
        try:
            host.enqueue(
                graph,
                validation.outputs,
                prompt_id=prompt_id,
                client_id=state.client_id,
                extra_data={"cozygen_job_id": job.id},
            )
        except Exception as exc:
            log.exception("CozyGen: job %s could not be queued", job.id)
            tracker.end(job.id, FAILED, error=f"ComfyUI's queue refused the job: {exc}")
            raise HostNotReady(f"ComfyUI's queue refused the job ({type(exc).__name__}); try again") from None
        return json_response({"job": view(tracker.live(job.id) or job)}, status=201)

    @routes.get("/cozygen/api/jobs", access=VIEWER)
    async def list_jobs(request: web.Request) -> web.Response:
        limit = integer(request, "limit", 50, low=1, high=jobs.MAX_LIMIT)
        status = check_status(request.query.get("status"))
        session_id = request.query.get("session_id") or None
        before = request.query.get("before") or None
        username = (request.query.get("username") or None) if sees_all(request) else owner(request)
        found = await state.db.execute_fn(
            lambda conn: jobs.list_jobs(
                conn, username=username, status=status, session_id=session_id, before=before, limit=limit + 1
            )
        )
        more, found = len(found) > limit, found[:limit]
        tracker = state.jobs
        current = [tracker.live(j.id) or j for j in found]  # progress lives in memory
        places = positions(current)
        return json_response(
            {"jobs": [view(j, places) for j in current], "next_cursor": found[-1].id if more and found else None}
        )

    @routes.get("/cozygen/api/jobs/{job_id}", access=VIEWER)
    async def get_job(request: web.Request) -> web.Response:
        return json_response({"job": view(await visible_job(request))})

    @routes.post("/cozygen/api/jobs/{job_id}/cancel", access=USER)
    async def cancel_job(request: web.Request) -> web.Response:
        job = await visible_job(request)

        def finished(current: Job) -> Conflict:
            return Conflict(
                f"job {current.id} is already {current.status}", code="JOB_FINISHED", extra={"job": view(current)}
            )

        if job.finished:
            raise finished(job)
        tracker = state.jobs
        if host.remove_pending(job.prompt_id):  # still waiting: it never runs
            return json_response({"job": view(tracker.end(job.id, CANCELLED) or job)})
        marked = tracker.request_cancel(job.id)
        if marked is None:  # finished meanwhile, or not followed by this run
            current = await load(job.id)
            if current is None or current.finished:
                raise finished(current or job)
            current.status, current.finished_at = CANCELLED, time.time()
            await state.db.execute_write_fn(lambda conn: jobs.save_state(conn, current))
            return json_response({"job": view(current)})
        if host.interrupt(job.prompt_id):  # it runs: ComfyUI's interruption message will say cancelled
            return json_response({"job": view(marked)}, status=202)
        # Neither waiting nor running on ComfyUI, and no end message came (its final message passes
        # through CozyGen before ComfyUI lets go of the prompt): ComfyUI dropped it.
        ended = tracker.end(job.id, CANCELLED)
        if ended is None or ended.status != CANCELLED:
            raise finished(ended or job)
        return json_response({"job": view(ended)})

    @routes.get("/cozygen/api/events", access=VIEWER)
    async def job_events(request: web.Request) -> web.StreamResponse:
        job_id = request.query.get("job_id") or None
        session_id = request.query.get("session_id") or None
        everyone, me = sees_all(request), owner(request)

        def accept(event: Event) -> bool:
            data = event.data
            if job_id is not None and data.get("id") != job_id:
                return False
            if session_id is not None and data.get("session_id") != session_id:
                return False
            return everyone or data.get("username") == me

        return await sse.stream(request, state.job_hub, accept=accept, named=True)
