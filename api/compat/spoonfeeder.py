"""Spoon Feeder (seed 003) at /cozygen/compat/spoonfeeder/api/: health, ComfyUI options, workflows, sessions,
generations, the image proxy and the task history export, over CozyGen's workflow store and job service.

A Spoon Feeder workflow id is the workflow's file name. Its name, description,
default parameters and default flag live beside the file (the ``documents`` table).
A session is a CozyGen session (its title is the session's name); what Spoon Feeder keeps
beside it (the current workflow, the last parameters) lives in the ``documents`` table too.
A generation is a CozyGen job: its id is the job id, its status ``pending``, ``running``,
``complete`` or ``failed`` (cancelled and interrupted jobs count as failed, with the reason).

One module over 400 lines because it is one mount: every route of it translates to and from the same Spoon
Feeder shapes (error envelope, session and generation views), which would otherwise be shared across files.

A generation runs on the request's ``workflow_id``, else on the session's current workflow (the
last ``workflow_id`` it was given), else on the shipped txt2img workflow with ``checkpoint_name``
(or the first checkpoint), or on the weights-free procedural form when the checkpoint is
``procedural`` or ComfyUI has none. Errors answer in Spoon Feeder's shape
(``{"success": false, "error", "code", "statusCode"}``) with CozyGen's fields kept.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from ...core.accounts.access import USER, VIEWER
from ...core.errors import BadRequest, Conflict, CozyGenError, Forbidden, HostNotReady, NotFound
from ...core.graph.fill import FieldErrors
from ...core.graph.models import PROCEDURAL_MODEL
from ...core.graph.schema import extract_schema
from ...core.jobs import groups as sessions
from ...core.jobs import model, records
from ...core.jobs.model import COMPLETED, MAX_IMAGES, PENDING, RUNNING, Job
from ...core.jobs.records import Filters
from ...core.media.kinds import kind_of
from ...core.paths import resolve
from ...core.store import documents
from ...core.workflows.store import (
    WorkflowStore,
    delete_owned,
    require_api_format,
    require_existing_change,
    workflow_name,
)
from ..jobs import caller, export_csv
from ..params import integer, timestamp
from ..responses import json_response, read_json
from ..routing import Routes
from ..state import CozyGenState
from ..visibility import require_visible_path
from ..workflows import editor_of, host_options, save_workflow_as, workflow_store
from .common import PROCEDURAL, TXT2IMG, checkpoints, in_shape, renamed, square_size

BASE = "/cozygen/compat/spoonfeeder/api"
META = "spoonfeeder_workflows"
SESSION_META = "spoonfeeder_sessions"
PARAMETER_TYPES = {"seed": "seed", "int": "number", "float": "number", "string": "text", "text": "text"}
PROFILE = {"profile_id": "local", "profile_name": "This ComfyUI"}
STATUSES = {PENDING: "pending", RUNNING: "running", COMPLETED: "complete"}  # the rest: failed
# Spoon Feeder's generation parameters -> the workflows' parameter names
PARAMETERS = {
    "width": "width",
    "height": "height",
    "steps": "steps",
    "cfg_scale": "cfg",
    "seed": "seed",
    "sampler_name": "sampler",
    "scheduler": "scheduler",
    "checkpoint_name": "checkpoint",
}
# the workflows' parameter names -> Spoon Feeder's, for field errors
FIELD_NAMES = {name: spoon for spoon, name in PARAMETERS.items()} | {"prompt": "prompt_text", "size": "width"}
FOLDERS = ("output", "input", "temp")
TASK_COLUMNS = ("id", "name", "type", "provider", "prompt", "model", "seed", "status", "error", "created_at",
                "completed_at", "images")  # fmt: skip


def seed_error(error: CozyGenError) -> dict[str, Any]:
    """Spoon Feeder's error shape, with CozyGen's code and fields kept."""
    return {"success": False, **error.to_dict(), "statusCode": error.status}


in_seed_shape = in_shape(seed_error)


def iso(when: float | None) -> str | None:
    if when is None:
        return None
    return dt.datetime.fromtimestamp(when, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def seed_status(job: Job) -> str:
    return STATUSES.get(job.status, "failed")


def job_values(names: set[str], prompt: str, negative: Any, given: Mapping[str, Any]) -> dict[str, Any]:
    """A workflow's values (``names``: its parameters) from a Spoon Feeder request; parameters the workflow
    does not have are left out, and a workflow of one square ``size`` takes it from width and height."""
    values: dict[str, Any] = {"prompt": prompt} if "prompt" in names else {}
    if negative and "negative_prompt" in names:
        values["negative_prompt"] = negative
    values.update({name: given[k] for k, name in PARAMETERS.items() if given.get(k) is not None and name in names})
    if "size" in names and "width" not in names:
        size = square_size(given.get("width"), given.get("height"))
        if size is not None:
            values["size"] = size
    if "seed" in names:
        values.setdefault("seed", -1)  # Spoon Feeder's default: a random seed, resolved when the job is filled
    return values


def seed_parameters(job: Job) -> dict[str, Any]:
    """The parameters a generation ran with, by Spoon Feeder's names (None where the workflow has none)."""
    params = job.params
    size = params.get("size")
    return {
        "width": params.get("width", size),
        "height": params.get("height", size),
        "steps": params.get("steps"),
        "cfg_scale": params.get("cfg"),
        "seed": params.get("seed"),
        "sampler_name": params.get("sampler"),
        "scheduler": params.get("scheduler"),
    }


