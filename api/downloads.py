"""Model downloads (admin): the queue and its history, one download's live events, fetching what a workflow
lacks, and the sources an admin records for model files. The service is ``core/models/service.py``
(``state.downloads``); the suggestions are ``core/models/catalogue.py``'s.
"""

from __future__ import annotations

import asyncio
import functools
import re
from typing import Any

import orjson
from aiohttp import web

from ..core.accounts import users
from ..core.accounts.access import ADMIN
from ..core.errors import BadRequest, Conflict, CozyGenError, NotFound
from ..core.events import Event
from ..core.graph.check import check
from ..core.graph.ui_format import checked, is_ui_workflow
from ..core.models import catalogue
from ..core.models.sources import Source, parse_source
from ..core.models.targets import check_name
from ..core.workflows.store import require_api_format
from . import sse
from .auth.credentials import remote_address
from .gallery import actor
from .model_sources import known_sources
from .params import integer, text_field
from .responses import json_response, read_json
from .routing import Routes
from .state import CozyGenState
from .workflows import users_store

EVENT = "download.changed"
FINAL = frozenset({"done", "failed", "cancelled"})
_DOWNLOAD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def download_id(request: web.Request) -> str:
    """The ``{download_id}`` of the path; an id no download can have is 404 ``DOWNLOAD_NOT_FOUND``."""
    value = request.match_info["download_id"]
    if not _DOWNLOAD_ID.fullmatch(value):
        raise NotFound("no such download", code="DOWNLOAD_NOT_FOUND")
    return value


def source_field(body: dict[str, Any]) -> Source:
    if body.get("source") is None:
        raise BadRequest(
            'send "source": {"hf": {"repo": "owner/name", "file": "path/in/repo.safetensors"}} or a URL',
            code="INVALID_SOURCE",
        )
    return parse_source(body["source"])


def optional_name(body: dict[str, Any]) -> str | None:
    name = text_field(body, "name", None, max_length=1024, code="INVALID_MODEL_NAME")
    return name or None


def record_source(
    conn: Any, folder: str, name: str, source: Source, sha256: str | None, by: str | None, remote: str | None
) -> None:
    catalogue.record(conn, folder, name, source, sha256, by)
    users.audit(conn, "model.source", actor=by, target=f"{folder}/{name}", remote=remote, detail=source.label)


def forget_source(conn: Any, folder: str, name: str, by: str | None, remote: str | None) -> bool:
    found = catalogue.forget(conn, folder, name)
    if found:
        users.audit(conn, "model.source.delete", actor=by, target=f"{folder}/{name}", remote=remote)
    return found


class DownloadRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    def folder(self, body: dict[str, Any]) -> str:
        return self.state.models.folder(text_field(body, "folder", code="UNKNOWN_FOLDER"))

    # -- the queue -----------------------------------------------------------------------------
    async def start(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        source, folder = source_field(body), self.folder(body)
        name, sha256 = optional_name(body), catalogue.checked_sha256(body.get("sha256"))
        view = await self.state.downloads.enqueue(source, folder, name, sha256=sha256, by=actor(request))
        return json_response(view, status=202)

    async def listing(self, request: web.Request) -> web.Response:
        limit = integer(request, "limit", 100, low=1, high=500)
        return json_response({"downloads": await self.state.downloads.list(limit=limit)})

    async def one(self, request: web.Request) -> web.Response:
        return json_response(await self.state.downloads.get(download_id(request)))

    async def cancel(self, request: web.Request) -> web.Response:
        return json_response(await self.state.downloads.cancel(download_id(request)))

    async def events(self, request: web.Request) -> web.StreamResponse:
        """The download now, then each change, until it ends (a finished one: its one event)."""
        wanted = download_id(request)
        service = self.state.downloads
        await service.get(wanted)  # 404 before the stream opens
        hub = self.state.job_hub
        response = web.StreamResponse(headers=sse.HEADERS)
        await response.prepare(request)
        subscription = hub.subscribe()
        try:
            await response.write(b":ok\n\n")
            view = await service.get(wanted)  # after subscribing: no change falls between
            await response.write(frame(view))
            while view["state"] not in FINAL and not subscription.overflowed:
                try:
                    event: Event = await asyncio.wait_for(subscription.queue.get(), timeout=sse.HEARTBEAT)
                except asyncio.TimeoutError:
                    await response.write(b":keepalive\n\n")
                    continue
                if event.kind == EVENT and event.data.get("id") == wanted:
                    view = event.data
                    await response.write(frame(view))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            hub.unsubscribe(subscription)
        return response

    # -- what a workflow lacks -----------------------------------------------------------------
    async def missing(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        report, data = await self.report(request, body)
        suggestions = await known_sources(self.state, report.get("missing_models") or {}, data)
        queued, already, unknown, refused = [], [], [], []
        for folder, name, known in suggestions:
            if known is None:
                unknown.append({"folder": folder, "name": name})
                continue
            try:
                queued.append(
                    await self.state.downloads.enqueue(
                        known.source, folder, name, sha256=known.sha256, by=actor(request)
                    )
                )
            except Conflict as exc:
                if exc.code == "DOWNLOAD_EXISTS" and isinstance(exc.extra.get("download"), dict):
                    already.append(exc.extra["download"])
                elif exc.code != "MODEL_EXISTS":  # there meanwhile: nothing to fetch
                    refused.append({"folder": folder, "name": name, "error": exc.message, "code": exc.code})
            except CozyGenError as exc:
                refused.append({"folder": folder, "name": name, "error": exc.message, "code": exc.code})
        return json_response({"queued": queued, "unknown": unknown, "already": already, "refused": refused})

    async def report(self, request: web.Request, body: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """The check of the named workflow (as the caller sees it) or of the posted graph, and the data checked."""
        if body.get("workflow") is not None:
            name = text_field(body, "workflow", code="INVALID_WORKFLOW")
            data = await asyncio.to_thread(users_store(request, self.state).read, name)
        elif isinstance(body.get("graph"), dict):
            data = body["graph"]
        else:
            raise BadRequest('send {"workflow": "<a workflow\'s name>"} or {"graph": {...}}', code="INVALID_WORKFLOW")
        object_info, models = await self.state.definitions.get(refresh=True)
        if is_ui_workflow(data):
            conversion = await asyncio.to_thread(checked, data, object_info, models)
            return conversion.report, data
        return check(require_api_format(data), object_info, models), data

    # -- recorded sources ----------------------------------------------------------------------
    async def record(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        folder = self.folder(body)
        name = check_name(text_field(body, "name", code="INVALID_MODEL_NAME"))
        source, sha256 = source_field(body), catalogue.checked_sha256(body.get("sha256"))
        write = functools.partial(
            record_source,
            folder=folder,
            name=name,
            source=source,
            sha256=sha256,
            by=actor(request),
            remote=remote_address(request),
        )
        await self.state.db.execute_write_fn(write)
        answer = {"folder": folder, "name": name, "source": source.as_dict(), "label": source.label, "sha256": sha256}
        return json_response(answer)

    async def forget(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        folder, name = self.folder(body), text_field(body, "name", code="INVALID_MODEL_NAME")
        write = functools.partial(
            forget_source, folder=folder, name=name, by=actor(request), remote=remote_address(request)
        )
        if not await self.state.db.execute_write_fn(write):
            raise NotFound(f"no source is recorded for {folder}/{name}", code="SOURCE_NOT_FOUND")
        return json_response({"deleted": True, "folder": folder, "name": name})


def frame(view: dict[str, Any]) -> bytes:
    return f"event: {EVENT}\n".encode() + b"data: " + orjson.dumps(view) + b"\n\n"


def add_routes(routes: Routes, state: CozyGenState) -> None:
    r = DownloadRoutes(state)
    routes.get("/cozygen/api/downloads", access=ADMIN)(r.listing)
    routes.post("/cozygen/api/downloads", access=ADMIN)(r.start)
    routes.post("/cozygen/api/downloads/missing", access=ADMIN)(r.missing)
    routes.get("/cozygen/api/downloads/{download_id}", access=ADMIN)(r.one)
    routes.post("/cozygen/api/downloads/{download_id}/cancel", access=ADMIN)(r.cancel)
    routes.get("/cozygen/api/downloads/{download_id}/events", access=ADMIN)(r.events)
    routes.put("/cozygen/api/models/sources", access=ADMIN)(r.record)
    routes.delete("/cozygen/api/models/sources", access=ADMIN)(r.forget)
