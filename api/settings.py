"""Server-wide settings (admin): whether ComfyUI's own routes are guarded, gallery visibility, the LLM endpoint
for prompt enrichment. The endpoint's API key is write-only: no response carries it."""

from __future__ import annotations

from aiohttp import web

from ..core import settings
from ..core.accounts import users
from ..core.accounts.access import ADMIN
from .auth.credentials import current_user, remote_address
from .responses import json_response, read_json
from .routing import Routes
from .state import CozyGenState


def describe(values: dict) -> dict:
    return {
        "settings": settings.public(values),
        "descriptions": {name: s.description for name, s in settings.SETTINGS.items()},
        "choices": {name: list(s.choices) for name, s in settings.SETTINGS.items() if s.choices},
    }


def add_routes(routes: Routes, state: CozyGenState) -> None:
    @routes.get("/cozygen/api/settings", access=ADMIN)
    async def get_settings(_request: web.Request) -> web.Response:
        return json_response(describe(state.settings))

    @routes.patch("/cozygen/api/settings", access=ADMIN)
    async def change_settings(request: web.Request) -> web.Response:
        changes = settings.validate(await read_json(request))
        user, remote = current_user(request), remote_address(request)
        actor = user.username if user else None
        detail = settings.audit_detail(changes)

        def apply(conn):
            values = settings.update(conn, changes)
            users.audit(conn, "settings.update", actor=actor, remote=remote, detail=detail)
            return values

        state.settings = await state.db.execute_write_fn(apply)
        return json_response(describe(state.settings))
