"""Workflows from anywhere: the graph inside a gallery image, a file or pasted JSON (either format), and every
widget of a workflow's nodes (the "all settings" view; a job sets them as ``values["<node_id>.<input>"]``).

An image's workflow is read only by who may see the image (the gallery's rules, a 404 otherwise). What is
saved becomes the caller's own workflow under a new name (``core.workflows.imports.save_new``): an import
never writes over a workflow.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from aiohttp import web

from ..core.accounts.access import USER, VIEWER
from ..core.errors import BadRequest
from ..core.graph.node_settings import node_settings
from ..core.graph.ui_format import ConversionError, parse
from ..core.graph.ui_format.document import MAX_BYTES
from ..core.media.pnginfo import read_png_info
from ..core.workflows import from_image
from ..core.workflows.imports import Imported, safe_stem, save_new, to_api_graph
from .gallery import image_id
from .responses import json_response, read_json
from .routing import Routes
from .state import CozyGenState
from .visibility import require_visible
from .workflows import editor_of, form_of, users_store, workflow_store

PNG_KEYS = from_image.KEYS


class WorkflowImportRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    async def image_text(self, request: web.Request) -> tuple[Any, dict[str, str]]:
        """The image the caller may see (404 otherwise) and its PNG text chunks (none for other files)."""
        row = await self.state.gallery.get(image_id(request))
        await require_visible(request, self.state, row)
        if not row["filename"].lower().endswith(".png"):
            return row, {}
        info = await asyncio.to_thread(read_png_info, self.state.gallery.path_of(row), scan_all=True, keys=PNG_KEYS)
        return row, info.text if info is not None else {}

    async def image_graph(self, request: web.Request) -> tuple[Any, dict[str, str], Imported]:
        row, text = await self.image_text(request)
        object_info, models = await self.state.definitions.get()
        found = await asyncio.to_thread(from_image.embedded, text, object_info, models)
        return row, text, found

    async def image_workflow(self, request: web.Request) -> web.Response:
        row, text, found = await self.image_graph(request)
        return json_response(
            {
                "image": row["id"],
                "name": safe_stem(row["filename"].rsplit(".", 1)[0]),
                "format": found.format,
                "prompt": found.graph,
                "check": found.report,
                "params": from_image.recorded_params(text),
            }
        )

    async def save_image_workflow(self, request: web.Request) -> web.Response:
        body = await read_json(request) if request.can_read_body else {}
        row, _, found = await self.image_graph(request)
        stem = safe_stem(body.get("name") or row["filename"].rsplit(".", 1)[0])
        filename = await self.save(request, stem, found.graph)
        return json_response({"status": "ok", "filename": filename, "format": found.format, "check": found.report})

    async def import_workflow(self, request: web.Request) -> web.Response:
        """The body is the workflow file itself (either format), as the phone read it or the user pasted it."""
        if request.content_length is not None and request.content_length > MAX_BYTES:
            raise ConversionError(f"the workflow file is over {MAX_BYTES // (1024 * 1024)} MB")
        raw = await request.content.read(MAX_BYTES + 1)
        if not raw.strip():
            raise BadRequest("send the workflow file (JSON) as the request body", code="INVALID_JSON")
        data = await asyncio.to_thread(parse, raw)  # size, depth and JSON errors: ConversionError (400)
        object_info, models = await self.state.definitions.get()
        found = await asyncio.to_thread(to_api_graph, data, object_info, models)
        stem = safe_stem(request.query.get("name"), fallback="imported")
        filename = await self.save(request, stem, found.graph)
        return json_response({"status": "ok", "filename": filename, "format": found.format, "check": found.report})

    async def save(self, request: web.Request, stem: str, graph: dict[str, Any]) -> str:
        store, editor = workflow_store(self.state), editor_of(request, self.state)
        filename, text = await asyncio.to_thread(store.prepare, stem, graph)
        save = functools.partial(save_new, store=store, stem=filename[:-5], text=text, editor=editor)
        return await self.state.db.execute_write_fn(save)

    async def workflow_nodes(self, request: web.Request) -> web.Response:
        """The graph a job of this workflow fills (an editor's file converted), as the caller sees the workflows."""
        name, store = request.match_info["filename"], users_store(request, self.state)
        definitions = await self.state.definitions.get()
        form = await form_of(self.state, store, name, definitions)
        return json_response({"workflow": name, "nodes": node_settings(form.graph, definitions[0])})


def add_routes(routes: Routes, state: CozyGenState) -> None:
    imports = WorkflowImportRoutes(state)
    routes.get("/cozygen/api/images/{image_id}/workflow", access=VIEWER)(imports.image_workflow)
    routes.post("/cozygen/api/images/{image_id}/workflow/save", access=USER)(imports.save_image_workflow)
    routes.post("/cozygen/api/workflows/import", access=USER)(imports.import_workflow)
    routes.get("/cozygen/api/workflows/{filename}/nodes", access=VIEWER)(imports.workflow_nodes)
