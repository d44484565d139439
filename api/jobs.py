"""Jobs and sessions over HTTP: each handler parses the request, calls the job service (core/jobs/service.py)
or the session service, and serializes the answer."""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import time
from typing import Any

from aiohttp import web

from ..core.accounts.access import ADMIN, USER, VIEWER
from ..core.errors import BadRequest, Conflict, Forbidden, NotFound
from ..core.events import Event
from ..core.jobs import groups, model, records
from ..core.jobs.model import check_status
from ..core.jobs.records import Filters
from ..core.jobs.service import Caller, graphs_of
from ..core.jobs.tracker import Preview
from . import sse, workflow_events
from .auth.credentials import current_user, remote_address
from .comfyui_gate import require_graph_files
from .params import flag, integer, timestamp
from .responses import json_response, read_json
from .routing import Routes
from .state import CozyGenState

DEFAULT_USER = "default"  # who owns jobs while auth is off, as presets do
DOWNLOAD_EVENT = "download.changed"  # core/models/service.py publishes it on the job hub
BACKEND_EVENT = "backend.changed"  # core/backends/service.py publishes it on the job hub


def owner(request: web.Request) -> str:
    """Who a request's jobs and sessions belong to."""
    user = current_user(request)
    return user.username if user else DEFAULT_USER


def sees_everyones(request: web.Request, state: CozyGenState) -> bool:
    """Admins see every job and session; so does everyone while auth is off (there is no one else)."""
    user = current_user(request)
    return user.role == ADMIN if user is not None else not state.auth_enabled


def caller(request: web.Request, state: CozyGenState) -> Caller:
    """The job service's view of who asks: their name, whether they see everyone's jobs, their submission
    bucket (per user, or per client address while auth is off) and the graph-file check bound to them."""
    user = current_user(request)
    return Caller(
        username=owner(request),
        sees_all=sees_everyones(request, state),
        rate_key=f"user:{user.username}" if user else f"address:{remote_address(request)}",
        check_files=functools.partial(require_graph_files, request, state),
    )


