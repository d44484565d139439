"""The language-model providers (``/cozygen/api/llm/``): everyone reads whether an assistant is available and the
providers' user view; admins add, change, remove, test and make default (keys write-only: answers say
``has_key``), and read a provider's models live. Every change and test is audited. The service is
core/llm/providers.py (``state.providers``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...core.accounts.access import ADMIN, VIEWER
from ...core.errors import CozyGenError
from .. import audit
from ..audit import actor, changed_fields
from ..auth.credentials import current_user
from ..responses import json_response, read_json
from ..routing import Routes
from ..state import CozyGenState

BASE = "/cozygen/api/llm"


def admin(request: web.Request, state: CozyGenState) -> bool:
    user = current_user(request)
    return user.role == ADMIN if user is not None else not state.auth_enabled


def _text(body: Any, key: str, limit: int = 200) -> str | None:
    value = body.get(key) if isinstance(body, dict) else None
    return value[:limit] if isinstance(value, str) else None


class LLMRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    async def audit(
        self, request: web.Request, action: str, target: str | None, *, ok: bool = True, detail: str | None = None
    ) -> None:
        await audit.record(self.state, request, action, target, ok=ok, detail=detail)

    async def listing(self, request: web.Request) -> web.Response:
        seen_by_admin = admin(request, self.state)
        found = await self.state.providers.listing()
        return json_response({"providers": [p.as_dict(admin=seen_by_admin) for p in found]})

    async def status(self, _request: web.Request) -> web.Response:
        provider = await self.state.providers.available()
        return json_response(
            {"available": provider is not None, "provider": provider.as_dict(admin=False) if provider else None}
        )

    async def one(self, request: web.Request) -> web.Response:
        provider = await self.state.providers.get(request.match_info["provider_id"])
        return json_response(provider.as_dict(admin=True))

    async def create(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        try:
            provider = await self.state.providers.create(body, by=actor(request))
        except CozyGenError as exc:
            await self.audit(request, "llm.create", _text(body, "name", 64), ok=False, detail=exc.message[:200])
            raise
        await self.audit(request, "llm.create", provider.name, detail=f"{provider.id} {provider.kind} {provider.url}")
        return json_response(provider.as_dict(admin=True), status=201)

    async def update(self, request: web.Request) -> web.Response:
        provider_id = request.match_info["provider_id"]
        body = await read_json(request)
        found = await self.state.providers.get(provider_id)
        try:
            provider = await self.state.providers.update(provider_id, body, by=actor(request))
        except CozyGenError as exc:
            await self.audit(request, "llm.update", found.name, ok=False, detail=exc.message[:200])
            raise
        await self.audit(request, "llm.update", provider.name, detail=changed_fields(body))
        return json_response(provider.as_dict(admin=True))

    async def delete(self, request: web.Request) -> web.Response:
        provider_id = request.match_info["provider_id"]
        found = await self.state.providers.get(provider_id)
        try:
            await self.state.providers.delete(provider_id, by=actor(request))
        except CozyGenError as exc:
            await self.audit(request, "llm.delete", found.name, ok=False, detail=exc.message[:200])
            raise
        await self.audit(request, "llm.delete", found.name, detail=found.id)
        return json_response({"deleted": found.id})

    async def make_default(self, request: web.Request) -> web.Response:
        provider_id = request.match_info["provider_id"]
        provider = await self.state.providers.set_default(provider_id, by=actor(request))
        await self.audit(request, "llm.default", provider.name, detail=provider.id)
        return json_response(provider.as_dict(admin=True))

    async def test(self, request: web.Request) -> web.Response:
        provider = await self.state.providers.get(request.match_info["provider_id"])
        result = await self.state.providers.test(provider.id)
        await self.audit(request, "llm.test", provider.name, ok=result["ok"], detail=(result["error"] or "")[:200])
        return json_response(result)

    async def test_unsaved(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        target = _text(body, "url")
        try:
            result = await self.state.providers.test(body)
        except CozyGenError as exc:
            await self.audit(request, "llm.test", target, ok=False, detail=exc.message[:200])
            raise
        await self.audit(request, "llm.test", target, ok=result["ok"], detail=(result["error"] or "")[:200])
        return json_response(result)

    async def models(self, request: web.Request) -> web.Response:
        provider = await self.state.providers.get(request.match_info["provider_id"])
        names = await self.state.providers.models(provider.id)
        return json_response({"provider": provider.id, "models": names, "default_model": provider.default_model})


def add_routes(routes: Routes, state: CozyGenState) -> None:
    r = LLMRoutes(state)
    routes.get(f"{BASE}/status", access=VIEWER)(r.status)
    routes.get(f"{BASE}/providers", access=VIEWER)(r.listing)
    routes.post(f"{BASE}/providers", access=ADMIN)(r.create)
    routes.post(f"{BASE}/providers/test", access=ADMIN)(r.test_unsaved)  # before {provider_id}
    routes.get(f"{BASE}/providers/{{provider_id}}", access=ADMIN)(r.one)
    routes.patch(f"{BASE}/providers/{{provider_id}}", access=ADMIN)(r.update)
    routes.delete(f"{BASE}/providers/{{provider_id}}", access=ADMIN)(r.delete)
    routes.post(f"{BASE}/providers/{{provider_id}}/default", access=ADMIN)(r.make_default)
    routes.post(f"{BASE}/providers/{{provider_id}}/test", access=ADMIN)(r.test)
    routes.get(f"{BASE}/providers/{{provider_id}}/models", access=ADMIN)(r.models)
