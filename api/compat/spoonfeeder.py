"""Spoon Feeder (seed 003) options and workflows at /cozygen/compat/spoonfeeder/api/, over CozyGen's workflow store.

A Spoon Feeder workflow id is the workflow's file name. Its name, description,
default parameters and default flag live beside the file (the ``documents`` table).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from aiohttp import web

from ...core import documents
from ...core.access import USER, VIEWER
from ...core.errors import BadRequest, NotFound
from ...core.workflow_schema import extract_schema
from ...core.workflow_store import WorkflowStore, require_api_format, workflow_name
from .. import host
from ..responses import json_response, read_json
from ..routing import Routes
from ..state import CozyGenState
from ..workflows import SHIPPED, host_options

BASE = "/cozygen/compat/spoonfeeder/api"
META = "spoonfeeder_workflows"
PARAMETER_TYPES = {"seed": "seed", "int": "number", "float": "number", "string": "text", "text": "text"}


def ok(data: Any, status: int = 200) -> web.Response:
    return json_response({"success": True, "data": data}, status=status)


def extracted(workflow: dict[str, Any], object_info: dict[str, Any], models: dict[str, list[str]]) -> list[dict]:
    found = []
    for parameter in extract_schema(workflow, object_info, models=models):
        for node_id, field in parameter.targets:
            kind = PARAMETER_TYPES.get(parameter.type, parameter.type)
            found.append({"nodeId": node_id, "field": field, "type": kind, "value": parameter.default})
    return found


def add_routes(routes: Routes, state: CozyGenState) -> None:
    def store() -> WorkflowStore:
        return WorkflowStore(SHIPPED, state.db_ready_data_dir / "workflows")

    async def metadata() -> dict[str, dict[str, Any]]:
        return await state.db.execute_fn(lambda conn: documents.read(conn, META, {}))

    async def save_metadata(name: str, changes: dict[str, Any] | None) -> dict[str, Any]:
        def change(conn: Any) -> dict[str, Any]:
            meta = documents.read(conn, META, {})
            if changes is None:
                meta.pop(name, None)
            else:
                entry = {**meta.get(name, {}), **changes}
                if entry.get("is_default"):
                    for other in meta.values():
                        other["is_default"] = False
                meta[name] = entry
            documents.write(conn, META, meta)
            return meta.get(name, {})

        return await state.db.execute_write_fn(change)

    def summary(name: str, meta: dict[str, Any]) -> dict[str, Any]:
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

    async def full(name: str) -> dict[str, Any]:
        workflow = require_api_format(await asyncio.to_thread(store().read, name))
        object_info, models = await state.definitions.get()
        meta = (await metadata()).get(name, {})
        return {
            **summary(name, meta),
            "workflow_json": workflow,
            "extracted_parameters": extracted(workflow, object_info, models),
        }

    @routes.get(f"{BASE}/comfyui/options", access=VIEWER)
    async def options(_request: web.Request) -> web.Response:
        found = host_options(await asyncio.to_thread(host.object_info))
        sizes = sorted({size for pair in found["dimensions"]["common"] for size in pair})
        return ok({k: found[k] for k in ("samplers", "schedulers", "checkpoints", "loras")} | {"dimensions": sizes})

    @routes.get(f"{BASE}/comfyui/workflows", access=VIEWER)
    async def list_workflows(_request: web.Request) -> web.Response:
        meta = await metadata()
        return ok([summary(name, meta.get(name, {})) for name in await asyncio.to_thread(store().names)])

    @routes.post(f"{BASE}/comfyui/workflows", access=USER)
    async def create(request: web.Request) -> web.Response:
        body = await read_json(request)
        title = body.get("name")
        if not isinstance(title, str) or not title.strip():
            raise BadRequest("name the workflow", code="MISSING_NAME")
        name = workflow_name(title.strip().replace("/", "_"))
        await asyncio.to_thread(store().save, name, body.get("workflowJson"))
        defaults = body.get("defaultParameters") if isinstance(body.get("defaultParameters"), dict) else {}
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        await save_metadata(
            name,
            {
                "name": title.strip(),
                "description": str(body.get("description") or ""),
                "default_parameters": defaults,
                "created_at": now,
            },
        )
        data = await full(name)
        return ok({"id": name, "name": data["name"], "extracted_parameters": data["extracted_parameters"]}, status=201)

    @routes.get(f"{BASE}/comfyui/workflows/{{workflow_id}}", access=VIEWER)
    async def get_one(request: web.Request) -> web.Response:
        return ok(await full(request.match_info["workflow_id"]))

    @routes.put(f"{BASE}/comfyui/workflows/{{workflow_id}}", access=USER)
    async def update(request: web.Request) -> web.Response:
        name, body = workflow_name(request.match_info["workflow_id"]), await read_json(request)
        await asyncio.to_thread(store().path, name)  # 404 when it does not exist
        if "workflowJson" in body:
            await asyncio.to_thread(store().save, name, body["workflowJson"])
        changes = {k: str(body[k]) for k in ("name", "description") if isinstance(body.get(k), str)}
        await save_metadata(name, changes)
        return ok(await full(name))

    @routes.patch(f"{BASE}/comfyui/workflows/{{workflow_id}}/parameters", access=USER)
    async def parameters(request: web.Request) -> web.Response:
        name, body = workflow_name(request.match_info["workflow_id"]), await read_json(request)
        await asyncio.to_thread(store().path, name)
        defaults = body.get("default_parameters", {})
        if not isinstance(defaults, dict):
            raise BadRequest("default_parameters must be an object", code="INVALID_PARAMETERS")
        changes: dict[str, Any] = {"default_parameters": defaults}
        if "is_default" in body:
            changes["is_default"] = bool(body["is_default"])
        await save_metadata(name, changes)
        return ok(await full(name))

    @routes.delete(f"{BASE}/comfyui/workflows/{{workflow_id}}", access=USER)
    async def delete(request: web.Request) -> web.Response:
        name = workflow_name(request.match_info["workflow_id"])
        path = store().user / name
        if not await asyncio.to_thread(path.is_file):
            if await asyncio.to_thread((store().shipped / name).is_file):
                raise BadRequest("shipped example workflows cannot be deleted", code="SHIPPED_WORKFLOW")
            raise NotFound("not found", code="WORKFLOW_NOT_FOUND")
        await asyncio.to_thread(path.unlink)
        await save_metadata(name, None)
        return ok({"id": name, "deleted": True})