def encode_preview(preview: Preview) -> bytes:
    """A preview image as a JPEG no larger than ComfyUI asked for."""
    from PIL import ImageOps

    image = preview.image.convert("RGB")
    if preview.max_size:
        image = ImageOps.contain(image, (preview.max_size, preview.max_size))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def export_csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    """Export rows as CSV (their ``images`` joined by ``;``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        cells = {**row, "images": ";".join(row["images"])}
        writer.writerow(["" if cells[c] is None else cells[c] for c in columns])
    return out.getvalue()


class JobRoutes:
    """The handlers of /cozygen/api/jobs, /queue, /sessions and /events."""

    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    def caller(self, request: web.Request) -> Caller:
        return caller(request, self.state)

    def filters(self, request: web.Request) -> Filters:
        """The history filters of a query: status, session_id, workflow, model, from, to, q, and user
        (or username; admins only: everyone else always gets their own jobs)."""
        query, asking = request.query, self.caller(request)
        asked = (query.get("user") or query.get("username") or "").strip() or None
        if asked is not None and not asking.sees_all and asked != asking.username:
            raise Forbidden("only admins may list another user's jobs", code="ADMIN_REQUIRED")
        return Filters(
            username=asked if asking.sees_all else asking.username,
            status=check_status(query.get("status")),
            session_id=query.get("session_id") or None,
            workflow=(query.get("workflow") or "").strip() or None,
            model=(query.get("model") or "").strip() or None,
            since=timestamp(request, "from"),
            until=timestamp(request, "to", end=True),
            text=(query.get("q") or "").strip() or None,
        )

    # -- jobs --------------------------------------------------------------------------------------------
    async def create_job(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        service = self.state.job_service
        job, created = await service.submit(
            self.caller(request),
            body.get("workflow"),
            body.get("values", {}),
            num_images=body.get("num_images", 1),
            chosen=body.get("job_id"),
            session_id=body.get("session_id"),
            revision=body.get("revision"),
            backend=body.get("backend"),
        )
        return json_response({"job": service.view(job)}, status=201 if created else 200)

    async def list_jobs(self, request: web.Request) -> web.Response:
        limit = integer(request, "limit", 50, floor=1, ceiling=model.MAX_LIMIT)
        chosen = self.filters(request)
        before = request.query.get("before") or None
        jobs, cursor = await self.state.job_service.history(chosen, before=before, limit=limit)
        return json_response({"jobs": jobs, "next_cursor": cursor})

    async def export_jobs(self, request: web.Request) -> web.Response:
        kind = (request.query.get("format") or "json").strip().lower()
        if kind not in ("csv", "json"):
            raise BadRequest(f"format must be csv or json, not {kind!r}", code="INVALID_FORMAT")
        rows = await self.state.job_service.export(self.filters(request))
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        disposition = {"Content-Disposition": f'attachment; filename="cozygen-jobs-{stamp}.{kind}"'}
        if kind == "json":
            return json_response(rows, headers=disposition)
        text = export_csv(rows, records.EXPORT_COLUMNS)
        return web.Response(text=text, content_type="text/csv", charset="utf-8", headers=disposition)

    async def get_job(self, request: web.Request) -> web.Response:
        service = self.state.job_service
        return json_response({"job": service.view(await service.visible(self.caller(request), job_id(request)))})

    async def delete_job(self, request: web.Request) -> web.Response:
        return json_response({"deleted": await self.state.job_service.delete(self.caller(request), job_id(request))})

    async def job_workflow(self, request: web.Request) -> web.Response:
        job = await self.state.job_service.with_graph(self.caller(request), job_id(request))
        body: dict[str, Any] = {"job_id": job.id, "prompt_id": job.prompt_id, "workflow": job.workflow,
                                "params": job.params, "graph": job.graph}  # fmt: skip
        if len(job.prompt_ids) > 1:  # one prompt per image: every graph, in order (seed + i)
            pairs = zip(job.prompt_ids, graphs_of(job), strict=True)
            body["graphs"] = [{"prompt_id": p, "graph": g} for p, g in pairs]
        return json_response(body)

    async def job_preview(self, request: web.Request) -> web.Response:
        """The latest preview ComfyUI sent for a running job (``job.preview`` events link here)."""
        preview = await self.state.job_service.preview(self.caller(request), job_id(request))
        body = await asyncio.to_thread(encode_preview, preview)
        headers = {"Cache-Control": "no-store", "X-Preview-Number": str(preview.number)}
        return web.Response(body=body, content_type="image/jpeg", headers=headers)

    async def reproduce_job(self, request: web.Request) -> web.Response:
        service = self.state.job_service
        job = await service.reproduce(self.caller(request), job_id(request), backend=request.query.get("backend"))
        return json_response({"job": service.view(job)}, status=201)

    async def cancel_job(self, request: web.Request) -> web.Response:
        service = self.state.job_service
        job, cancelled = await service.cancel(self.caller(request), job_id(request))
        return json_response({"job": service.view(job)}, status=200 if cancelled else 202)

    async def queue_status(self, _request: web.Request) -> web.Response:
        return json_response(await self.state.job_service.queue_stats())

    async def reset_queue(self, _request: web.Request) -> web.Response:
        return json_response(await self.state.job_service.reset())

    # -- sessions ----------------------------------------------------------------------------------------
    async def visible_session(self, request: web.Request) -> groups.Session:
        session_id = request.match_info["session_id"]
        found = await self.state.sessions.find(self.caller(request), session_id)
        if found is None:
            raise NotFound(f"no session {session_id}", code="SESSION_NOT_FOUND")
        return found

    async def list_sessions(self, request: web.Request) -> web.Response:
        found = await self.state.sessions.mine(self.caller(request))
        return json_response({"sessions": [s.to_dict() for s in found]})

    async def create_session(self, request: web.Request) -> web.Response:
        name = groups.check_name((await read_json(request)).get("name"))
        made = await self.state.sessions.create(self.caller(request), name)
        return json_response({"session": made.to_dict()}, status=201)

    async def get_session(self, request: web.Request) -> web.Response:
        found = await self.visible_session(request)
        limit = integer(request, "limit", 20, floor=1, ceiling=model.MAX_LIMIT)
        listed = await self.state.sessions.jobs(found, limit)
        return json_response({"session": found.to_dict(), "jobs": self.state.job_service.views(listed)})

    async def rename_session(self, request: web.Request) -> web.Response:
        found = await self.visible_session(request)
        name = groups.check_name((await read_json(request)).get("name"))
        return json_response({"session": (await self.state.sessions.rename(found, name)).to_dict()})

    async def delete_session(self, request: web.Request) -> web.Response:
        """The session and its jobs' records; their images too (to the gallery trash) with ?delete_images=true."""
        found = await self.visible_session(request)
        with_images = flag(request, "delete_images")
        removed = await self.state.sessions.delete(found)
        if removed is None:
            raise Conflict(
                f"session {found.id} still has jobs pending or running; cancel them first", code="SESSION_BUSY"
            )
        count, images = removed
        trash: dict[str, Any] | None = None
        if with_images and images:
            gallery = self.state.gallery
            user = current_user(request)
            batch, ids, errors = await gallery.trash(await gallery.rows_of(images), by=user.username if user else None)
            trash = {"batch": batch, "ids": ids, "errors": errors}
        return json_response({"deleted": found.id, "jobs": count, "trash": trash})

    # -- events ------------------------------------------------------------------------------------------
    async def job_events(self, request: web.Request) -> web.StreamResponse:
        wanted_job = request.query.get("job_id") or None
        session_id = request.query.get("session_id") or None
        asking = self.caller(request)
        # workflows.changed (and download.changed, to admins) only to a stream that asks for it (?workflows=1, the
        # app): other clients read every event of this stream as a job
        listens = flag(request, "workflows") and wanted_job is None and session_id is None
        editor_user = await asyncio.to_thread(workflow_events.editor_user_of, self.state, asking) if listens else None

        def accept(event: Event) -> bool:
            data = event.data
            if event.kind == workflow_events.EVENT:
                return listens and workflow_events.accepts(data, editor_user)
            if event.kind in (DOWNLOAD_EVENT, BACKEND_EVENT):  # downloads, backends: the app's stream, for admins
                return listens and asking.sees_all
            if wanted_job is not None and data.get("id") != wanted_job:
                return False
            if session_id is not None and data.get("session_id") != session_id:
                return False
            return asking.may_see(data.get("username"))

        async def catch_up(last_id: str | None, replayed: list[Event], complete: bool) -> list[tuple[str, dict]]:
            """Jobs that finished while this client was away and that the replay cannot show: from their records."""
            ended = self.state.job_service.ended_while_away
            return await ended(asking, wanted_job, session_id, last_id, replayed, complete)

        return await sse.stream(request, self.state.job_hub, accept=accept, named=True, catch_up=catch_up)


