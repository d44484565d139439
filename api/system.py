"""Health, the server's stats and the API description (the web app is served by webapp.py)."""

from __future__ import annotations

import asyncio
import functools
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from ..core.accounts.access import ADMIN, PUBLIC, VIEWER
from ..core.server_stats import public_stats
from ..core.version import __version__
from .responses import json_response
from .routing import Routes
from .state import CozyGenState
from .system_restart import RestartRoutes

SPEC_PATH = Path(__file__).with_name("openapi.yaml")


@functools.lru_cache(maxsize=1)
def load_spec() -> dict[str, Any]:
    import yaml  # ComfyUI ships PyYAML; only needed when the spec is asked for

    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    spec["info"]["version"] = __version__
    return spec


async def hello(_request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def openapi(_request: web.Request) -> web.Response:
    return json_response(await asyncio.to_thread(load_spec))


def backends_health(state: CozyGenState) -> list[dict[str, Any]]:
    """Each backend's name and health (no URL: anyone signed in reads /health; admins read the rest)."""
    service = state.backends
    found = []
    for backend in service.backends():
        health = service.health(backend.id).as_dict()
        found.append({"id": backend.id, "name": backend.name, "state": health["state"], "queue": health["queue"]})
    return found


class SystemRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state
        self.started_at = time.time()  # when this run of ComfyUI loaded CozyGen (a restart changes it)

    async def health(self, _request: web.Request) -> web.Response:
        state, host = self.state, self.state.host
        features: dict[str, Any] = {
            "database": state.ready,
            **host.capabilities().as_dict(),
        }
        body: dict[str, Any] = {
            "status": "ok" if state.ready else "starting",
            "version": __version__,
            "comfyui_version": host.comfyui_version(),
            "features": features,
        }
        if state.gallery_started:
            body["gallery"] = state.gallery.status()
        if state.backends_started:
            body["backends"] = backends_health(state)
        if state.startup_error:
            body["status"], body["error"] = "error", state.startup_error
        return json_response(body)

    async def stats(self, _request: web.Request) -> web.Response:
        """Devices, memory, versions and the queue's length, for anyone signed in (no paths, no user data)."""
        host = self.state.host
        try:
            raw = await asyncio.to_thread(host.system_stats)
        except RuntimeError:  # a ComfyUI without /system_stats: the versions and the queue still answer
            raw = {}
        running, pending = host.queue_snapshot()
        body = public_stats(
            raw,
            running=len(running),
            pending=len(pending),
            cozygen_version=__version__,
            comfyui_version=host.comfyui_version(),
        )
        return json_response({**body, "started_at": self.started_at})


def add_routes(routes: Routes, state: CozyGenState) -> None:
    system = SystemRoutes(state)
    routes.get("/cozygen/hello", access=PUBLIC)(hello)
    routes.get("/cozygen/api/health", access=VIEWER)(system.health)
    routes.get("/cozygen/api/system/stats", access=VIEWER)(system.stats)
    routes.get("/cozygen/api/openapi.json", access=VIEWER)(openapi)
    routes.post("/cozygen/api/system/restart", access=ADMIN)(RestartRoutes(state, system.started_at).restart)
