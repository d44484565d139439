"""Workflows, choices, aliases, workflow types and presets (seed 004 paths and shapes kept).

Who may change what: a workflow, and its type, its saver and admins (``core.workflows.store``: shipped
examples and files without an owner, admins only); the aliases, which every job's prompts expand, admins
only; presets are each user's own. The workflows saved in ComfyUI's editor are read, never written: each
user sees their own folder's (``core.workflows.editor``), as ``editor/<folder>/<file>.json``.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from ..core.accounts.access import ADMIN, USER, VIEWER
from ..core.comfyui import partner
from ..core.errors import BadRequest, Conflict, NotFound
from ..core.gallery.service import item
from ..core.graph.check import check
from ..core.graph.fill import Filled, fill
from ..core.graph.node_settings import node_overrides
from ..core.graph.parameter import Parameter
from ..core.graph.ui_format import checked, is_ui_workflow, to_api
from ..core.graph.ui_format.text_replacements import replace_dates
from ..core.host import Host
from ..core.jobs.service import Caller
from ..core.prompts.wildcards import has_choices
from ..core.store import documents
from ..core.workflows import presets
from ..core.workflows.checks import WorkflowChecks
from ..core.workflows.latest import latest_outputs
from ..core.workflows.store import Editor, WorkflowStore, require_api_format, require_existing_change, save_owned
from .auth.credentials import current_user
from .definitions import Form
from .jobs import caller as job_caller
from .jobs import owner as job_owner
from .jobs import sees_everyones
from .model_sources import with_sources
from .params import flag
from .prompts import library as wildcard_library
from .responses import json_response, read_json
from .routing import Routes
from .seed_errors import seed_route
from .state import CozyGenState
from .workflow_events import add_watcher, editor_root

SHIPPED = Path(__file__).resolve().parent.parent / "workflows"
CHOICE_ALIASES = {"samplers_list": "sampler", "schedulers_list": "scheduler"}
# Seed 004's answers to the errors of its workflow routes (api/seed_errors.py)
WORKFLOW_ERRORS = {
    "WORKFLOW_NOT_FOUND": (NotFound, "not found"),
    "INVALID_PATH": (NotFound, "not found"),  # a name that cannot be a workflow's file
    "MISSING_FILENAME": (NotFound, "not found"),
    "BAD_JSON": (BadRequest, "bad json"),
}
TYPE_ERRORS = {
    "MISSING_WORKFLOW": (BadRequest, "Missing workflow"),
    "INVALID_WORKFLOW_MODE": (BadRequest, "Invalid workflow mode"),
}
PRESET_ERRORS = {
    "MISSING_WORKFLOW": (BadRequest, "Missing workflow"),
    "INVALID_PRESET": (BadRequest, "Invalid preset"),
    "MISSING_PRESET_NAME": (BadRequest, "Missing preset name"),
}


def editor_of(request: web.Request, state: CozyGenState) -> Editor:
    """Who is changing a workflow: with auth off, anyone may change anything (as before accounts)."""
    user = current_user(request)
    if not state.auth_enabled or user is None:
        return Editor(user.username if user else None, admin=True)
    return Editor(user.username, admin=user.role == ADMIN)


async def save_workflow_as(request: web.Request, state: CozyGenState, name: Any, data: Any) -> str:
    """Save a workflow for the request's user if they may (403 otherwise); returns its file name."""
    store, editor = workflow_store(state), editor_of(request, state)
    filename, text = await asyncio.to_thread(store.prepare, name, data)
    return await state.db.execute_write_fn(lambda conn: save_owned(conn, store, filename, text, editor))


def preset_owner(request: web.Request) -> str:
    """Presets belong to the signed-in user; with auth off everyone is "default", as in the seed."""
    user = current_user(request)
    return user.username if user else "default"


async def choices_for(host: Host, kind: str, *, refresh: bool = False) -> list[str]:
    kind = CHOICE_ALIASES.get(kind, kind)
    if kind == "sampler":
        return host.sampler_names()
    if kind == "scheduler":
        return host.scheduler_names()
    try:
        return await asyncio.to_thread(host.model_files, kind, refresh=refresh)
    except KeyError:
        raise BadRequest(
            f"invalid type {kind}",
            code="INVALID_CHOICE_TYPE",
            extra={"detail": f"use sampler, scheduler or a model folder ({', '.join(host.model_folders())})"},
        ) from None


def workflow_store(state: CozyGenState, editor: Path | None = None) -> WorkflowStore:
    """The shipped workflows and the user's (in the data folder), as one store; with ``editor``, also the
    editor's saved workflows in that folder (see ``users_store``)."""
    return WorkflowStore(SHIPPED, state.db_ready_data_dir / "workflows", editor)


