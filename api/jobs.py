"""Jobs: generations queued on ComfyUI's own queue, followed live, listed and cancelled."""

from __future__ import annotations

import asyncio
import collections
import csv
import io
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..core.accounts.access import ADMIN, USER, VIEWER
from ..core.errors import BadRequest, Conflict, Forbidden, HostNotReady, NotFound, RateLimited
from ..core.events import Event
from ..core.graph.fill import with_seed_offset
from ..core.graph.models import graph_model
from ..core.jobs import groups as sessions
from ..core.jobs import model, records
from ..core.jobs.model import (
    CANCELLED,
    FAILED,
    FINAL_EVENTS,
    MAX_IMAGES,
    Job,
    check_job_id,
    check_session_id,
    check_status,
)
from ..core.jobs.records import Filters
from ..core.jobs.tracker import Preview
from ..core.jobs.validation import validation_error
from . import host, sse
from .auth.credentials import current_user, remote_address
from .comfyui_gate import require_graph_files
from .params import flag, integer, timestamp
from .responses import json_response, read_json
from .routing import Routes
from .state import CozyGenState
from .workflows import fill_named

log = logging.getLogger("cozygen")
DEFAULT_USER = "default"  # who owns jobs while auth is off, as presets do
CATCH_UP_WINDOW = 24 * 3600  # a stream that lost events hears of the jobs that ended this long back at most


def boot_time(event_id: str) -> float:
    """When the server that gave out ``event_id`` (``<boot>-<n>``, boot in hex milliseconds) started; 0 if unknown."""
    boot = event_id.rpartition("-")[0]
    try:
        return int(boot, 16) / 1000 if 0 < len(boot) <= 16 else 0.0
    except ValueError:
        return 0.0


@dataclass(frozen=True)
class JobService:
    """The job service's operations, for the compatibility mounts (they translate; this does the work).

    ``submit(request, workflow, values, num_images=, chosen=, session_id=)`` → (job, 201 or 200 for a retry);
    ``visible_job(request)`` the ``{job_id}`` of the path, 404 unless the caller may see it; ``view(job)`` the
    native job dict; ``queue_stats()`` the native queue numbers; ``reset()`` the native queue reset.
    """

    submit: Callable[..., Awaitable[tuple[Job, int]]]
    visible_job: Callable[[web.Request], Awaitable[Job]]
    view: Callable[..., dict[str, Any]]
    queue_stats: Callable[[], Awaitable[dict[str, Any]]]
    reset: Callable[[], Awaitable[dict[str, Any]]]


def encode_preview(preview: Preview) -> bytes:
    """A preview image as a JPEG no larger than ComfyUI asked for."""
    from PIL import ImageOps

    image = preview.image.convert("RGB")
    if preview.max_size:
        image = ImageOps.contain(image, (preview.max_size, preview.max_size))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def graphs_of(job: Job) -> list[dict[str, Any]]:
    """The graphs a job queued, one per prompt, in order (a job recorded with its graph)."""
    return [job.graph or {}, *(job.more_graphs.get(p, {}) for p in job.prompt_ids[1:])]


async def validated(
    graphs: Iterable[tuple[str, dict[str, Any]]],
) -> tuple[list[tuple[str, dict[str, Any], list[str]]], host.Validation | None]:
    """ComfyUI's own validation of each (prompt id, graph), in order: the prompts ready to queue (with their
    outputs), and the first refusal (None when every graph passed; the graphs after it are not validated)."""
    prompts = []
    for prompt_id, graph in graphs:
        validation = await host.validate_prompt(prompt_id, graph)
        if not validation.ok:
            return prompts, validation
        prompts.append((prompt_id, graph, validation.outputs))
    return prompts, None


def owner(request: web.Request) -> str:
    """Who a request's jobs and sessions belong to."""
    user = current_user(request)
    return user.username if user else DEFAULT_USER