def checkpoint_of(job: Job) -> str | None:
    """The checkpoint a generation ran with: its ``checkpoint`` parameter, else the model its graph loads."""
    chosen = job.params.get("checkpoint")
    return chosen if isinstance(chosen, str) and chosen else job.model


def generation(job: Job) -> dict[str, Any]:
    """A CozyGen job as a Spoon Feeder generation."""
    parameters = seed_parameters(job)
    status = seed_status(job)
    took = job.finished_at - (job.started_at or job.created_at) if job.finished_at is not None else None
    return {
        "id": job.id,
        "session_id": job.session_id,
        "workflow_id": job.workflow,
        "prompt_id": job.prompt_id,
        "prompt_text": records.prompt_text(job.params),
        "negative_prompt": job.params.get("negative_prompt"),
        "parameters": parameters,
        **parameters,
        "batch_size": len(job.all_prompts),
        "checkpoint_name": checkpoint_of(job),
        "loras_used": [],
        "status": status,
        "error": (job.error or f"the generation was {job.status}") if status == "failed" else None,
        "generation_time_seconds": round(took, 2) if took is not None else None,
        "outputs": [
            {"filename": i["filename"], "subfolder": i.get("subfolder", ""), "type": i.get("type", "output")}
            for i in job.images
        ],
        "created_at": iso(job.created_at),
        "completed_at": iso(job.finished_at),
    }


def task_row(job: Job) -> dict[str, Any]:
    """A CozyGen job as a row of Spoon Feeder's task history export."""
    row = records.export_row(job)
    return {
        "id": row["id"],
        "name": row["workflow"],
        "type": "image",
        "provider": "comfyui",
        "prompt": row["prompt"],
        "model": row["model"],
        "seed": row["seed"],
        "status": seed_status(job),
        "error": (job.error or f"the generation was {job.status}") if seed_status(job) == "failed" else None,
        "created_at": iso(row["created_at"]),
        "completed_at": iso(row["finished_at"]),
        "images": row["images"],
    }


def check_batch(value: Any) -> int:
    if value is None:
        return 1
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_IMAGES:
        return value
    raise FieldErrors({"batch_size": f"a whole number from 1 to {MAX_IMAGES}, not {value!r}"})


def check_title(value: Any) -> str:
    try:
        return sessions.check_name(value)
    except BadRequest:
        raise FieldErrors({"title": f"a non-empty text of at most {sessions.MAX_NAME} characters"}) from None


