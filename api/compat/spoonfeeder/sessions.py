"""Spoon Feeder's sessions and generations, over CozyGen's session and job services.

A session is a CozyGen session (its title is the session's name); what Spoon Feeder keeps beside it (the
current workflow, the last parameters) lives in the ``documents`` table. A generation is a CozyGen job: its id
is the job id, its status ``pending``, ``running``, ``completed`` or ``failed``.

A session is made with a ComfyUI profile (``profileId``: a backend's id, ``local`` when left out) and its
generations are pinned to that backend; the local one pins nothing while it is the only backend (today's path).

A generation runs on the request's ``workflow_id``, else on the session's current workflow (the last
``workflow_id`` it was given), else on the shipped txt2img workflow with ``checkpoint_name`` (or the first
checkpoint), or on the weights-free procedural form when the checkpoint is ``procedural`` or ComfyUI has none.
``prompt_text`` goes into the workflow's positive prompt (a workflow without one is refused) and
``negative_prompt`` into its negative prompt when it has one (see :mod:`.prompts`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ....core.backends.model import LOCAL_ID, Backend
from ....core.errors import BadRequest, Conflict, CozyGenError, NotFound
from ....core.graph.fill import FieldErrors
from ....core.graph.models import PROCEDURAL_MODEL
from ....core.graph.parameter import Parameter
from ....core.jobs import groups, model
from ....core.jobs.model import COMPLETED, Job
from ....core.store import documents
from ...jobs import caller
from ...params import integer
from ...responses import read_json
from ...state import CozyGenState
from ...workflows import form_of
from ..common import PROCEDURAL, TXT2IMG, checkpoints, renamed, square_size
from .profiles import is_admin
from .prompts import prompt_names
from .shapes import (
    BASE,
    GENERATION_STATUSES,
    PARAMETERS,
    PROFILE,
    check_batch,
    check_title,
    checkpoint_of,
    done,
    generation,
    generation_status,
    iso,
    ok,
    origin,
    prompts_of,
    seed_parameters,
)
from .workflows import WorkflowRoutes

SESSION_META = "spoonfeeder_sessions"
TEXT_TYPES = ("string", "text")
# the workflows' parameter names -> Spoon Feeder's, for field errors
FIELD_NAMES = {name: spoon for spoon, name in PARAMETERS.items()} | {"size": "width"}


def job_values(
    schema: list[Parameter], prompt: str, negative: Any, given: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """A workflow's values from a Spoon Feeder request, and the Spoon Feeder names of its prompt fields (for
    field errors). Parameters the workflow does not have are left out; a workflow of one square ``size`` takes
    it from width and height. FieldErrors when the workflow has no prompt to put ``prompt_text`` in."""
    names = {p.name for p in schema}
    positive, negative_name = prompt_names(p.name for p in schema if p.type in TEXT_TYPES)
    if positive is None:
        raise FieldErrors({"prompt_text": "this workflow has no prompt field to put it in; choose another workflow"})
    values: dict[str, Any] = {positive: prompt}
    if negative and negative_name is not None:
        values[negative_name] = negative
    values.update({name: given[k] for k, name in PARAMETERS.items() if given.get(k) is not None and name in names})
    if "size" in names and "width" not in names:
        size = square_size(given.get("width"), given.get("height"))
        if size is not None:
            values["size"] = size
    if "seed" in names:
        values.setdefault("seed", -1)  # Spoon Feeder's default: a random seed, resolved when the job is filled
    return values, {positive: "prompt_text", **({negative_name: "negative_prompt"} if negative_name else {})}


def check_generate(body: dict[str, Any]) -> tuple[str, str | None, dict[str, Any], int]:
    """prompt_text, negative_prompt, parameters and batch size of a generate request, or FieldErrors."""
    prompt, negative, parameters = body.get("prompt_text"), body.get("negative_prompt"), body.get("parameters")
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
    return str(prompt), negative or None, dict(parameters), count


class SessionRoutes:
    """Sessions, generating in them, and generations."""

    def __init__(self, state: CozyGenState, workflows: WorkflowRoutes) -> None:
        self.state, self.workflows = state, workflows

    async def visible_session(self, request: web.Request) -> groups.Session:
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

    def profile(self, chosen: Any) -> Backend | None:
        """The backend a ``profileId`` names (None: this ComfyUI); 404 in the seed's shape when it names none (an
        LLM profile included), 400 when it is disabled."""
        if chosen is None or chosen == LOCAL_ID and not self.state.backends_started:
            return None
        missing = NotFound(f"Profile {chosen} not found; list them with GET {BASE}/profiles?provider=comfyui",
                           code="PROFILE_NOT_FOUND")  # fmt: skip
        if not isinstance(chosen, str) or not self.state.backends_started:
            raise missing
        try:
            backend = self.state.backends.get(chosen)
        except NotFound:
            raise missing from None
        if not backend.enabled:
            raise BadRequest(
                f"Profile {backend.name} is disabled; an admin enables it (PUT {BASE}/profiles/{backend.id} with "
                "enabled: true), or choose another profile",
                code="PROFILE_DISABLED",
            )
        return None if backend.local else backend

    def profile_view(self, request: web.Request, profile_id: Any) -> dict[str, Any]:
        """profile_id, profile_name and profile_url of a session (its backend's URL for admins only)."""
        if not isinstance(profile_id, str) or profile_id == LOCAL_ID:
            return {**PROFILE, "profile_url": origin(request)}
        try:
            backend = self.state.backends.get(profile_id)
        except CozyGenError:  # removed since (or the backends did not start)
            return {"profile_id": profile_id, "profile_name": profile_id, "profile_url": None}
        url = backend.url if is_admin(request) else None
        return {"profile_id": backend.id, "profile_name": backend.name, "profile_url": url}

    def pin(self, meta: Mapping[str, Any]) -> str | None:
        """What a session's generations are pinned to: its profile's backend (this ComfyUI's only when others are
        enabled: alone, it needs no pin and a job takes today's path)."""
        chosen = meta.get("profile_id")
        alone = not self.state.backends_started or self.state.backends.only_local
        if not isinstance(chosen, str) or chosen == LOCAL_ID and alone:
            return None
        return chosen

    def session_view(
        self, request: web.Request, found: groups.Session, meta: dict[str, Any], counts: dict[str, int]
    ) -> dict[str, Any]:
        return {
            "id": found.id,
            **self.profile_view(request, meta.get("profile_id")),
            "title": found.name,
            "current_workflow_id": meta.get("current_workflow_id"),
            "last_parameters": meta.get("last_parameters", {}),
            "generation_count": found.job_count,
            "completed_count": counts.get(COMPLETED, 0),
            "failed_count": sum(n for status, n in counts.items() if status not in GENERATION_STATUSES),
            "created_at": iso(found.created_at),
            "updated_at": iso(meta.get("updated_at", found.created_at)),
        }

    async def one_view(self, request: web.Request, found: groups.Session) -> dict[str, Any]:
        meta, counts = (await self.session_meta()).get(found.id, {}), await self.state.sessions.status_counts([found])
        return self.session_view(request, found, meta, counts.get(found.id, {}))

    async def list_sessions(self, request: web.Request) -> web.Response:
        found = await self.state.sessions.mine(caller(request, self.state))
        meta, counts = await self.session_meta(), await self.state.sessions.status_counts(found)
        return ok([self.session_view(request, s, meta.get(s.id, {}), counts.get(s.id, {})) for s in found])

    async def create_session(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        chosen, title = body.get("profileId"), body.get("title")
        backend = self.profile(chosen)
        name = check_title("New session" if title is None else title)
        made = await self.state.sessions.create(caller(request, self.state), name)
        meta = {"profile_id": backend.id if backend is not None else LOCAL_ID}
        if chosen is not None:  # left out: this ComfyUI, no pin (as before profiles named backends)
            meta = await self.save_session_meta(made.id, meta)
        return ok(self.session_view(request, made, meta, {}), status=201)

    async def get_session(self, request: web.Request) -> web.Response:
        """The session with its most recent generations (``?limit=``, 20 unless told)."""
        found = await self.visible_session(request)
        limit = integer(request, "limit", 20, floor=1, ceiling=model.MAX_LIMIT)
        listed = await self.state.sessions.jobs(found, limit)
        data = await self.one_view(request, found)
        data["generations"] = [generation(self.state.jobs.live(j.id) or j) for j in listed]
        return ok(data)

    async def update_session(self, request: web.Request) -> web.Response:
        found = await self.visible_session(request)
        title = check_title((await read_json(request)).get("title"))
        await self.state.sessions.rename(found, title)
        await self.save_session_meta(found.id, {"updated_at": time.time()})
        return ok(await self.one_view(request, found))

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

    async def schema_of(self, name: str) -> list[Parameter]:
        schema = (await form_of(self.state, self.workflows.store(), name)).schema
        return schema

    async def chosen_workflow(self, asked: Any, meta: dict[str, Any], given: dict[str, Any]) -> str:
        """The workflow a generation runs on (see the module's docstring); fills in ``checkpoint_name`` for
        the txt2img workflow when it was left out."""
        names = await asyncio.to_thread(self.workflows.store().names)
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

    async def submit(
        self,
        request: web.Request,
        asked: Any,
        meta: dict[str, Any],
        generate: tuple[str, str | None, dict[str, Any], int],
        session_id: str | None = None,
        backend: Any = None,
    ) -> Job:
        """Queue a generation (``generate``: what :func:`check_generate` read) on the workflow it runs on (see the
        module's docstring), pinned to ``backend`` (a profile's id or name) when given; field errors under Spoon
        Feeder's names."""
        prompt, negative, given, count = generate
        workflow = await self.chosen_workflow(asked, meta, given)
        given = {**await self.workflows.defaults(workflow), **given}
        values, prompt_fields = job_values(await self.schema_of(workflow), prompt, negative, given)
        try:
            asking = caller(request, self.state)
            job, _ = await self.state.job_service.submit(
                asking, workflow, values, num_images=count, session_id=session_id, backend=backend
            )
        except FieldErrors as exc:
            raise renamed(exc, {**FIELD_NAMES, **prompt_fields}) from None
        return job

    async def generate(self, request: web.Request) -> web.Response:
        found = await self.visible_session(request)
        body = await read_json(request)
        prompt, negative, given, count = check_generate(body)
        meta = (await self.session_meta()).get(found.id, {})
        generate = (prompt, negative, given, count)
        job = await self.submit(request, body.get("workflow_id"), meta, generate, found.id, self.pin(meta))
        data = generation(job)
        last = {**data["parameters"], "batch_size": count, "checkpoint_name": data["checkpoint_name"]}
        changes: dict[str, Any] = {"last_parameters": {k: v for k, v in last.items() if v is not None}}
        changes["updated_at"] = time.time()
        if body.get("workflow_id") is not None:
            changes["current_workflow_id"] = job.workflow
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
        prompt, negative = prompts_of(stored.params)
        return ok(
            {
                "generation_id": job.id,
                "workflow_id": job.workflow,
                "workflow_json": stored.graph,
                "parameters": {**seed_parameters(stored), "checkpoint_name": checkpoint_of(stored)},
                "prompt_text": prompt,
                "negative_prompt": negative,
            }
        )

    async def delete_generation(self, request: web.Request) -> web.Response:
        """The generation's record (its images stay in ComfyUI's output folder)."""
        job = await self.visible_job(request)
        if not job.finished:
            raise Conflict(
                f"generation {job.id} is still {generation_status(job)}; wait for it or cancel it "
                f"(POST /cozygen/api/jobs/{job.id}/cancel) first",
                code="JOB_NOT_FINISHED",
            )
        if not await self.state.job_service.forget(job):
            raise NotFound(f"Generation {job.id} not found", code="JOB_NOT_FOUND")
        return done("Generation deleted")