def users_store(request: web.Request, state: CozyGenState) -> WorkflowStore:
    """The store as the request's user sees it: CozyGen's workflows and their editor folder's."""
    user = current_user(request)
    admin = user is not None and user.role == ADMIN
    return workflow_store(state, editor_root(state, user.username if user else None, admin=admin))


def callers_store(state: CozyGenState, caller: Caller | None) -> WorkflowStore:
    """The store as a job's caller sees it (no editor workflows without a caller)."""
    if caller is None:
        return workflow_store(state)
    return workflow_store(state, editor_root(state, caller.username, admin=caller.sees_all))


def require_revision(store: WorkflowStore, name: str, revision: Any) -> None:
    """409 ``WORKFLOW_CHANGED`` when the workflow's file is no longer the one the form was built from."""
    if revision in (None, ""):
        return
    if not isinstance(revision, str) or store.revision(name) != revision:
        raise Conflict(
            f"{name} changed in the editor since you opened it: reload the form",
            code="WORKFLOW_CHANGED",
            extra={"workflow": name, "revision": store.revision(name)},
        )


async def form_of(state: CozyGenState, store: WorkflowStore, name: str, definitions: Any = None) -> Form:
    """A workflow's API graph (an editor-format file converted) and its form (App mode, CozyGen's nodes or the
    graph's own fields), kept while the file and ComfyUI's definitions stay the same."""
    definitions = definitions if definitions is not None else await state.definitions.get()
    forms = state.definitions.forms
    form = forms.known(store, name, definitions)  # a job submission's usual case: nothing to read
    return form if form is not None else await asyncio.to_thread(forms.read, store, name, definitions)


async def fill_named(
    state: CozyGenState, name: str, values: Any, caller: Caller | None = None, revision: Any = None
) -> tuple[list[Parameter], Filled]:
    """Read a stored workflow (as ``caller`` sees them), take its form from the host's definitions, and fill
    ``values`` in; with ``revision``, only if the file is still that revision (409 ``WORKFLOW_CHANGED``).

    Raises ``FieldErrors`` (400, every bad field at once) and the store's 404/400s.
    """
    if not isinstance(values, dict):
        raise BadRequest('send {"values": {"<parameter>": value, ...}}', code="INVALID_VALUES")
    definitions = await state.definitions.get()
    store = callers_store(state, caller)
    if revision not in (None, ""):
        await asyncio.to_thread(require_revision, store, name, revision)
    form = await form_of(state, store, name, definitions)
    overrides = node_overrides(form.graph, definitions[0], values, taken=(p.name for p in form.schema))  # all settings
    schema = [*form.schema, *overrides] if overrides else form.schema
    texts = [*values.values(), *(p.default for p in schema)]
    chosen = any(isinstance(text, str) and has_choices(text) for text in texts)
    wildcards = await asyncio.to_thread(wildcard_library(state).load) if chosen else None
    filled = fill(form.graph, schema, values, aliases=await aliases_of(state), wildcards=wildcards)
    filled.outputs = list(form.outputs)
    replace_dates(filled.graph, datetime.now())  # the editor's %date:yyyy-MM-dd% in a save node's prefix
    return schema, filled


async def aliases_of(state: CozyGenState) -> dict[str, str]:
    if state.aliases is None:
        found = await state.db.execute_fn(lambda conn: documents.read(conn, documents.ALIASES, {}))
        if state.aliases is None:  # a save while reading wins
            state.aliases = found
    return state.aliases


def change_workflow_type(
    conn: Any, shelf: WorkflowStore, editor: Editor, workflow: str, mode: str | None
) -> dict[str, str]:
    """Set (or clear, with ``mode`` None) a workflow's type, if ``editor`` may (in the writer thread)."""
    if not editor.admin:  # a user types their own workflows
        require_existing_change(conn, shelf, workflow, editor)
    types = documents.read(conn, documents.WORKFLOW_TYPES, {})
    if mode is None:
        types.pop(workflow, None)
    else:
        types[workflow] = mode
    documents.write(conn, documents.WORKFLOW_TYPES, types)
    return types


def remove_preset(conn: Any, owner: str, workflow: str, preset: Any) -> list[dict[str, Any]]:
    presets.delete_preset(conn, owner, workflow, preset)
    return presets.list_presets(conn, owner, workflow)


