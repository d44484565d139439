"""Spoon Feeder's ComfyUI options and its workflows (profiles: profiles.py), over
CozyGen's workflow store.

A workflow id is the workflow's file name. Its name, description, default parameters and default flag live
beside the file (the ``documents`` table). As in the real Spoon Feeder (a text column), ``workflow_json`` is the
graph's JSON text and ``workflowJson`` may be sent as text; CozyGen also takes it as an object.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
from typing import Any

from aiohttp import web

from ....core.errors import BadRequest, Forbidden, NotFound
from ....core.graph.schema import extract_schema
from ....core.json_depth import too_deep
from ....core.store import documents
from ....core.workflows.store import (
    WorkflowStore,
    delete_owned,
    require_existing_change,
    workflow_name,
)
from ...responses import read_json
from ...state import CozyGenState
from ...workflows import editor_of, host_options, save_workflow_as, workflow_store
from .shapes import PROFILE, iso, ok

META = "spoonfeeder_workflows"
PARAMETER_TYPES = {"seed": "seed", "int": "number", "float": "number", "choice": "select", "boolean": "select"}
SDXL_PIXELS = 1024 * 1024  # SDXL's sizes hold about as many pixels as 1024 x 1024
RATIOS = ((1, 1), (5, 4), (4, 3), (9, 7), (3, 2), (16, 9), (12, 5), (21, 9))


def ratio_label(width: int, height: int) -> str:
    """``"3:2 Landscape"``: the nearest common ratio and the orientation."""
    wide, tall = max(width, height), min(width, height)
    a, b = min(RATIOS, key=lambda r: abs(math.log((wide / tall) / (r[0] / r[1]))))
    if a == b:
        return "1:1 Square"
    return f"{a}:{b} Landscape" if width > height else f"{b}:{a} Portrait"


def dimensions(pairs: list[list[int]]) -> dict[str, Any]:
    """The real Spoon Feeder's ``dimensions``: ``common`` sizes (numbers) and ``sdxl_optimal`` pairs with labels."""
    sdxl = [(w, h) for w, h in pairs if w % 64 == 0 and h % 64 == 0 and abs(w * h - SDXL_PIXELS) <= SDXL_PIXELS / 10]
    return {
        "common": sorted({size for pair in pairs for size in pair}),
        "sdxl_optimal": [{"width": w, "height": h, "label": ratio_label(w, h)} for w, h in sdxl],
    }


def extracted(workflow: dict[str, Any], object_info: dict[str, Any], models: dict[str, list[str]]) -> list[dict]:
    """The workflow's parameters as the real client reads them: nodeId, field, label, type (string, number, seed
    or select), value, and options/min/max where known."""
    found = []
    for parameter in extract_schema(workflow, object_info, models=models):
        kind = PARAMETER_TYPES.get(parameter.type, "string")
        for node_id, field in parameter.targets:
            item: dict[str, Any] = {"nodeId": node_id, "field": field, "label": parameter.label, "type": kind,
                                    "value": parameter.default}  # fmt: skip
            if kind == "select":
                item["options"] = [False, True] if parameter.type == "boolean" else list(parameter.choices or [])
            item.update({k: v for k, v in (("min", parameter.min), ("max", parameter.max)) if v is not None})
            found.append(item)
    return found


def graph_of(body: dict[str, Any]) -> Any:
    """``workflowJson`` as the real client sends it (JSON text) or as an object."""
    value = body.get("workflowJson")
    if not isinstance(value, str):
        return value
    try:
        graph = json.loads(value)
    except (ValueError, RecursionError):
        raise BadRequest("workflowJson is not valid JSON", code="INVALID_WORKFLOW") from None
    if too_deep(value, graph):
        raise BadRequest("workflowJson nests too deep for a ComfyUI graph", code="INVALID_WORKFLOW")
    return graph


