"""Spoon Feeder's image proxy, task history export and health, over ComfyUI's folders and CozyGen's records."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import time
from pathlib import Path

from aiohttp import web

from ....core.errors import BadRequest, CozyGenError, HostNotReady, NotFound
from ....core.jobs.records import Filters
from ....core.media.kinds import kind_of
from ....core.paths import resolve
from ...jobs import caller, export_csv
from ...params import timestamp
from ...responses import json_response
from ...state import CozyGenState
from ...visibility import require_visible_path
from .shapes import iso, ok, task_row

FOLDERS = ("output", "input", "temp")
TASK_COLUMNS = ("id", "name", "type", "provider", "prompt", "model", "seed", "status", "error", "created_at",
                "completed_at", "images")  # fmt: skip


class FileRoutes:
    """Images, the history export and health."""

    def __init__(self, state: CozyGenState) -> None:
        self.state = state

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
        """Spoon Feeder's health: the database and ComfyUI (this process); Redis and Ollama are not used. The seed's
        ``{success, data}`` with the real backend's top-level ``status`` (``ok``) and ``timestamp`` beside it (its
        dashboard reads ``health.timestamp``)."""
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
        now = iso(time.time())
        data = {
            "status": "healthy" if healthy else "unhealthy",
            "timestamp": now,
            "services": {"database": database, "redis": "not_used", "ollama": "not_used", "comfyui": comfyui},
        }
        body = {"success": True, "data": data, "status": "ok" if healthy else "unhealthy", "timestamp": now}
        return json_response(body, status=200 if healthy else 503)