def upsert_preset(conn: Any, owner: str, workflow: str, preset: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    saved = presets.save_preset(conn, owner, workflow, preset)
    return saved, presets.list_presets(conn, owner, workflow)


class WorkflowRoutes:
    """Workflows, choices, aliases, workflow types, presets, models and folders, over the state and its host."""

    def __init__(self, state: CozyGenState) -> None:
        self.state = state
        self.checks = WorkflowChecks()

    def store(self, request: web.Request) -> WorkflowStore:
        return users_store(request, self.state)

    async def list_workflows(self, request: web.Request) -> web.Response:
        """Seed 004's ``{workflows: [names]}`` of CozyGen's own workflows (single file names, as its clients
        expect: the original app puts a name in a URL unencoded). With ``warnings=1`` (the app's one request)
        the caller's editor workflows too, each workflow's check (what this host lacks to run it, or why it does
        not convert), kept per file, ``details`` (source, folder, revision) and ``latest``, each workflow's
        newest output of the caller's jobs (its card's thumbnail)."""
        store = self.store(request)
        if not flag(request, "warnings"):
            return json_response({"workflows": await asyncio.to_thread(store.cozygen_names)})
        definitions = await self.state.definitions.get()
        entries, warnings = await asyncio.to_thread(self.checks.detailed, store, definitions)
        key_set = bool(self.state.settings.get(partner.KEY_SETTING))
        warnings = {name: partner.with_key_state(report, key_set=key_set) for name, report in warnings.items()}
        names = [e.name for e in entries]
        details = {e.name: {"source": e.source, "folder": e.folder, "revision": e.revision} for e in entries}
        # the caller's own jobs, as their history lists them (admins', and anyone's with auth off: every job);
        # an editor workflow's name is the caller's own file, so its thumbnail is of the caller's jobs alone
        mine = None if sees_everyones(request, self.state) else job_owner(request)
        own = [e.name for e in entries if e.source == "cozygen"]
        theirs = [e.name for e in entries if e.source == "editor"]
        me = job_owner(request)

        def newest(conn: Any) -> dict[str, Any]:
            return {**latest_outputs(conn, own, mine), **latest_outputs(conn, theirs, me)}

        rows = await self.state.db.execute_fn(newest)
        latest = {name: item(row) for name, row in rows.items()}
        return json_response({"workflows": names, "warnings": warnings, "latest": latest, "details": details})

    @seed_route(WORKFLOW_ERRORS)
    async def get_workflow(self, request: web.Request) -> web.Response:
        """The workflow's file; an editor-format one as the API graph its clients fill (converted)."""
        store = self.store(request)
        data = await asyncio.to_thread(store.read, request.match_info["filename"])
        if is_ui_workflow(data):
            object_info, _ = await self.state.definitions.get()
            data = await asyncio.to_thread(to_api, data, object_info)
        return json_response(data)

    async def save_workflow(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        name = await save_workflow_as(request, self.state, request.match_info["filename"], body)
        return json_response({"status": "ok", "filename": name})

    async def workflow_schema(self, request: web.Request) -> web.Response:
        """The form, and the file's ``revision`` (a job may carry it: 409 if the file changed since)."""
        name, store = request.match_info["filename"], self.store(request)
        definitions = await self.state.definitions.get(refresh=flag(request, "refresh"))
        revision = await asyncio.to_thread(store.revision, name)
        form = await form_of(self.state, store, name, definitions)
        parameters = [p.to_dict() for p in form.schema]
        return json_response({"workflow": name, "parameters": parameters, "revision": revision})

    async def fill_workflow(self, request: web.Request) -> web.Response:
        """Validate values against the schema and return the graph ready to queue (or every field error)."""
        name, body = request.match_info["filename"], await read_json(request)
        caller = job_caller(request, self.state)
        _, filled = await fill_named(self.state, name, body.get("values", {}), caller, body.get("revision"))
        return json_response({"workflow": name, "prompt": filled.graph, "params": filled.params, "raw": filled.raw})

    def with_key(self, report: dict[str, Any], graph: Any, object_info: Any) -> dict[str, Any]:
        """The check, with ``missing_key`` for a graph of partner nodes while no Comfy API key is stored."""
        key_set = bool(self.state.settings.get(partner.KEY_SETTING))
        return partner.key_report(report, graph, object_info, key_set=key_set)

    async def check_reply(self, request: web.Request, workflow: Any) -> web.Response:
        object_info, models = await self.state.definitions.get(refresh=flag(request, "refresh"))
        graph = require_api_format(workflow)
        report = self.with_key(check(graph, object_info, models), graph, object_info)
        return json_response(await with_sources(request, self.state, report))

    async def check_saved(self, request: web.Request) -> web.Response:
        data = await asyncio.to_thread(self.store(request).read, request.match_info["filename"])
        if is_ui_workflow(data):
            object_info, models = await self.state.definitions.get(refresh=flag(request, "refresh"))
            conversion = await asyncio.to_thread(checked, data, object_info, models)
            report = self.with_key(conversion.report, conversion.prompt, object_info)
            return json_response(await with_sources(request, self.state, report, data))  # its own models list too
        return await self.check_reply(request, data)

    async def check_posted(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        return await self.check_reply(request, body.get("workflow", body) if isinstance(body, dict) else body)

    async def get_choices(self, request: web.Request) -> web.Response:
        kind = request.query.get("type", "").strip()
        if not kind:
            raise BadRequest(
                "missing type", code="MISSING_TYPE", extra={"detail": "ask for sampler, scheduler or a model folder"}
            )
        refresh = flag(request, "refresh") or bool(request.query.get("cache_bust"))
        if refresh:
            self.state.definitions.invalidate()
        return json_response({"choices": await choices_for(self.state.host, kind, refresh=refresh)})

    # -- aliases and workflow types ---------------------------------------------------
    async def get_aliases(self, _request: web.Request) -> web.Response:
        return json_response(await aliases_of(self.state))

    async def save_aliases(self, request: web.Request) -> web.Response:
        aliases = documents.validate_aliases(await read_json(request))
        await self.state.db.execute_write_fn(lambda conn: documents.write(conn, documents.ALIASES, aliases))
        self.state.aliases = aliases
        return json_response({"status": "ok"})

    async def get_workflow_types(self, _request: web.Request) -> web.Response:
        types = await self.state.db.execute_fn(lambda conn: documents.read(conn, documents.WORKFLOW_TYPES, {}))
        return json_response({"workflows": types, "choices": documents.TYPE_CHOICES})

    @seed_route(TYPE_ERRORS)
    async def set_workflow_type(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        workflow = presets.workflow_name(body.get("workflow"))
        mode = documents.workflow_type(body.get("mode"))
        change = functools.partial(
            change_workflow_type,
            shelf=self.store(request),
            editor=editor_of(request, self.state),
            workflow=workflow,
            mode=mode,
        )
        return json_response({"status": "ok", "workflows": await self.state.db.execute_write_fn(change)})

    # -- presets ----------------------------------------------------------------------
    async def get_presets(self, request: web.Request) -> web.Response:
        owner, workflow = preset_owner(request), request.query.get("workflow", "").strip()
        if not workflow:
            grouped = await self.state.db.execute_fn(lambda conn: presets.all_presets(conn, owner))
            return json_response({"workflows": grouped, "user": owner})
        found = await self.state.db.execute_fn(lambda conn: presets.list_presets(conn, owner, workflow))
        return json_response({"workflow": workflow, "presets": found, "user": owner})

    @seed_route(PRESET_ERRORS)
    async def change_presets(self, request: web.Request) -> web.Response:
        body, owner = await read_json(request), preset_owner(request)
        workflow = presets.workflow_name(body.get("workflow"))
        if "delete" in body:
            remove = functools.partial(remove_preset, owner=owner, workflow=workflow, preset=body["delete"])
            remaining = await self.state.db.execute_write_fn(remove)
            return json_response({"status": "ok", "presets": remaining, "user": owner})
        upsert = functools.partial(upsert_preset, owner=owner, workflow=workflow, preset=body.get("preset"))
        saved, listed = await self.state.db.execute_write_fn(upsert)
        return json_response({"status": "ok", "presets": listed, "preset": saved, "user": owner})

    # -- models, options, paths -------------------------------------------------------
    async def models(self, request: web.Request) -> web.Response:
        host = self.state.host
        wanted = request.query.get("folder", "").strip()
        folders = [wanted] if wanted else host.model_folders()
        if wanted and wanted not in host.model_folders():
            raise BadRequest(f"unknown model folder {wanted!r}", code="UNKNOWN_FOLDER")
        listing = await asyncio.to_thread(model_listing, host, folders)
        return json_response({"folders": listing, "partner": partner_models(self.state)})

    async def options(self, _request: web.Request) -> web.Response:
        return json_response(host_options(await asyncio.to_thread(self.state.host.object_info)))

    async def settings_paths(self, _request: web.Request) -> web.Response:
        return json_response(await asyncio.to_thread(folder_report, self.state.host))


def add_routes(routes: Routes, state: CozyGenState) -> None:
    workflows = WorkflowRoutes(state)
    add_watcher(state)  # workflows.changed on the jobs event stream
    routes.get("/cozygen/workflows", access=VIEWER)(workflows.list_workflows)
    routes.get("/cozygen/workflows/{filename}", access=VIEWER)(workflows.get_workflow)
    routes.post("/cozygen/workflows/{filename}", access=USER)(workflows.save_workflow)
    routes.get("/cozygen/api/workflows/{filename}/schema", access=VIEWER)(workflows.workflow_schema)
    routes.post("/cozygen/api/workflows/{filename}/fill", access=USER)(workflows.fill_workflow)
    routes.post("/cozygen/api/workflows/{filename}/check", access=VIEWER)(workflows.check_saved)
    routes.post("/cozygen/api/workflows/check", access=VIEWER)(workflows.check_posted)
    routes.get("/cozygen/get_choices", access=VIEWER)(workflows.get_choices)
    routes.get("/cozygen/api/aliases", access=VIEWER)(workflows.get_aliases)
    routes.post("/cozygen/api/aliases", access=ADMIN)(workflows.save_aliases)  # every job's prompts expand them
    routes.get("/cozygen/api/workflow_types", access=VIEWER)(workflows.get_workflow_types)
    routes.post("/cozygen/api/workflow_types", access=USER)(workflows.set_workflow_type)
    routes.get("/cozygen/api/workflow_presets", access=VIEWER)(workflows.get_presets)
    routes.post("/cozygen/api/workflow_presets", access=USER)(workflows.change_presets)
    routes.get("/cozygen/api/models", access=VIEWER)(workflows.models)
    routes.get("/cozygen/api/options", access=VIEWER)(workflows.options)
    routes.get("/cozygen/api/settings/paths", access=ADMIN)(workflows.settings_paths)


def model_listing(host: Host, folders: list[str]) -> dict[str, list[dict[str, Any]]]:
    listing = {}
    for folder in folders:
        files = []
        for name in host.model_files(folder):
            path = host.model_file_path(folder, name)
            try:
                size = Path(path).stat().st_size if path else None
            except OSError:
                size = None
            files.append({"name": name, "size": size})
        listing[folder] = files
    return listing


COMMON_SIZES = [
    (512, 512),
    (768, 768),
    (1024, 1024),
    (832, 1216),
    (1216, 832),
    (896, 1152),
    (1152, 896),
    (768, 1344),
    (1344, 768),
    (640, 1536),
    (1536, 640),
    (512, 768),
    (768, 512),
]


def combo_options(info: dict[str, Any], node: str, name: str) -> list[Any]:
    """The choices of a node's required combo input, per the node definitions ``info``."""
    spec = info.get(node, {}).get("input", {}).get("required", {}).get(name)
    return list(spec[0]) if spec and isinstance(spec[0], list) else []


def partner_models(state: CozyGenState) -> list[dict[str, str]]:
    """The partner models this ComfyUI can run, while a Comfy API key is stored (none without one)."""
    if not state.settings.get(partner.KEY_SETTING):
        return []
    return partner.listed_models(state.host.partner_nodes())


def numeric_options(info: dict[str, Any], node: str, name: str) -> dict[str, Any]:
    """The default, min, max and step of a node's required number input, per the node definitions ``info``."""
    spec = info.get(node, {}).get("input", {}).get("required", {}).get(name)
    options = spec[1] if spec and len(spec) > 1 and isinstance(spec[1], dict) else {}
    return {k: options[k] for k in ("default", "min", "max", "step") if k in options}


def host_options(info: dict[str, Any]) -> dict[str, Any]:
    """Samplers, schedulers, checkpoints, LoRAs and sizes, read from the host's node definitions."""
    combo = functools.partial(combo_options, info)
    numeric = functools.partial(numeric_options, info)
    width = numeric("EmptyLatentImage", "width")
    step, top = width.get("step", 8), width.get("max", 16384)
    return {
        "samplers": combo("KSampler", "sampler_name"),
        "schedulers": combo("KSampler", "scheduler"),
        "checkpoints": combo("CheckpointLoaderSimple", "ckpt_name"),
        "loras": combo("LoraLoader", "lora_name"),
        "steps": numeric("KSampler", "steps"),
        "cfg": numeric("KSampler", "cfg"),
        "dimensions": {
            **width,
            "common": [[w, h] for w, h in COMMON_SIZES if w % step == 0 and h % step == 0 and max(w, h) <= top],
        },
    }


def folder_report(host: Host) -> dict[str, Any]:
    return {
        "output": host.output_directory(),
        "input": host.input_directory(),
        "temp": host.temp_directory(),
        "models": {folder: host.model_folder_paths(folder) for folder in host.model_folders()},
        "editable": False,
        "message": (
            "These are ComfyUI's folders. Change them with ComfyUI's --output-directory, --input-directory "
            "and extra_model_paths.yaml, then restart it; CozyGen does not move them."
        ),
    }