class WorkflowRoutes:
    """Options and workflows."""

    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    def store(self) -> WorkflowStore:
        return workflow_store(self.state)

    async def metadata(self) -> dict[str, dict[str, Any]]:
        return await self.state.db.execute_fn(lambda conn: documents.read(conn, META, {}))

    async def defaults(self, name: str) -> dict[str, Any]:
        found = (await self.metadata()).get(name, {}).get("default_parameters")
        return found if isinstance(found, dict) else {}

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
        changes = {**changes, "updated_at": now()}

        def change(conn: Any) -> None:
            require_existing_change(conn, shelf, name, editor)
            documents.update_entry(conn, META, name, changes, only_one="is_default")

        await self.state.db.execute_write_fn(change)

    def view(self, name: str, meta: dict[str, Any], definitions: tuple[dict, dict]) -> dict[str, Any]:
        """A workflow as a row of the real Spoon Feeder (blocking: reads the file)."""
        path = self.store().path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise BadRequest(f"{name} is not JSON text", code="BAD_JSON") from None
        changed = iso(path.stat().st_mtime)
        try:
            params = extracted(self.store().graph(name, definitions[0]), *definitions)  # the editor's format converted
        except BadRequest:  # a file that does not convert: it runs nowhere, and has no parameters to show
            params = []
        return {
            "id": name,
            **PROFILE,
            "name": meta.get("name") or name.removesuffix(".json"),
            "description": meta.get("description", ""),
            "workflow_json": text,
            "default_parameters": meta.get("default_parameters", {}),
            "extracted_parameters": params,
            "thumbnail_url": None,
            "is_default": bool(meta.get("is_default")),
            "generation_count": 0,
            "created_at": meta.get("created_at") or changed,
            "updated_at": meta.get("updated_at") or changed,
        }

    async def full(self, name: str) -> dict[str, Any]:
        definitions = await self.state.definitions.get()
        meta = (await self.metadata()).get(name, {})
        return await asyncio.to_thread(self.view, name, meta, definitions)

    async def options(self, _request: web.Request) -> web.Response:
        found = host_options(await asyncio.to_thread(self.state.host.object_info))
        listed = {k: found[k] for k in ("samplers", "schedulers", "checkpoints", "loras")}
        return ok({**listed, "dimensions": dimensions(found["dimensions"]["common"])})

    async def list_workflows(self, _request: web.Request) -> web.Response:
        meta, definitions = await self.metadata(), await self.state.definitions.get()

        def read_all() -> list[dict[str, Any]]:
            found = []
            for name in self.store().names():
                try:
                    found.append(self.view(name, meta.get(name, {}), definitions))
                except (BadRequest, NotFound):  # a file that is no JSON, or one deleted meanwhile: not listed
                    continue
            return found

        return ok(await asyncio.to_thread(read_all))

    async def create(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        title = body.get("name")
        if not isinstance(title, str) or not title.strip():
            raise BadRequest("name the workflow", code="MISSING_NAME")
        name = await save_workflow_as(request, self.state, title.strip().replace("/", "_"), graph_of(body))
        defaults = body.get("defaultParameters") if isinstance(body.get("defaultParameters"), dict) else {}
        await self.save_metadata(
            name,
            {
                "name": title.strip(),
                "description": str(body.get("description") or ""),
                "default_parameters": defaults,
                "created_at": now(),
            },
        )
        return ok(await self.full(name), status=201)

    async def get_one(self, request: web.Request) -> web.Response:
        return ok(await self.full(request.match_info["workflow_id"]))

    async def update(self, request: web.Request) -> web.Response:
        name, body = workflow_name(request.match_info["workflow_id"]), await read_json(request)
        await asyncio.to_thread(self.store().path, name)  # 404 when it does not exist
        if body.get("workflowJson") is not None:
            await save_workflow_as(request, self.state, name, graph_of(body))
        changes = {k: str(body[k]) for k in ("name", "description") if isinstance(body.get(k), str)}
        await self.change_metadata(request, name, changes)  # 403 unless the caller may change the workflow
        return ok(await self.full(name))

    async def parameters(self, request: web.Request) -> web.Response:
        name, body = workflow_name(request.match_info["workflow_id"]), await read_json(request)
        await asyncio.to_thread(self.store().path, name)
        changes: dict[str, Any] = {}
        if "default_parameters" in body:
            if not isinstance(body["default_parameters"], dict):
                raise BadRequest("default_parameters must be an object", code="INVALID_PARAMETERS")
            changes["default_parameters"] = body["default_parameters"]
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


def now() -> str | None:
    return iso(dt.datetime.now(dt.timezone.utc).timestamp())
