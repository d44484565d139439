"""The model browser: installed models per folder (size, date, hash, preview), deleting to the model trash and
restoring from it. Reading is for everyone signed in; changing is for admins. The service is
``core/models/library.py`` (``state.models``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..core.accounts.access import ADMIN, VIEWER
from ..core.errors import BadRequest
from ..core.models.library import MAX_PAGE, MAX_QUERY, model_name
from .gallery import actor
from .params import integer, text_field
from .responses import json_response, read_json
from .routing import Routes
from .state import CozyGenState

TRASH_ID_LENGTH = 32


class ModelLibraryRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    def target(self, values: Any) -> tuple[str, str]:
        """``folder`` and ``name`` of a body or query: a folder ComfyUI knows and a model's name in it."""
        library = self.state.models
        folder = library.folder(text_field(values, "folder", code="UNKNOWN_FOLDER"))
        return folder, model_name(text_field(values, "name", code="INVALID_MODEL_NAME"))

    async def listing(self, request: web.Request) -> web.Response:
        library = self.state.models
        wanted = request.query.get("folder", "").strip()
        folder = library.folder(wanted) if wanted else None
        query = request.query.get("q", "")
        if len(query) > MAX_QUERY:
            raise BadRequest(f"q must be at most {MAX_QUERY} characters", code="INVALID_Q")
        limit = integer(request, "limit", 200, low=1, high=MAX_PAGE)
        offset = integer(request, "offset", 0, low=0)
        return json_response(await library.listing(folder, query, limit, offset))

    async def preview(self, request: web.Request) -> web.StreamResponse:
        folder, name = self.target(request.query)
        path = await self.state.models.preview(folder, name)
        return web.FileResponse(
            path, headers={"Cache-Control": "private, max-age=60", "X-Content-Type-Options": "nosniff"}
        )

    async def delete(self, request: web.Request) -> web.Response:
        folder, name = self.target(await read_json(request))
        trashed = await self.state.models.trash(folder, name, by=actor(request))
        return json_response({"trashed": trashed})

    async def trash(self, _request: web.Request) -> web.Response:
        return json_response({"trash": await self.state.models.trashed()})

    async def restore(self, request: web.Request) -> web.Response:
        trash_id = request.match_info["trash_id"]
        if len(trash_id) != TRASH_ID_LENGTH or not all(c in "0123456789abcdef" for c in trash_id):
            raise BadRequest("the trash id is the 32 hexadecimal digits the trash lists", code="INVALID_ID")
        return json_response({"restored": await self.state.models.restore(trash_id, by=actor(request))})


def add_routes(routes: Routes, state: CozyGenState) -> None:
    r = ModelLibraryRoutes(state)
    routes.get("/cozygen/api/models/library", access=VIEWER)(r.listing)
    routes.delete("/cozygen/api/models/library", access=ADMIN)(r.delete)
    routes.get("/cozygen/api/models/preview", access=VIEWER)(r.preview)
    routes.get("/cozygen/api/models/trash", access=ADMIN)(r.trash)
    routes.post("/cozygen/api/models/trash/{trash_id}/restore", access=ADMIN)(r.restore)
