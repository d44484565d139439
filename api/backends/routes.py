"""The backends an admin manages (``/cozygen/api/backends``): list, add, read, change, remove, test (saved or not)
and what one lacks for the workflows. Secrets are write-only (answers say ``has_secret``); every change and test
is audited. The service is core/backends/service.py (``state.backends``)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from ...core.accounts.access import ADMIN
from ...core.backends import capabilities
from ...core.errors import BadRequest, CozyGenError
from .. import audit
from ..audit import actor, changed_fields
from ..responses import json_response, read_json
from ..routing import Routes
from ..state import CozyGenState
from ..workflows import form_of, users_store

CHECK_WORKFLOWS = 200  # workflows one check without a name looks at


class BackendRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    async def audit(
        self, request: web.Request, action: str, target: str | None, *, ok: bool = True, detail: str | None = None
    ) -> None:
        await audit.record(self.state, request, action, target, ok=ok, detail=detail)

    async def listing(self, _request: web.Request) -> web.Response:
        service = self.state.backends
        return json_response({"backends": [service.view(b) for b in service.backends()]})

    async def one(self, request: web.Request) -> web.Response:
        service = self.state.backends
        return json_response(service.view(service.get(request.match_info["backend_id"])))

    async def create(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        service = self.state.backends
        try:
            backend = await service.create(body, by=actor(request))
        except CozyGenError as exc:
            await self.audit(request, "backend.create", _name(body), ok=False, detail=exc.message[:200])
            raise
        await self.audit(request, "backend.create", backend.name, detail=f"{backend.id} {backend.url}")
        return json_response(service.view(backend), status=201)

    async def update(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        service = self.state.backends
        found = service.get(request.match_info["backend_id"])
        try:
            backend = await service.update(found.id, body)
        except CozyGenError as exc:
            await self.audit(request, "backend.update", found.name, ok=False, detail=exc.message[:200])
            raise
        await self.audit(request, "backend.update", backend.name, detail=changed_fields(body))
        return json_response(service.view(backend))

    async def delete(self, request: web.Request) -> web.Response:
        service = self.state.backends
        found = service.get(request.match_info["backend_id"])
        try:
            await service.delete(found.id)
        except CozyGenError as exc:
            await self.audit(request, "backend.delete", found.name, ok=False, detail=exc.message[:200])
            raise
        await self.audit(request, "backend.delete", found.name, detail=found.id)
        return json_response({"deleted": found.id, "name": found.name})

    async def test(self, request: web.Request) -> web.Response:
        service = self.state.backends
        found = service.get(request.match_info["backend_id"])
        result = await service.test(found.id)
        await self.audit(request, "backend.test", found.name, ok=result["ok"], detail=(result["error"] or "")[:200])
        return json_response({**result, "backend": service.view(service.get(found.id))})

    async def test_unsaved(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        try:
            result = await self.state.backends.test_unsaved(body)
        except CozyGenError as exc:
            await self.audit(request, "backend.test", _url(body), ok=False, detail=exc.message[:200])
            raise
        await self.audit(request, "backend.test", _url(body), ok=result["ok"], detail=(result["error"] or "")[:200])
        return json_response(result)

    async def pins(self, _request: web.Request) -> web.Response:
        return json_response({"pins": self._pins()})

    async def pin(self, request: web.Request) -> web.Response:
        """Pin a workflow to a backend (``{"backend": "<id or name>"}``; null or "any" unpins it). A job's own
        ``backend`` wins over its workflow's pin."""
        body = await read_json(request)
        if not isinstance(body, dict) or "backend" not in body:
            raise BadRequest('send {"backend": "<id or name>"} (null unpins)', code="INVALID_BACKEND")
        await self._set_pin(request, body["backend"])
        return json_response({"pins": self._pins()})

    async def unpin(self, request: web.Request) -> web.Response:
        await self._set_pin(request, None)
        return json_response({"pins": self._pins()})

    async def _set_pin(self, request: web.Request, backend: Any) -> None:
        workflow = request.match_info["workflow"]
        try:
            found = await self.state.backends.set_pin(workflow, backend)
        except CozyGenError as exc:
            await self.audit(request, "backend.pin", workflow[:200], ok=False, detail=exc.message[:200])
            raise
        await self.audit(request, "backend.pin", workflow[:200], detail=found.id if found else "unpinned")

    def _pins(self) -> list[dict[str, str]]:
        service = self.state.backends
        return [{"workflow": w, "backend": b, "name": service.get(b).name} for w, b in sorted(service.pins().items())]

    async def check(self, request: web.Request) -> web.Response:
        """What the backend lacks for one workflow (``?workflow=``) or for each of them."""
        service = self.state.backends
        backend = service.get(request.match_info["backend_id"])
        info = service.object_info(backend.id)
        if info is None:
            info = await service.refresh_object_info(backend.id)
        store = users_store(request, self.state)
        wanted = request.query.get("workflow")
        names = [wanted] if wanted else (await asyncio.to_thread(store.names))[:CHECK_WORKFLOWS]
        definitions = await self.state.definitions.get()
        reports: list[dict[str, Any]] = []
        for name in names:
            try:
                form = await form_of(self.state, store, name, definitions)
            except CozyGenError as exc:
                if wanted:
                    raise
                reports.append({"workflow": name, "missing": [], "error": exc.message})
                continue
            missing = capabilities.missing(form.graph, info)
            reports.append({"workflow": name, "ok": not missing, "missing": missing})
        body = {"backend": {"id": backend.id, "name": backend.name}, "nodes_known": info is not None}
        return json_response({**body, "workflows": reports})


def _name(body: Any) -> str | None:
    value = body.get("name") if isinstance(body, dict) else None
    return value[:64] if isinstance(value, str) else None


def _url(body: Any) -> str | None:
    """The URL an admin tried, for the audit log, without any user or password it held."""
    value = body.get("url") if isinstance(body, dict) else None
    if not isinstance(value, str):
        return None
    scheme, sep, rest = value.partition("://")
    if "@" in rest:
        rest = "<credentials removed>@" + rest.rsplit("@", 1)[1]
    return (scheme + sep + rest)[:200]


def add_routes(routes: Routes, state: CozyGenState) -> None:
    r = BackendRoutes(state)
    routes.get("/cozygen/api/backends", access=ADMIN)(r.listing)
    routes.post("/cozygen/api/backends", access=ADMIN)(r.create)
    routes.post("/cozygen/api/backends/test", access=ADMIN)(r.test_unsaved)
    routes.get("/cozygen/api/backends/pins", access=ADMIN)(r.pins)  # before {backend_id}
    routes.put("/cozygen/api/backends/pins/{workflow:.+}", access=ADMIN)(r.pin)
    routes.delete("/cozygen/api/backends/pins/{workflow:.+}", access=ADMIN)(r.unpin)
    routes.get("/cozygen/api/backends/{backend_id}", access=ADMIN)(r.one)
    routes.patch("/cozygen/api/backends/{backend_id}", access=ADMIN)(r.update)
    routes.delete("/cozygen/api/backends/{backend_id}", access=ADMIN)(r.delete)
    routes.post("/cozygen/api/backends/{backend_id}/test", access=ADMIN)(r.test)
    routes.get("/cozygen/api/backends/{backend_id}/check", access=ADMIN)(r.check)
