"""Spoon Feeder's provider settings (``settings``, ``settings/:provider`` and its ``test``) over CozyGen's LLM
providers: the settings of a provider kind are the one stored provider of that kind (the default one when it is of
that kind, else the first). ``PUT`` creates it or changes it (only the fields sent: the real client leaves an
untouched key out), ``DELETE`` removes it. The key is write-only: answers show its last four characters
(``...7890``), a key of eight or fewer none (``****``); sent back as shown, it keeps the key. ``status``,
``lastTested`` and ``errorMessage`` are those of the last test since the server started (``unknown`` before one).
All admin (the routes' declared access); changes are audited (``llm.provider.create``, ``.update``, ``.delete``;
the detail names the fields changed, never the key).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from aiohttp import web

from ....core.errors import BadRequest, CozyGenError, NotFound
from ....core.llm.model import KINDS, SETTINGS_ID, NoProvider, Provider
from ...auth.credentials import current_user
from ...responses import json_response, read_json
from ...state import CozyGenState
from .. import llm_request
from .profiles import ProfileRoutes
from .shapes import iso, ok

NAMES = {"openai-compatible": "OpenAI-compatible", "ollama": "Ollama", "openai": "OpenAI",
         "claude": "Anthropic Claude", "gemini": "Google Gemini"}  # fmt: skip
T = TypeVar("T")
KEYED = ("openai", "claude", "gemini")  # kinds that answer nothing without a key


def masked(key: str | None) -> str | None:
    if not key:
        return None
    return f"...{key[-4:]}" if len(key) > 8 else "****"


def kind_of(request: web.Request) -> str:
    kind = request.match_info["provider"]
    if kind not in KINDS:
        raise BadRequest(f"Invalid provider: {kind}. Must be one of: {', '.join(KINDS)}", code="INVALID_PROVIDER")
    return kind


async def provider_of_kind(state: CozyGenState, kind: str, *, stored: bool = False) -> Provider | None:
    """The provider answering for a kind: the default one when it is of that kind, else the first listed."""
    if not stored:
        try:
            default = await state.providers.default()
        except NoProvider:
            default = None
        if default is not None and default.kind == kind:
            return default
    listed = [p for p in await state.providers.listing() if p.kind == kind and not (stored and p.id == SETTINGS_ID)]
    return next((p for p in listed if p.is_default), listed[0] if listed else None)


class SettingsRoutes:
    def __init__(self, state: CozyGenState, audits: ProfileRoutes) -> None:
        self.state, self.audits = state, audits
        self.tested: dict[str, tuple[float, bool, str | None]] = {}  # provider id -> (when, connected, error)

    async def entry(self, provider: Provider) -> dict[str, Any]:
        try:
            row = await self.state.profiles.get(provider.id)
        except CozyGenError:
            row = {}
        when, connected, error = self.tested.get(provider.id, (None, None, None))
        return {
            "id": provider.id, "provider": provider.kind, "name": provider.name, "apiKey": masked(provider.key),
            "endpointUrl": provider.url, "defaultModel": provider.default_model, "lastTested": iso(when),
            "status": "unknown" if connected is None else "connected" if connected else "error",
            "errorMessage": error, "createdAt": iso(row.get("created_at")), "updatedAt": iso(row.get("updated_at")),
        }  # fmt: skip

    async def audited(self, request: web.Request, action: str, target: str, work: Awaitable[T], detail: str) -> T:
        try:
            result = await work
        except CozyGenError as exc:
            await self.audits.audit(request, action, target, ok=False, detail=exc.message)
            raise
        await self.audits.audit(request, action, target, detail=detail)
        return result

    async def stored(self, kind: str) -> Provider:
        found = await provider_of_kind(self.state, kind, stored=True)
        if found is None:
            raise NotFound(f"Settings for provider {kind} not found", code="SETTINGS_NOT_FOUND")
        return found

    async def listing(self, request: web.Request) -> web.Response:
        kinds = [p.kind for p in await self.state.providers.listing()]
        found = [await provider_of_kind(self.state, kind, stored=True) for kind in dict.fromkeys(kinds)]
        return ok([await self.entry(p) for p in found if p is not None])

    async def one(self, request: web.Request) -> web.Response:
        return ok(await self.entry(await self.stored(kind_of(request))))

    async def update(self, request: web.Request) -> web.Response:
        kind, body = kind_of(request), await read_json(request)
        user = current_user(request)
        by = user.username if user else None
        found = await provider_of_kind(self.state, kind, stored=True)
        changes: dict[str, Any] = {}
        key, url = body.get("apiKey"), body.get("endpointUrl")
        if key is not None and not isinstance(key, str):
            raise BadRequest("apiKey: the provider's key, as text", code="INVALID_PROFILE", extra={"field": "apiKey"})
        if key and (found is None or key != masked(found.key)):
            changes["api_key"] = key
        if "endpointUrl" in body:
            if url is not None and not isinstance(url, str):
                raise BadRequest("endpointUrl: an http(s) address", code="INVALID_PROFILE", extra={"field": "url"})
            changes["url"] = url or None
        if "defaultModel" in body:
            changes["default_model"] = llm_request.model_name(body["defaultModel"])
        detail = ",".join(sorted(changes))  # the fields' names, never the key
        if found is None:
            if kind in KEYED and "api_key" not in changes:
                raise BadRequest("apiKey is required", code="INVALID_PROFILE", extra={"field": "apiKey"})
            name = body.get("name") if isinstance(body.get("name"), str) and body["name"].strip() else NAMES[kind]
            work = self.state.providers.create({**changes, "name": name, "kind": kind}, by=by)
            provider = await self.audited(request, "llm.provider.create", name, work, detail)
        elif changes:
            work = self.state.providers.update(found.id, changes, by=by)
            provider = await self.audited(request, "llm.provider.update", found.name, work, detail)
        else:
            provider = found
        self.tested.pop(provider.id, None)
        return json_response({"success": True, "message": f"Settings for {kind} updated",
                              "data": await self.entry(provider)})  # fmt: skip

    async def delete(self, request: web.Request) -> web.Response:
        kind = kind_of(request)
        found = await self.stored(kind)
        user = current_user(request)
        work = self.state.providers.delete(found.id, by=user.username if user else None)
        await self.audited(request, "llm.provider.delete", found.name, work, "")
        self.tested.pop(found.id, None)
        return json_response({"success": True, "message": f"Settings for {kind} deleted"})

    async def test(self, request: web.Request) -> web.Response:
        kind = kind_of(request)
        found = await self.stored(kind)
        result = await self.state.providers.test(found.id)
        connected, error = bool(result.get("ok")), result.get("error")
        self.tested[found.id] = (time.time(), connected, None if connected else error)
        models = result.get("models") or []
        model = found.default_model or (models[0] if models else None)
        return ok({
            "provider": kind, "connected": connected, "latency": round(result.get("latency_ms") or 0),
            "model": model, "models": models, "error": None if connected else error,
            "message": f"Connected to {found.name}" if connected else error,
        })  # fmt: skip
