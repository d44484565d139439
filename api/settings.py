"""Server-wide settings (admin): whether ComfyUI's own routes are guarded, gallery visibility, the LLM endpoint
for prompt enrichment. The endpoint's API key is write-only: no response carries it."""

from __future__ import annotations

import functools
from typing import Any

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


def apply_changes(conn: Any, changes: dict[str, Any], actor: str | None, remote: str | None, detail: str) -> dict:
    """Save the changed settings and audit who changed them (in the writer thread); the new values."""
    values = settings.update(conn, changes)
    users.audit(conn, "settings.update", actor=actor, remote=remote, detail=detail)
    return values


class SettingsRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    async def get(self, _request: web.Request) -> web.Response:
        return json_response(describe(self.state.settings))

    async def change(self, request: web.Request) -> web.Response:
        changes = settings.validate(await read_json(request))
        user, remote = current_user(request), remote_address(request)
        actor = user.username if user else None
        apply = functools.partial(
            apply_changes, changes=changes, actor=actor, remote=remote, detail=settings.audit_detail(changes)
        )
        self.state.settings = await self.state.db.execute_write_fn(apply)
        return json_response(describe(self.state.settings))


def add_routes(routes: Routes, state: CozyGenState) -> None:
    settings_routes = SettingsRoutes(state)
    routes.get("/cozygen/api/settings", access=ADMIN)(settings_routes.get)
    routes.patch("/cozygen/api/settings", access=ADMIN)(settings_routes.change)
