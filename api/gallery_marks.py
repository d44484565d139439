"""Marks (favourite, rejected, a 1-5 rating: each user's own), their counts, deleting the rejects of a folder, and
comparing two images. Marks are kept in the index (core/gallery/marks.py); nothing is written into the files."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from ..core.accounts.access import USER, VIEWER
from ..core.errors import BadRequest, NotFound
from ..core.gallery import index, marks
from ..core.gallery.compare import compare
from ..core.paths import resolve
from .gallery import actor, image_id, listing_query, marks_user, metadata_of
from .gallery_selection import selected_rows
from .params import bool_field, text_field, whole_number
from .responses import json_response, read_json
from .routing import Routes
from .state import CozyGenState
from .visibility import require_visible, restricted_to


class MarkRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    async def visible(self, request: web.Request, file_id: int) -> Any:
        """The indexed file, if the caller may see it (a 404 IMAGE_NOT_FOUND as for no file at all)."""
        row = await self.state.gallery.get(file_id)
        try:
            await require_visible(request, self.state, row)
        except NotFound:
            raise NotFound(f"no image with id {file_id}", code="IMAGE_NOT_FOUND") from None
        return row

    async def mark(self, rows: list[Any], username: str, change: marks.MarkChange) -> dict[int, Any]:
        ids, now = [r["id"] for r in rows], time.time()
        found = await self.state.db.execute_write_fn(lambda conn: marks.write(conn, username, ids, change, now))
        self.state.gallery.forget_counts()
        return found

    async def set_marks(self, request: web.Request) -> web.Response:
        row = await self.visible(request, image_id(request))
        change = marks.parse_change(await read_json(request))
        found = await self.mark([row], marks_user(request), change)
        return json_response({"id": row["id"], "marks": found[row["id"]]})

    async def set_many(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        change = marks.parse_change(body.get("set") if isinstance(body, dict) else None)
        rows = await selected_rows(request, self.state, body)
        await self.mark(rows, marks_user(request), change)
        return json_response({"ok": True, "updated": len(rows)})

    async def counts(self, request: web.Request) -> web.Response:
        query = await listing_query(request, self.state)
        return json_response(await self.state.db.execute_fn(lambda conn: marks.counts(conn, query)))

    async def delete_rejected(self, request: web.Request) -> web.Response:
        """The caller's rejects in a folder (and below it, with recursive) to the trash, restorable as a batch."""
        body = await read_json(request)
        if not isinstance(body, dict):
            raise BadRequest('send {"type": "output", "subfolder": "", "recursive": false}', code="INVALID_JSON")
        root = text_field(body, "type", "output")
        if root not in index.ROOTS:
            raise BadRequest(f"type must be one of {', '.join(index.ROOTS)}", code="INVALID_TYPE")
        folder, sub, _ = resolve(self.state.roots[root], text_field(body, "subfolder", ""))
        if not await asyncio.to_thread(folder.is_dir):
            raise NotFound(f"no folder {sub!r} in the {root} folder", code="FOLDER_NOT_FOUND")
        query = index.FileQuery(
            root=root,
            subfolder=sub,
            recursive=bool_field(body, "recursive", False),
            show_hidden=True,
            owner=restricted_to(request, self.state),
            user=marks_user(request),
            rejected="only",
        )
        rows = await self.state.db.execute_fn(lambda conn: index.list_files(conn, query, limit=None))
        if not rows:
            return json_response({"ok": True, "deleted": 0, "batch": None})
        batch, trashed, errors = await self.state.gallery.trash(rows, by=actor(request))
        answer: dict[str, Any] = {"ok": True, "deleted": len(trashed), "batch": batch if trashed else None}
        if errors:
            answer["errors"] = errors
        return json_response(answer)

    async def compare(self, request: web.Request) -> web.Response:
        first, second = [await self.visible(request, compared_id(request, name)) for name in ("a", "b")]
        gallery = self.state.gallery
        a, b = await metadata_of(gallery, first), await metadata_of(gallery, second)
        return json_response({"a": a, "b": b, **compare(a, b)})


def compared_id(request: web.Request, name: str) -> int:
    raw = request.query.get(name, "").strip()
    if not raw:
        raise BadRequest(f"{name} is required: the ids of the two images, ?a=ID&b=ID", code="MISSING_ID")
    return whole_number(raw, name, code="INVALID_ID")


def add_routes(routes: Routes, state: CozyGenState) -> None:
    marking = MarkRoutes(state)
    routes.put("/cozygen/api/images/{image_id}/marks", access=USER)(marking.set_marks)
    routes.post("/cozygen/api/gallery/marks", access=USER)(marking.set_many)
    routes.get("/cozygen/api/gallery/counts", access=VIEWER)(marking.counts)
    routes.post("/cozygen/api/gallery/delete_rejected", access=USER)(marking.delete_rejected)
    routes.get("/cozygen/api/images/compare", access=VIEWER)(marking.compare)