def job_id(request: web.Request) -> str:
    return request.match_info["job_id"]


def add_routes(routes: Routes, state: CozyGenState) -> None:
    r = JobRoutes(state)
    routes.post("/cozygen/api/jobs", access=USER)(r.create_job)
    routes.get("/cozygen/api/jobs", access=VIEWER)(r.list_jobs)
    # Before /jobs/{job_id}: aiohttp matches in order, and "export" is no job id.
    routes.get("/cozygen/api/jobs/export", access=VIEWER)(r.export_jobs)
    routes.get("/cozygen/api/jobs/{job_id}", access=VIEWER)(r.get_job)
    routes.delete("/cozygen/api/jobs/{job_id}", access=USER)(r.delete_job)
    routes.get("/cozygen/api/jobs/{job_id}/workflow", access=VIEWER)(r.job_workflow)
    routes.get("/cozygen/api/jobs/{job_id}/preview", access=VIEWER)(r.job_preview)
    routes.post("/cozygen/api/jobs/{job_id}/reproduce", access=USER)(r.reproduce_job)
    routes.get("/cozygen/api/queue", access=VIEWER)(r.queue_status)
    routes.post("/cozygen/api/queue/reset", access=ADMIN)(r.reset_queue)
    routes.post("/cozygen/api/jobs/{job_id}/cancel", access=USER)(r.cancel_job)
    routes.get("/cozygen/api/sessions", access=VIEWER)(r.list_sessions)
    routes.post("/cozygen/api/sessions", access=USER)(r.create_session)
    routes.get("/cozygen/api/sessions/{session_id}", access=VIEWER)(r.get_session)
    routes.patch("/cozygen/api/sessions/{session_id}", access=USER)(r.rename_session)
    routes.delete("/cozygen/api/sessions/{session_id}", access=USER)(r.delete_session)
    routes.get("/cozygen/api/events", access=VIEWER)(r.job_events)
