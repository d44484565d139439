"""CozyGen's HTTP API on ComfyUI's aiohttp server: one module per resource."""

from __future__ import annotations

import functools
from typing import Any

from ..core import host as core_host
from ..core.comfyui import partner
from ..core.jobs.service import JobService
from . import (
    accounts,
    assistant,
    comfyui_gate,
    downloads,
    files,
    gallery,
    gallery_manage,
    gallery_marks,
    jobs,
    mcp,
    model_library,
    prompts,
    push,
    repeat,
    settings,
    system,
    tags,
    trust,
    webapp,
    workflow_import,
    workflows,
)
from .backends import routes as backend_routes
from .compat import aiplayground, cyberimage, cyberimage_mcp, dreamlayer, spoonfeeder
from .guard import make_guard
from .host import ComfyUIHost
from .llm import routes as llm_routes
from .routing import Routes
from .state import CozyGenState

RESOURCE_MODULES = (
    system,
    webapp,
    accounts,
    settings,
    gallery_marks,  # before gallery: /cozygen/api/images/compare ahead of /cozygen/api/images/{image_id}
    gallery,
    gallery_manage,
    files,
    workflows,
    workflow_import,
    model_library,
    downloads,
    backend_routes,
    jobs,
    repeat,
    push,
    prompts,
    llm_routes,
    tags,
    assistant,
    trust,
    mcp,
    cyberimage,
    cyberimage_mcp,
    dreamlayer,
    spoonfeeder,
    aiplayground,
)


def register(table, state: CozyGenState) -> Routes:
    """Add every CozyGen route to an aiohttp ``RouteTableDef``."""
    routes = Routes(table)
    for module in RESOURCE_MODULES:
        module.add_routes(routes, state)
    webapp.add_fallback(routes, state)  # last: client-side routes of the web app get its shell
    return routes


def partner_key(state: CozyGenState, graph: dict[str, Any]) -> str | None:
    """The Comfy account key for a graph that uses partner nodes (the ``comfy_api_key`` setting), else None."""
    key = state.settings.get(partner.KEY_SETTING)
    return partner.key_for(graph, state.host.partner_nodes(), key) if key else None


def job_service(state: CozyGenState) -> JobService:
    """The job service over the open database and the live jobs (built by the state's startup)."""
    return JobService(
        state.db,
        state.jobs,
        state.host,
        claims=state.gate,
        limits=state.job_limits,
        fill=functools.partial(workflows.fill_named, state),
        client_id_for=state.client_id_for,
        partner_key=functools.partial(partner_key, state),
    )


def mask_partner_logs(host: ComfyUIHost) -> Any:
    async def mask(_app: Any) -> None:
        host.mask_partner_logs()  # the partner nodes are loaded when ComfyUI's server starts

    return mask


def setup() -> CozyGenState:
    """Called once at import: routes now (ComfyUI copies them under /api later), work at start."""
    host = ComfyUIHost()  # the one way to ComfyUI
    core_host.install(host)  # the nodes' way to ComfyUI
    state = CozyGenState(host, job_service=job_service)
    routes = register(host.routes(), state)
    host.add_middleware(make_guard(state, routes.access))
    host.tap_messages(state.on_host_message)  # messages are dropped until the database is open
    host.add_prompt_handler(comfyui_gate.prompt_hook(state))  # while per user, no prompt's messages go to all
    host.route_messages(state.gate.recipients)  # ... but to every socket of the user who posted it
    host.on_startup(state.startup)
    host.on_startup(mask_partner_logs(host))  # ComfyUI's partner nodes would log the Comfy API key in plain text
    host.on_shutdown(state.shutdown)
    return state
