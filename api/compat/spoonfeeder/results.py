"""Spoon Feeder's results over CozyGen's jobs and gallery: list, get, download and delete.

A result is one output of a completed task (job) that the gallery still holds: its id is the gallery's id of the
file (it survives moves), its ``type`` the file's kind (image, video or audio), its ``content`` the file's path
in ComfyUI's output folder, its ``metadata`` the size, dimensions and model. Deleting one moves the file to
CozyGen's trash (restorable from the gallery), as the gallery's own delete does.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from ....core.errors import BadRequest, CozyGenError, NotFound
from ....core.jobs.pages import output, outputs
from ...gallery import actor
from ...gallery_manage import attachment
from ...jobs import caller
from ...params import path_id
from ...responses import json_response
from ...state import CozyGenState
from .shapes import BASE, done, iso, ok, prompts_of
from .tasks import PROVIDER, TYPES, paged, pagination

KINDS = {"text": (), "image": ("image",), "video": ("video",), "audio": ("audio",)}


def result(row: Any, names: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """An output as a Spoon Feeder result (the seed's fields and what the real client reads)."""
    path = f"{row['subfolder']}/{row['filename']}" if row["subfolder"] else row["filename"]
    return {
        "id": row["id"],
        "task_id": row["job_id"],
        "task_name": names.get(row["job_id"], {}).get("name") or row["job_workflow"],
        "task_provider": PROVIDER,
        "type": row["kind"],
        "content": path,
        "url": f"{BASE}/results/{row['id']}/download",
        "metadata": {
            "filename": row["filename"],
            "subfolder": row["subfolder"],
            "folder": row["root"],
            "size": row["size"],
            "width": row["width"],
            "height": row["height"],
            "model": row["model"],
        },
        "created_at": iso(row["mtime"]),
    }


class ResultRoutes:
    """Results: completed jobs' outputs in Spoon Feeder's shape."""

    def __init__(self, state: CozyGenState, names: Any) -> None:
        self.state, self.names = state, names  # names(): the tasks' documents (their names)

    async def visible(self, request: web.Request) -> Any:
        """The result of the path's id, or 404 ``RESULT_NOT_FOUND`` (also for another user's, unless admin)."""
        file_id = path_id(request, "result_id", what="result", missing_code="RESULT_NOT_FOUND")
        row = await self.state.db.execute_settled(lambda conn: output(conn, file_id))
        if row is None or not caller(request, self.state).may_see(row["job_username"]):
            raise NotFound(f"Result {file_id} not found", code="RESULT_NOT_FOUND")
        return row

    async def list_results(self, request: web.Request) -> web.Response:
        """The outputs of completed tasks, newest task first (``type``, ``limit``, ``page`` or ``offset``)."""
        kind = (request.query.get("type") or "").strip()
        if kind and kind not in TYPES:
            raise BadRequest(f"type must be one of {', '.join(TYPES)}, not {kind!r}", code="INVALID_TYPE")
        page, limit, offset = paged(request)
        asking = caller(request, self.state)
        username = None if asking.sees_all else asking.username
        kinds = KINDS[kind] if kind else None
        found, total = await self.state.db.execute_settled(
            lambda conn: outputs(conn, username=username, kinds=kinds, offset=offset, limit=limit)
        )
        names = await self.names()
        body = {
            "success": True,
            "data": [result(r, names) for r in found],
            "pagination": pagination(page, limit, total),
        }
        return json_response(body)

    async def get_one(self, request: web.Request) -> web.Response:
        row = await self.visible(request)
        job = await self.state.job_service.load(row["job_id"])
        return ok({**result(row, await self.names()), "task_prompt": prompts_of(job.params)[0] if job else None})

    async def download(self, request: web.Request) -> web.StreamResponse:
        row = await self.visible(request)
        path = self.state.gallery.path_of(row)
        if not await asyncio.to_thread(path.is_file):
            raise NotFound(f"Result {row['id']}'s file is gone from the output folder", code="FILE_NOT_FOUND")
        headers = {"Content-Disposition": attachment(row["filename"]), "Cache-Control": "private"}
        return web.FileResponse(path, headers=headers)

    async def delete(self, request: web.Request) -> web.Response:
        """The result's file to CozyGen's trash (the task stays)."""
        row = await self.visible(request)
        indexed = await self.state.gallery.get(row["id"])
        _, _, errors = await self.state.gallery.trash([indexed], by=actor(request))
        if errors:
            raise CozyGenError(f"unable to delete the result's file: {errors[0]}", code="DELETE_FAILED")
        return done(f"Result {row['id']} deleted")