def sees_everyones(request: web.Request, state: CozyGenState) -> bool:
    """Admins see every job and session; so does everyone while auth is off (there is no one else)."""
    user = current_user(request)
    return user.role == ADMIN if user is not None else not state.auth_enabled


def add_routes(routes: Routes, state: CozyGenState) -> None:
    # Queueing a job happens under this lock, and so does a queue reset; a job recorded but not yet on
    # ComfyUI's queue is counted in ``recording`` meanwhile, so a reset cannot queue it a second time.
    queueing = asyncio.Lock()
    recording: collections.Counter[str] = collections.Counter()

    def sees_all(request: web.Request) -> bool:
        return sees_everyones(request, state)

    def may_see(request: web.Request, job: Job) -> bool:
        return sees_all(request) or job.username == owner(request)

    async def load(job_id: str) -> Job | None:
        live = state.jobs.live(job_id)
        if live is not None:
            return live
        return await state.db.execute_fn(lambda conn: records.get(conn, job_id))

    async def visible_job(request: web.Request) -> Job:
        job_id = request.match_info["job_id"]
        job = await load(job_id) if model.JOB_ID.match(job_id) else None
        if job is None or not may_see(request, job):
            raise NotFound(f"no job {job_id}", code="JOB_NOT_FOUND")
        return job

    def positions(listed: list[Job]) -> dict[str, int]:
        """1-based places on ComfyUI's queue, asked of ComfyUI only when a listed job waits."""
        if not any(j.status == model.PENDING for j in listed):
            return {}
        _, pending = host.queue_snapshot()
        return {prompt_id: n for n, prompt_id in enumerate(pending, start=1)}

    def view(job: Job, places: dict[str, int] | None = None) -> dict[str, Any]:
        places = positions([job]) if places is None else places
        waiting = [places[p] for p in job.all_prompts if p in places]
        return job.to_dict(queue_position=min(waiting) if waiting else None)

    def repeated(request: web.Request, existing: Job, workflow: str, values: Any) -> Job:
        """The same job posted again (a retry): answer with it and queue nothing."""
        if existing.username != owner(request) or existing.workflow != workflow or existing.values != values:
            raise Conflict(
                f"job_id {existing.id} belongs to another job; choose a new id for a new job", code="JOB_ID_TAKEN"
            )
        return existing

    async def submit(
        request: web.Request,
        workflow: Any,
        values: Any,
        *,
        num_images: Any = 1,
        chosen: Any = None,
        session_id: Any = None,
    ) -> tuple[Job, int]:
        """Fill, validate and queue a job (the one way every API submits one): the job and 201, or the
        existing job and 200 for a retry of the same ``job_id``. Raises the 400s, 409s and 429."""
        if not isinstance(workflow, str) or not workflow.strip():
            raise BadRequest('workflow is required: {"workflow": "<name>", "values": {...}}', code="MISSING_WORKFLOW")
        if values is None:
            values = {}
        job_id = check_job_id(chosen) if chosen is not None else host.new_prompt_id()
        session_id = check_session_id(session_id)
        if session_id is not None:
            await own_session(request, session_id)
        if not isinstance(num_images, int) or isinstance(num_images, bool) or not 1 <= num_images <= MAX_IMAGES:
            raise BadRequest(
                f"num_images must be a whole number from 1 to {MAX_IMAGES}, not {num_images!r}",
                code="INVALID_NUM_IMAGES",
                extra={"fields": {"num_images": f"a whole number from 1 to {MAX_IMAGES}"}},
            )
        tracker = state.jobs
        if chosen is not None:
            existing = await load(job_id)
            if existing is not None:
                return repeated(request, existing, workflow, values), 200
        limit_rate(request)

        schema, filled = await fill_named(state, workflow, values)
        await require_graph_files(request, state, filled.graph)  # no other user's output copied into a job
        client_id = state.client_id_for(job_id)
        state.gate.claim_client(client_id, owner(request))  # nobody else may open a socket under it
        batch = filled.params.get("batch_size")
        batch = batch if isinstance(batch, int) and not isinstance(batch, bool) and batch > 0 else 1
        count = num_images if num_images > batch else 1  # more images than a batch: one prompt per image
        graphs = (
            (host.new_prompt_id(), host.run_prompt_handlers(with_seed_offset(filled, schema, n).graph, client_id))
            for n in range(count)
        )
        prompts, refusal = await validated(graphs)
        if refusal is not None:
            raise validation_error(refusal.error, refusal.node_errors, schema)
        prompt_id, graph, outputs = prompts[0]

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
            model=graph_model(graph),
            prompt_ids=[p[0] for p in prompts] if count > 1 else [],
            more_graphs={p[0]: p[1] for p in prompts[1:]},
        )
        recorded = await record_and_queue(job, outputs, more=prompts[1:])
        if not recorded:
            existing = await load(job_id)  # the same job_id, posted twice at once: the other one queued it
            if existing is None:
                raise Conflict("the job could not be recorded; try again", code="JOB_ID_TAKEN")
            return repeated(request, existing, workflow, values), 200
        return tracker.live(job.id) or job, 201

    async def record_and_queue(job: Job, outputs: list[str], more: list[tuple[str, dict[str, Any], list[str]]]) -> bool:
        """Record a new job, then queue it; False (nothing queued) when its id is taken already.

        The record is committed before the job is queued and before any answer or event says it exists: a job
        never runs unrecorded, and an acknowledged job survives ComfyUI being killed. The lock is not held
        while the writer commits, so submissions arriving together share one commit.
        """
        recording[job.id] += 1
        try:
            try:
                recorded = await state.db.execute_write_fn(lambda conn: records.insert(conn, job))
            except Exception as exc:
                log.error("CozyGen: job %s could not be recorded, so it was not queued: %s", job.id, exc)
                raise HostNotReady(
                    f"CozyGen could not record the job in its database ({type(exc).__name__}), so it was not "
                    "queued; try again"
                ) from None
            if recorded:
                async with queueing:
                    queue(job, outputs, more=more)
            return recorded
        finally:
            recording[job.id] -= 1
            if recording[job.id] <= 0:
                del recording[job.id]

    def limit_rate(request: web.Request) -> None:
        """The submission token bucket: per user, or per client address while auth is off."""
        user = current_user(request)
        wait = state.job_limits.take(f"user:{user.username}" if user else f"address:{remote_address(request)}")
        if wait:
            raise RateLimited(
                f"too many jobs submitted; try again in {wait} s", retry_after=wait, extra={"retry_after": wait}
            )

    @routes.post("/cozygen/api/jobs", access=USER)
    async def create_job(request: web.Request) -> web.Response:
        body = await read_json(request)
        job, status = await submit(
            request,
            body.get("workflow"),
            body.get("values", {}),
            num_images=body.get("num_images", 1),
            chosen=body.get("job_id"),
            session_id=body.get("session_id"),
        )
        return json_response({"job": view(job)}, status=status)

    def queue(job: Job, outputs: list[str], more: list[tuple[str, dict[str, Any], list[str]]] = ()) -> None:
        """Follow a recorded, validated job and put its graph on ComfyUI's queue (and, for a job of several
        prompts, the ``more`` ones after it: prompt id, graph, outputs)."""
        tracker = state.jobs
        _, waiting = host.queue_snapshot()
        tracker.add(job, queue_position=len(waiting) + 1)  # before queueing: no message can be missed
        queued: list[str] = []
        try:
            for prompt_id, graph, wanted in [(job.prompt_id, job.graph or {}, outputs), *more]:
                host.enqueue(
                    graph, wanted, prompt_id=prompt_id, client_id=state.client_id_for(job.id),
                    extra_data={"cozygen_job_id": job.id},
                )  # fmt: skip
                queued.append(prompt_id)
        except Exception as exc:
            log.exception("CozyGen: job %s could not be queued", job.id)
            for prompt_id in queued:
                host.remove_pending(prompt_id)
            tracker.end(job.id, FAILED, error=f"ComfyUI's queue refused the job: {exc}")
            raise HostNotReady(f"ComfyUI's queue refused the job ({type(exc).__name__}); try again") from None

    def filters(request: web.Request) -> Filters:
        """The history filters of a query: status, session_id, workflow, model, from, to, q, and user
        (or username; admins only: everyone else always gets their own jobs)."""
        query = request.query
        asked = (query.get("user") or query.get("username") or "").strip() or None
        if asked is not None and not sees_all(request) and asked != owner(request):
            raise Forbidden("only admins may list another user's jobs", code="ADMIN_REQUIRED")
        return Filters(
            username=asked if sees_all(request) else owner(request),
            status=check_status(query.get("status")),
            session_id=query.get("session_id") or None,
            workflow=(query.get("workflow") or "").strip() or None,
            model=(query.get("model") or "").strip() or None,
            since=timestamp(request, "from"),
            until=timestamp(request, "to", end=True),
            text=(query.get("q") or "").strip() or None,
        )

    @routes.get("/cozygen/api/jobs", access=VIEWER)
    async def list_jobs(request: web.Request) -> web.Response:
        limit = integer(request, "limit", 50, floor=1, ceiling=model.MAX_LIMIT)
        chosen = filters(request)
        before = request.query.get("before") or None
        found = await state.db.execute_settled(
            lambda conn: records.list_jobs(conn, before=before, limit=limit + 1, filters=chosen)
        )
        more, found = len(found) > limit, found[:limit]
        tracker = state.jobs
        current = [tracker.live(j.id) or j for j in found]  # progress lives in memory
        places = positions(current)
        return json_response(
            {"jobs": [view(j, places) for j in current], "next_cursor": found[-1].id if more and found else None}
        )

    # Before /jobs/{job_id}: aiohttp matches in order, and "export" is no job id.
    @routes.get("/cozygen/api/jobs/export", access=VIEWER)
    async def export_jobs(request: web.Request) -> web.Response:
        kind = (request.query.get("format") or "json").strip().lower()
        if kind not in ("csv", "json"):
            raise BadRequest(f"format must be csv or json, not {kind!r}", code="INVALID_FORMAT")
        chosen = filters(request)
        found = await state.db.execute_settled(lambda conn: records.export_jobs(conn, chosen))
        rows = [records.export_row(j) for j in found]
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        disposition = {"Content-Disposition": f'attachment; filename="cozygen-jobs-{stamp}.{kind}"'}
        if kind == "json":
            return json_response(rows, headers=disposition)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(records.EXPORT_COLUMNS)
        for row in rows:
            cells = {**row, "images": ";".join(row["images"])}
            writer.writerow(["" if cells[c] is None else cells[c] for c in records.EXPORT_COLUMNS])
        return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8", headers=disposition)

    @routes.get("/cozygen/api/jobs/{job_id}", access=VIEWER)
    async def get_job(request: web.Request) -> web.Response:
        return json_response({"job": view(await visible_job(request))})

    @routes.delete("/cozygen/api/jobs/{job_id}", access=USER)
    async def delete_job(request: web.Request) -> web.Response:
        job = await visible_job(request)
        if not job.finished:
            raise Conflict(
                f"job {job.id} is {job.status}; cancel it first", code="JOB_NOT_FINISHED", extra={"job": view(job)}
            )
        if not await state.db.execute_write_fn(lambda conn: records.delete(conn, job.id)):
            raise NotFound(f"no job {job.id}", code="JOB_NOT_FOUND")
        return json_response({"deleted": job.id})

    async def with_graph(request: web.Request) -> Job:
        job = await visible_job(request)
        stored = await state.db.execute_fn(lambda conn: records.get(conn, job.id, with_graph=True))
        if stored is None or not stored.graph:
            raise NotFound(f"job {job.id} has no recorded graph", code="NO_GRAPH")
        return stored

    @routes.get("/cozygen/api/jobs/{job_id}/workflow", access=VIEWER)
    async def job_workflow(request: web.Request) -> web.Response:
        job = await with_graph(request)
        body = {"job_id": job.id, "prompt_id": job.prompt_id, "workflow": job.workflow, "params": job.params,
                "graph": job.graph}  # fmt: skip
        if len(job.prompt_ids) > 1:  # one prompt per image: every graph, in order (seed + i)
            body["graphs"] = [{"prompt_id": p, "graph": g} for p, g in zip(job.prompt_ids, graphs_of(job), strict=True)]
        return json_response(body)

    @routes.get("/cozygen/api/jobs/{job_id}/preview", access=VIEWER)
    async def job_preview(request: web.Request) -> web.Response:
        """The latest preview ComfyUI sent for a running job (``job.preview`` events link here)."""
        job = await visible_job(request)
        preview = state.jobs.preview(job.id)
        if preview is None:
            hint = "it has finished: see its images" if job.finished else "ComfyUI has sent none for it yet"
            raise NotFound(f"no preview for job {job.id}: {hint}", code="NO_PREVIEW")
        body = await asyncio.to_thread(encode_preview, preview)
        headers = {"Cache-Control": "no-store", "X-Preview-Number": str(preview.number)}
        return web.Response(body=body, content_type="image/jpeg", headers=headers)

    @routes.post("/cozygen/api/jobs/{job_id}/reproduce", access=USER)
    async def reproduce_job(request: web.Request) -> web.Response:
        original = await with_graph(request)
        limit_rate(request)
        prompts, refusal = await validated((host.new_prompt_id(), graph) for graph in graphs_of(original))
        if refusal is not None:
            raise validation_error(refusal.error, refusal.node_errors, None)
        job = Job(
            id=host.new_prompt_id(),
            prompt_id=prompts[0][0],
            workflow=original.workflow,
            username=owner(request),
            session_id=original.session_id,
            values=original.values,
            params=original.params,
            graph=prompts[0][1],
            created_at=time.time(),
            model=original.model,
            reproduced_from=original.id,
            prompt_ids=[p[0] for p in prompts] if len(prompts) > 1 else [],
            more_graphs={p[0]: p[1] for p in prompts[1:]},
        )
        await record_and_queue(job, prompts[0][2], more=prompts[1:])  # a fresh id: recorded
        return json_response({"job": view(state.jobs.live(job.id) or job)}, status=201)

    async def queue_stats() -> dict[str, Any]:
        running, pending = host.queue_snapshot()
        counts = await state.db.execute_settled(lambda conn: records.stats(conn, time.time()))
        return {"pending": len(pending), "running": len(running), **counts}

    @routes.get("/cozygen/api/queue", access=VIEWER)
    async def queue_status(_request: web.Request) -> web.Response:
        return json_response(await queue_stats())

    async def reset_lost() -> dict[str, Any]:
        """Re-queue, once, the jobs recorded as unfinished that ComfyUI no longer has."""
        async with queueing:
            return await reset()

    @routes.post("/cozygen/api/queue/reset", access=ADMIN)
    async def reset_queue(_request: web.Request) -> web.Response:
        return json_response(await reset_lost())

    async def reset() -> dict[str, Any]:
        candidates = await state.db.execute_fn(records.lost_candidates)
        running, pending = host.queue_snapshot()
        on_comfyui = set(running) | set(pending)
        requeued, failed = [], []
        for lost in candidates:
            if on_comfyui & set(lost.all_prompts) or state.jobs.live(lost.id) is not None or lost.id in recording:
                continue  # really waiting or running, followed by this run (its end is on the way), or being queued
            new_ids = [host.new_prompt_id() for _ in lost.all_prompts]
            job = await state.db.execute_write_fn(
                lambda conn, lost=lost, new_ids=new_ids: records.claim_requeue(conn, lost, new_ids, time.time())
            )
            if job is None:
                continue  # another reset took it
            prompts, refusal = await validated(zip(job.all_prompts, graphs_of(job), strict=True))
            if refusal is not None:
                state.jobs.add(job)
                ended = state.jobs.end(job.id, FAILED, error=f"ComfyUI refused the graph again: {refusal.error}")
                failed.append(view(ended or job, {}))
                continue
            queue(job, prompts[0][2], more=prompts[1:])
            requeued.append(view(state.jobs.live(job.id) or job))
        if failed:
            await state.db.settle()  # the failures answered are recorded
        return {"requeued": requeued, "failed": failed}

    @routes.post("/cozygen/api/jobs/{job_id}/cancel", access=USER)
    async def cancel_job(request: web.Request) -> web.Response:
        response = await cancel(request)
        await state.db.settle()  # an answer that says cancelled means the record says so
        return response

    async def cancel(request: web.Request) -> web.Response:
        job = await visible_job(request)

        def finished(current: Job) -> Conflict:
            return Conflict(
                f"job {current.id} is already {current.status}", code="JOB_FINISHED", extra={"job": view(current)}
            )

        if job.finished:
            raise finished(job)
        tracker = state.jobs
        if len(job.prompt_ids) > 1:
            return cancel_several(job, finished)
        if host.remove_pending(job.prompt_id):  # still waiting: it never runs
            return json_response({"job": view(tracker.end(job.id, CANCELLED) or job)})
        marked = tracker.request_cancel(job.id)
        if marked is None:  # finished meanwhile, or not followed by this run
            await state.db.settle()  # an end on its way to the record is in it now
            current = await load(job.id)
            if current is None or current.finished:
                raise finished(current or job)
            current.status, current.finished_at = CANCELLED, time.time()
            await state.db.execute_write_fn(lambda conn: records.save_state(conn, current))
            return json_response({"job": view(current)})
        if host.interrupt(job.prompt_id):  # it runs: ComfyUI's interruption message will say cancelled
            return json_response({"job": view(marked)}, status=202)
        # Neither waiting nor running on ComfyUI, and no end message came (its final message passes
        # through CozyGen before ComfyUI lets go of the prompt): ComfyUI dropped it.
        ended = tracker.end(job.id, CANCELLED)
        if ended is None or ended.status != CANCELLED:
            raise finished(ended or job)
        return json_response({"job": view(ended)})

    def cancel_several(job: Job, finished: Callable[[Job], Conflict]) -> web.Response:
        """Cancel a job of several prompts: the waiting ones leave ComfyUI's queue, the running one is interrupted."""
        tracker = state.jobs
        if tracker.request_cancel(job.id) is None:
            raise finished(job)
        removed = [p for p in job.prompt_ids if host.remove_pending(p)]
        current = tracker.end_prompts(job.id, removed, CANCELLED) or job
        if not current.finished and any(host.interrupt(p) for p in job.prompt_ids):
            return json_response({"job": view(current)}, status=202)
        if not current.finished:  # nothing of it left on ComfyUI
            current = tracker.end(job.id, CANCELLED) or current
        if current.status != CANCELLED:
            raise finished(current)
        return json_response({"job": view(current)})

    async def own_session(request: web.Request, session_id: str) -> None:
        """A job's session_id must name one of the poster's sessions."""
        found = await state.db.execute_fn(lambda conn: sessions.get(conn, session_id))
        if found is None or found.username != owner(request):
            raise BadRequest(
                f"session_id {session_id!r} names none of your sessions; create one with POST /cozygen/api/sessions",
                code="UNKNOWN_SESSION",
            )

    async def visible_session(request: web.Request) -> sessions.Session:
        session_id = request.match_info["session_id"]
        found = await state.db.execute_fn(lambda conn: sessions.get(conn, session_id))
        if found is None or not (sees_all(request) or found.username == owner(request)):
            raise NotFound(f"no session {session_id}", code="SESSION_NOT_FOUND")
        return found

    @routes.get("/cozygen/api/sessions", access=VIEWER)
    async def list_sessions(request: web.Request) -> web.Response:
        me = owner(request)
        found = await state.db.execute_fn(lambda conn: sessions.list_sessions(conn, me))
        return json_response({"sessions": [s.to_dict() for s in found]})

    @routes.post("/cozygen/api/sessions", access=USER)
    async def create_session(request: web.Request) -> web.Response:
        body = await read_json(request)
        made = sessions.Session(
            id=host.new_prompt_id(), username=owner(request), name=sessions.check_name(body.get("name")),
            created_at=time.time(),
        )  # fmt: skip
        await state.db.execute_write_fn(lambda conn: sessions.create(conn, made))
        return json_response({"session": made.to_dict()}, status=201)

    @routes.get("/cozygen/api/sessions/{session_id}", access=VIEWER)
    async def get_session(request: web.Request) -> web.Response:
        found = await visible_session(request)
        limit = integer(request, "limit", 20, floor=1, ceiling=model.MAX_LIMIT)
        listed = await state.db.execute_settled(
            lambda conn: records.list_jobs(conn, limit=limit, filters=Filters(session_id=found.id))
        )
        current = [state.jobs.live(j.id) or j for j in listed]
        places = positions(current)
        return json_response({"session": found.to_dict(), "jobs": [view(j, places) for j in current]})

    @routes.patch("/cozygen/api/sessions/{session_id}", access=USER)
    async def rename_session(request: web.Request) -> web.Response:
        found = await visible_session(request)
        name = sessions.check_name((await read_json(request)).get("name"))
        await state.db.execute_write_fn(lambda conn: sessions.rename(conn, found.id, name))
        found.name = name
        return json_response({"session": found.to_dict()})

    @routes.delete("/cozygen/api/sessions/{session_id}", access=USER)
    async def delete_session(request: web.Request) -> web.Response:
        """The session and its jobs' records; their images too (to the gallery trash) with ?delete_images=true."""
        found = await visible_session(request)
        with_images = flag(request, "delete_images")
        removed = await state.db.execute_write_fn(lambda conn: sessions.delete(conn, found.id))
        if removed is None:
            raise Conflict(
                f"session {found.id} still has jobs pending or running; cancel them first", code="SESSION_BUSY"
            )
        count, images = removed
        trash: dict[str, Any] | None = None
        if with_images and images:
            rows = await state.gallery.rows_of(images)
            user = current_user(request)
            batch, ids, errors = await state.gallery.trash(rows, by=user.username if user else None)
            trash = {"batch": batch, "ids": ids, "errors": errors}
        return json_response({"deleted": found.id, "jobs": count, "trash": trash})

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

        async def catch_up(last_id: str | None, replayed: list[Event], complete: bool) -> list[tuple[str, dict]]:
            """Jobs that finished while this client was away and that the replay cannot show: from their records."""
            told = {e.data.get("id") for e in replayed if e.kind in FINAL_EVENTS.values()}
            if job_id is not None:  # one job: say how it ended, unless the client saw it already
                job = None if (last_id and complete) or not model.JOB_ID.match(job_id) else await load(job_id)
                found = [job] if job is not None and job.finished and (everyone or job.username == me) else []
            elif last_id and not complete:  # events were lost (a restart, or a stalled client)
                since = max(boot_time(last_id), time.time() - CATCH_UP_WINDOW)
                chosen = Filters(username=None if everyone else me, session_id=session_id)
                found = await state.db.execute_settled(lambda conn: records.finished_since(conn, since, chosen))
            else:
                found = []
            return [(FINAL_EVENTS[j.status], {**view(j, {}), "from_record": True}) for j in found if j.id not in told]

        return await sse.stream(request, state.job_hub, accept=accept, named=True, catch_up=catch_up)

    state.job_service = JobService(
        submit=submit, visible_job=visible_job, view=view, queue_stats=queue_stats, reset=reset_lost
    )