def ok(data: Any, status: int = 200) -> web.Response:
    return json_response({"success": True, "data": data}, status=status)


def done(message: str) -> web.Response:
    return json_response({"success": True, "message": message})


def extracted(workflow: dict[str, Any], object_info: dict[str, Any], models: dict[str, list[str]]) -> list[dict]:
    found = []
    for parameter in extract_schema(workflow, object_info, models=models):
        for node_id, field in parameter.targets:
            kind = PARAMETER_TYPES.get(parameter.type, parameter.type)
            found.append({"nodeId": node_id, "field": field, "type": kind, "value": parameter.default})
    return found


class SpoonFeederRoutes:
    """Spoon Feeder's handlers, over the workflow store, the job service and the session service."""

    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    def store(self) -> WorkflowStore:
        return workflow_store(self.state)

    async def metadata(self) -> dict[str, dict[str, Any]]:
        return await self.state.db.execute_fn(lambda conn: documents.read(conn, META, {}))

    async def save_metadata(self, name: str, changes: dict[str, Any] | None) -> dict[str, Any]:
        return await self.state.db.execute_write_fn(
            lambda conn: documents.update_entry(conn, META, name, changes, only_one="is_default")
        )

    async def change_metadata(self, request: web.Request, name: str, changes: dict[str, Any]) -> None:
        """What is kept beside a workflow, changed by those who may change the workflow (its saver, admins;
        404 when it does not exist); making one the default for everyone is an admin's."""
        editor, shelf = editor_of(request, self.state), self.store()
        if changes.get("is_default") and not editor.admin:
            raise Forbidden("only an admin can choose the default workflow, which everyone gets", code="ADMIN_REQUIRED")

        def change(conn: Any) -> None:
            require_existing_change(conn, shelf, name, editor)
            documents.update_entry(conn, META, name, changes, only_one="is_default")

        await self.state.db.execute_write_fn(change)

    def summary(self, name: str, meta: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": name,
            "name": meta.get("name") or name.removesuffix(".json"),
            "description": meta.get("description", ""),
            "profile_id": "local",
            "profile_name": "This ComfyUI",
            "is_default": bool(meta.get("is_default")),
            "generation_count": 0,
            "default_parameters": meta.get("default_parameters", {}),
            "created_at": meta.get("created_at"),
        }

    async def full(self, name: str) -> dict[str, Any]:
        workflow = require_api_format(await asyncio.to_thread(self.store().read, name))
        object_info, models = await self.state.definitions.get()
        meta = (await self.metadata()).get(name, {})
        return {
            **self.summary(name, meta),
            "workflow_json": workflow,
            "extracted_parameters": extracted(workflow, object_info, models),
        }

    async def options(self, _request: web.Request) -> web.Response:
        found = host_options(await asyncio.to_thread(self.state.host.object_info))
        sizes = sorted({size for pair in found["dimensions"]["common"] for size in pair})
        return ok({k: found[k] for k in ("samplers", "schedulers", "checkpoints", "loras")} | {"dimensions": sizes})

    async def list_workflows(self, _request: web.Request) -> web.Response:
        meta = await self.metadata()
        return ok([self.summary(name, meta.get(name, {})) for name in await asyncio.to_thread(self.store().names)])

    async def create(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        title = body.get("name")
        if not isinstance(title, str) or not title.strip():
            raise BadRequest("name the workflow", code="MISSING_NAME")
        name = await save_workflow_as(request, self.state, title.strip().replace("/", "_"), body.get("workflowJson"))
        defaults = body.get("defaultParameters") if isinstance(body.get("defaultParameters"), dict) else {}
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        await self.save_metadata(
            name,
            {
                "name": title.strip(),
                "description": str(body.get("description") or ""),
                "default_parameters": defaults,
                "created_at": now,
            },
        )
        data = await self.full(name)
        return ok({"id": name, "name": data["name"], "extracted_parameters": data["extracted_parameters"]}, status=201)

    async def get_one(self, request: web.Request) -> web.Response:
        return ok(await self.full(request.match_info["workflow_id"]))

    async def update(self, request: web.Request) -> web.Response:
        name, body = workflow_name(request.match_info["workflow_id"]), await read_json(request)
        await asyncio.to_thread(self.store().path, name)  # 404 when it does not exist
        if "workflowJson" in body:
            await save_workflow_as(request, self.state, name, body["workflowJson"])
        changes = {k: str(body[k]) for k in ("name", "description") if isinstance(body.get(k), str)}
        await self.change_metadata(request, name, changes)  # 403 unless the caller may change the workflow
        return ok(await self.full(name))

    async def parameters(self, request: web.Request) -> web.Response:
        name, body = workflow_name(request.match_info["workflow_id"]), await read_json(request)
        await asyncio.to_thread(self.store().path, name)
        defaults = body.get("default_parameters", {})
        if not isinstance(defaults, dict):
            raise BadRequest("default_parameters must be an object", code="INVALID_PARAMETERS")
        changes: dict[str, Any] = {"default_parameters": defaults}
        if "is_default" in body:
            changes["is_default"] = bool(body["is_default"])
        await self.change_metadata(request, name, changes)
        return ok(await self.full(name))

    async def delete(self, request: web.Request) -> web.Response:
        editor, shelf = editor_of(request, self.state), self.store()
        wanted = request.match_info["workflow_id"]
        name = await self.state.db.execute_write_fn(lambda conn: delete_owned(conn, shelf, wanted, editor))
        await self.save_metadata(name, None)
        return ok({"id": name, "deleted": True})

    # Sessions, generations, images, history and health, over the job service.

    async def visible_session(self, request: web.Request) -> sessions.Session:
        session_id = request.match_info["session_id"]
        found = await self.state.sessions.find(caller(request, self.state), session_id)
        if found is None:
            raise NotFound(
                f"Session {session_id} not found; list yours with GET {BASE}/comfyui/sessions", code="SESSION_NOT_FOUND"
            )
        return found

    async def session_meta(self) -> dict[str, dict[str, Any]]:
        return await self.state.db.execute_fn(lambda conn: documents.read(conn, SESSION_META, {}))

    async def save_session_meta(self, session_id: str, changes: dict[str, Any] | None) -> dict[str, Any]:
        return await self.state.db.execute_write_fn(
            lambda conn: documents.update_entry(conn, SESSION_META, session_id, changes)
        )

    @staticmethod
    def session_view(
        request: web.Request, found: sessions.Session, meta: dict[str, Any], counts: dict[str, int]
    ) -> dict[str, Any]:
        return {
            "id": found.id,
            **PROFILE,
            "profile_url": f"{request.scheme}://{request.host}",
            "title": found.name,
            "current_workflow_id": meta.get("current_workflow_id"),
            "last_parameters": meta.get("last_parameters", {}),
            "generation_count": found.job_count,
            "completed_count": counts.get(COMPLETED, 0),
            "failed_count": sum(n for status, n in counts.items() if STATUSES.get(status, "failed") == "failed"),
            "created_at": iso(found.created_at),
            "updated_at": iso(meta.get("updated_at", found.created_at)),
        }

    async def list_sessions(self, request: web.Request) -> web.Response:
        found = await self.state.sessions.mine(caller(request, self.state))
        meta, counts = await self.session_meta(), await self.state.sessions.status_counts(found)
        return ok([self.session_view(request, s, meta.get(s.id, {}), counts.get(s.id, {})) for s in found])

    async def create_session(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        title = body.get("title")
        name = check_title("New session" if title is None else title)
        made = await self.state.sessions.create(caller(request, self.state), name)
        return ok({"id": made.id, **PROFILE, "title": made.name, "generation_count": 0,
                   "created_at": iso(made.created_at)}, status=201)  # fmt: skip

    async def get_session(self, request: web.Request) -> web.Response:
        """The session with its most recent generations (``?limit=``, 20 unless told)."""
        found = await self.visible_session(request)
        limit = integer(request, "limit", 20, floor=1, ceiling=model.MAX_LIMIT)
        listed = await self.state.sessions.jobs(found, limit)
        meta, counts = (await self.session_meta()).get(found.id, {}), await self.state.sessions.status_counts([found])
        data = self.session_view(request, found, meta, counts.get(found.id, {}))
        data["generations"] = [generation(self.state.jobs.live(j.id) or j) for j in listed]
        return ok(data)

    async def update_session(self, request: web.Request) -> web.Response:
        found = await self.visible_session(request)
        title = check_title((await read_json(request)).get("title"))
        await self.state.sessions.rename(found, title)
        meta = await self.save_session_meta(found.id, {"updated_at": time.time()})
        return ok({"id": found.id, "title": title, "updated_at": iso(meta["updated_at"])})

    async def delete_session(self, request: web.Request) -> web.Response:
        """The session and its generations' records (their images stay in ComfyUI's output folder)."""
        found = await self.visible_session(request)
        if await self.state.sessions.delete(found) is None:
            raise Conflict(
                f"session {found.id} still has generations pending or running; wait for them or cancel them "
                "(POST /cozygen/api/jobs/<id>/cancel) first",
                code="SESSION_BUSY",
            )
        await self.save_session_meta(found.id, None)
        return done("Session deleted")

    async def visible_job(self, request: web.Request) -> Job:
        return await self.state.job_service.visible(caller(request, self.state), request.match_info["job_id"])

    async def parameter_names(self, name: str) -> set[str]:
        workflow = require_api_format(await asyncio.to_thread(self.store().read, name))
        object_info, models = await self.state.definitions.get()
        return {p.name for p in extract_schema(workflow, object_info, models=models)}

    async def chosen_workflow(self, asked: Any, meta: dict[str, Any], given: dict[str, Any]) -> str:
        """The workflow a generation runs on (see the module's docstring); fills in ``checkpoint_name`` for
        the txt2img workflow when it was left out."""
        names = await asyncio.to_thread(self.store().names)
        if asked is not None:
            if not isinstance(asked, str) or asked not in names:
                raise FieldErrors({"workflow_id": f"names no workflow; list them with GET {BASE}/comfyui/workflows"})
            return asked
        current = meta.get("current_workflow_id")
        if current in names:
            return current
        found = await checkpoints(self.state.host)
        checkpoint = given.get("checkpoint_name")
        if checkpoint == PROCEDURAL_MODEL or (checkpoint is None and not found):
            return PROCEDURAL
        if checkpoint is None:
            given["checkpoint_name"] = found[0]
        elif checkpoint not in found:
            raise FieldErrors({"checkpoint_name": f"one of: {', '.join([*found, PROCEDURAL_MODEL])}"})
        return TXT2IMG

    async def generate(self, request: web.Request) -> web.Response:
        found = await self.visible_session(request)
        body = await read_json(request)
        prompt, negative = body.get("prompt_text"), body.get("negative_prompt")
        parameters = body.get("parameters")
        errors: dict[str, str] = {}
        if parameters is None:
            parameters = {}
        elif not isinstance(parameters, dict):
            errors["parameters"] = "an object: width, height, steps, cfg_scale, seed, sampler_name, scheduler, ..."
            parameters = {}
        if not isinstance(prompt, str) or not prompt.strip():
            errors["prompt_text"] = "required: a description of the image"
        if negative is not None and not isinstance(negative, str):
            errors["negative_prompt"] = "text, or leave it out"
        try:
            count = check_batch(parameters.get("batch_size"))
        except FieldErrors as exc:
            errors.update(exc.errors)
        if errors:
            raise FieldErrors(errors)
        meta = (await self.session_meta()).get(found.id, {})
        given = dict(parameters)
        workflow = await self.chosen_workflow(body.get("workflow_id"), meta, given)
        defaults = (await self.metadata()).get(workflow, {}).get("default_parameters") or {}
        given = {**defaults, **given} if isinstance(defaults, dict) else given
        values = job_values(await self.parameter_names(workflow), prompt, negative, given)
        try:
            asking = caller(request, self.state)
            job, _ = await self.state.job_service.submit(
                asking, workflow, values, num_images=count, session_id=found.id
            )
        except FieldErrors as exc:
            raise renamed(exc, FIELD_NAMES) from None
        data = generation(job)
        last = {**data["parameters"], "batch_size": count, "checkpoint_name": data["checkpoint_name"]}
        changes: dict[str, Any] = {"last_parameters": last, "updated_at": time.time()}
        if body.get("workflow_id") is not None:
            changes["current_workflow_id"] = workflow
        await self.save_session_meta(found.id, changes)
        return ok(data, status=201)

    async def get_generation(self, request: web.Request) -> web.Response:
        return ok(generation(await self.visible_job(request)))

    async def generation_workflow(self, request: web.Request) -> web.Response:
        """The exact graph that ran (seeds resolved), for reproduction."""
        job = await self.visible_job(request)
        try:
            stored = await self.state.job_service.with_graph(caller(request, self.state), job.id)
        except NotFound:
            raise NotFound(f"generation {job.id} has no recorded workflow", code="NO_GRAPH") from None
        return ok(
            {
                "generation_id": job.id,
                "workflow_id": job.workflow,
                "workflow_json": stored.graph,
                "parameters": {**seed_parameters(stored), "checkpoint_name": checkpoint_of(stored)},
                "prompt_text": records.prompt_text(stored.params),
                "negative_prompt": stored.params.get("negative_prompt"),
            }
        )

    async def delete_generation(self, request: web.Request) -> web.Response:
        """The generation's record (its images stay in ComfyUI's output folder)."""
        job = await self.visible_job(request)
        if not job.finished:
            raise Conflict(
                f"generation {job.id} is still {seed_status(job)}; wait for it or cancel it "
                f"(POST /cozygen/api/jobs/{job.id}/cancel) first",
                code="JOB_NOT_FINISHED",
            )
        if not await self.state.job_service.forget(job):
            raise NotFound(f"Generation {job.id} not found", code="JOB_NOT_FOUND")
        return done("Generation deleted")

    def folder(self, kind: str) -> Path:
        if kind == "temp":
            return Path(self.state.host.temp_directory())
        if kind not in self.state.roots:
            raise HostNotReady("CozyGen is still starting; try again in a moment")
        return self.state.roots[kind]

    async def image(self, request: web.Request) -> web.StreamResponse:
        """An image (or video) from ComfyUI's output, input or temp folder, never from anywhere else."""
        kind = request.query.get("type", "").strip() or "output"
        if kind not in FOLDERS:
            raise BadRequest(f"type must be one of {', '.join(FOLDERS)}, not {kind!r}", code="INVALID_TYPE")
        root = self.folder(kind)

        def find() -> tuple[Path, str, str]:
            path, sub, name = resolve(root, request.query.get("subfolder", ""), request.match_info["filename"])
            if not kind_of(name):
                raise BadRequest(f"{name!r} is not an image or a video", code="NOT_MEDIA")
            if not path.is_file():
                shown = f"{sub}/{name}" if sub else name
                raise NotFound(f"no image {shown!r} in ComfyUI's {kind} folder", code="FILE_NOT_FOUND")
            return path, sub, name

        found, sub, name = await asyncio.to_thread(find)
        await require_visible_path(request, self.state, kind, sub, name)
        return web.FileResponse(found, headers={"Cache-Control": "private, max-age=3600"})

    async def export_history(self, request: web.Request) -> web.StreamResponse:
        """Generations as Spoon Feeder task rows (``format`` json or csv, ``dateFrom``/``dateTo``)."""
        kind = (request.query.get("format") or "json").strip().lower()
        if kind not in ("csv", "json"):
            raise BadRequest(f"format must be csv or json, not {kind!r}", code="INVALID_FORMAT")
        asking = caller(request, self.state)
        chosen = Filters(
            username=None if asking.sees_all else asking.username,
            since=timestamp(request, "dateFrom"),
            until=timestamp(request, "dateTo", end=True),
        )
        rows = [task_row(j) for j in await self.state.job_service.exported(chosen)]
        filename = f"tasks_export_{dt.datetime.now(dt.timezone.utc).date().isoformat()}.{kind}"
        if kind == "json":
            return ok({"filename": filename, "content": rows})
        disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
        text = export_csv(rows, TASK_COLUMNS)
        return web.Response(text=text, content_type="text/csv", charset="utf-8", headers=disposition)

    async def health(self, _request: web.Request) -> web.Response:
        """Spoon Feeder's health: the database and ComfyUI (this process); Redis and Ollama are not used."""
        try:
            await self.state.db.execute_fn(lambda conn: conn.execute("SELECT 1").fetchone())
            database = "connected"
        except (CozyGenError, sqlite3.Error):
            database = "disconnected"
        try:
            self.state.host.queue_snapshot()  # ComfyUI's own prompt queue answers
            comfyui = "connected"
        except (RuntimeError, AttributeError, ImportError):
            comfyui = "disconnected"
        healthy = database == comfyui == "connected"
        data = {
            "status": "healthy" if healthy else "unhealthy",
            "timestamp": iso(time.time()),
            "services": {"database": database, "redis": "not_used", "ollama": "not_used", "comfyui": comfyui},
        }
        return json_response({"success": True, "data": data}, status=200 if healthy else 503)


def add_routes(routes: Routes, state: CozyGenState) -> None:
    r = SpoonFeederRoutes(state)
    routes.get(f"{BASE}/comfyui/options", access=VIEWER)(in_seed_shape(r.options))
    routes.get(f"{BASE}/comfyui/workflows", access=VIEWER)(in_seed_shape(r.list_workflows))
    routes.post(f"{BASE}/comfyui/workflows", access=USER)(in_seed_shape(r.create))
    routes.get(f"{BASE}/comfyui/workflows/{{workflow_id}}", access=VIEWER)(in_seed_shape(r.get_one))
    routes.put(f"{BASE}/comfyui/workflows/{{workflow_id}}", access=USER)(in_seed_shape(r.update))
    routes.patch(f"{BASE}/comfyui/workflows/{{workflow_id}}/parameters", access=USER)(in_seed_shape(r.parameters))
    routes.delete(f"{BASE}/comfyui/workflows/{{workflow_id}}", access=USER)(in_seed_shape(r.delete))
    routes.get(f"{BASE}/comfyui/sessions", access=VIEWER)(in_seed_shape(r.list_sessions))
    routes.post(f"{BASE}/comfyui/sessions", access=USER)(in_seed_shape(r.create_session))
    routes.get(f"{BASE}/comfyui/sessions/{{session_id}}", access=VIEWER)(in_seed_shape(r.get_session))
    routes.put(f"{BASE}/comfyui/sessions/{{session_id}}", access=USER)(in_seed_shape(r.update_session))
    routes.delete(f"{BASE}/comfyui/sessions/{{session_id}}", access=USER)(in_seed_shape(r.delete_session))
    routes.post(f"{BASE}/comfyui/sessions/{{session_id}}/generate", access=USER)(in_seed_shape(r.generate))
    routes.get(f"{BASE}/comfyui/generations/{{job_id}}", access=VIEWER)(in_seed_shape(r.get_generation))
    routes.get(f"{BASE}/comfyui/generations/{{job_id}}/workflow", access=VIEWER)(in_seed_shape(r.generation_workflow))
    routes.delete(f"{BASE}/comfyui/generations/{{job_id}}", access=USER)(in_seed_shape(r.delete_generation))
    routes.get(f"{BASE}/comfyui/image/{{filename}}", access=VIEWER)(in_seed_shape(r.image))
    routes.get(f"{BASE}/tasks/history/export", access=VIEWER)(in_seed_shape(r.export_history))
    routes.get(f"{BASE}/health", access=VIEWER)(in_seed_shape(r.health))
