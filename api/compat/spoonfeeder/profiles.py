"""Spoon Feeder's profiles over CozyGen's backends and LLM profiles (core/backends/profiles.py): list (with
``?provider=``), create, get, update, delete, ``test-connection``, a profile's models, and their sync, in the seed's
shapes. The local ComfyUI is the ``local`` comfyui profile. Keys are write-only: ``api_key`` answers a fixed mask
when one is set (sent back unchanged, it keeps the key). Everyone signed in may list and read (URLs only for
admins); changes and tests are admins' and audited."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ....core.accounts.access import ADMIN
from ....core.backends.model import LOCAL_ID
from ....core.backends.profiles import MASK
from ....core.errors import CozyGenError
from ... import audit
from ...auth.credentials import current_user
from ...responses import read_json
from ...state import CozyGenState
from .shapes import done, iso, ok, origin

# Spoon Feeder's request fields -> core's
RENAMED = {
    "apiKey": "api_key",
    "promptTemplate": "prompt_template",
    "inputModalities": "input_modalities",
    "outputModalities": "output_modalities",
}


def translated(body: dict[str, Any]) -> dict[str, Any]:
    return {RENAMED.get(key, key): value for key, value in body.items()}


def _json(text: str | None, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


def is_admin(request: web.Request) -> bool:
    user = current_user(request)
    return user is None or user.role == ADMIN  # no user: auth is off, everyone is the admin


def seed_profile(request: web.Request, row: dict[str, Any]) -> dict[str, Any]:
    local = row["id"] == LOCAL_ID
    url = origin(request) if local else row["url"]
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"] or "",
        "type": row["type"],
        "provider": row["provider"],
        "api_key": MASK if row["secret"] else None,
        "has_api_key": bool(row["secret"]),
        "url": url if is_admin(request) or local else None,
        "enabled": bool(row["enabled"]),
        "options": _json(row["options_json"], {}),
        "prompt_template": row["prompt_template"],
        "input_modalities": _json(row["input_modalities_json"], ["text"]),
        "output_modalities": _json(row["output_modalities_json"], ["image"]),
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def seed_model(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "created_at": iso(row.get("created_at"))}


class ProfileRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    async def audit(self, request: web.Request, action: str, target: Any, *, ok: bool = True, detail: str = "") -> None:
        name = str(target)[:200] if target is not None else None
        await audit.record(self.state, request, action, name, ok=ok, detail=detail[:200])

    async def audited(self, request: web.Request, action: str, target: Any, work: Any) -> Any:
        try:
            result = await work
        except CozyGenError as exc:
            await self.audit(request, action, target, ok=False, detail=exc.message)
            raise
        await self.audit(request, action, target)
        return result

    async def listing(self, request: web.Request) -> web.Response:
        provider = request.query.get("provider", "").strip() or None
        rows = await self.state.profiles.listing(provider)
        return ok([seed_profile(request, row) for row in rows])

    async def one(self, request: web.Request) -> web.Response:
        return ok(seed_profile(request, await self.state.profiles.get(request.match_info["profile_id"])))

    async def create(self, request: web.Request) -> web.Response:
        body = translated(await read_json(request))
        user = current_user(request)
        work = self.state.profiles.create(body, by=user.username if user else None)
        row = await self.audited(request, "profile.create", body.get("name"), work)
        return ok(seed_profile(request, row), status=201)

    async def update(self, request: web.Request) -> web.Response:
        profile_id, body = request.match_info["profile_id"], translated(await read_json(request))
        row = await self.audited(request, "profile.update", profile_id, self.state.profiles.update(profile_id, body))
        return ok(seed_profile(request, row))

    async def delete(self, request: web.Request) -> web.Response:
        profile_id = request.match_info["profile_id"]
        await self.audited(request, "profile.delete", profile_id, self.state.profiles.delete(profile_id))
        return done("Profile deleted")

    async def test_connection(self, request: web.Request) -> web.Response:
        body = translated(await read_json(request))
        result = await self.audited(
            request, "profile.test", body.get("provider"), self.state.profiles.test_connection(body)
        )
        return ok(result)

    async def models(self, request: web.Request) -> web.Response:
        rows = await self.state.profiles.models(request.match_info["profile_id"])
        return ok([seed_model(row) for row in rows])

    async def add_model(self, request: web.Request) -> web.Response:
        profile_id, body = request.match_info["profile_id"], await read_json(request)
        work = self.state.profiles.add_model(profile_id, body.get("modelId"), body.get("name"))
        row = await self.audited(request, "profile.models", profile_id, work)
        return ok(seed_model(row), status=201)

    async def delete_model(self, request: web.Request) -> web.Response:
        profile_id, model_id = request.match_info["profile_id"], request.match_info["model_id"]
        await self.audited(
            request, "profile.models", profile_id, self.state.profiles.delete_model(profile_id, model_id)
        )
        return done("Model removed from profile")

    async def sync(self, request: web.Request) -> web.Response:
        profile_id = request.match_info["profile_id"]
        result = await self.audited(
            request, "profile.models.sync", profile_id, self.state.profiles.sync_models(profile_id)
        )
        return ok(result)
