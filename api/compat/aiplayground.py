"""AI Playground (seed 001) health and workflow requirement check at /cozygen/compat/aiplayground/."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from ...core.accounts.access import VIEWER
from ...core.errors import BadRequest
from ...core.graph.check import check
from ...core.version import __version__
from ...core.workflows.store import is_api_format
from ..responses import json_response, read_json
from ..routing import Routes
from ..state import CozyGenState

BASE = "/cozygen/compat/aiplayground"
MODEL_TYPES = {
    "checkpoint": "checkpoints",
    "lora": "loras",
    "vae": "vae",
    "upscale": "upscale_models",
    "upscaler": "upscale_models",
    "controlnet": "controlnet",
    "embedding": "embeddings",
    "clip": "text_encoders",
    "text_encoder": "text_encoders",
    "unet": "diffusion_models",
    "diffusion_model": "diffusion_models",
}


def repo_name(spec: str) -> str:
    """``https://github.com/user/ComfyUI-Foo@abc`` or ``user/ComfyUI-Foo@abc`` → ``comfyui-foo``."""
    return spec.split("@", 1)[0].rstrip("/").removesuffix(".git").rpartition("/")[2].lower()


def listed(workflow: dict[str, Any], name: str) -> list[Any]:
    """``workflow[name]``: a list, or nothing (a 400 for anything else)."""
    value = workflow.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest(f"workflow.{name} must be a list", code="INVALID_WORKFLOW")
    return value


def requirements(workflow: dict[str, Any], models: dict[str, list[str]], packages: list[str]) -> tuple[list, list]:
    installed = {p.lower() for p in packages}
    nodes = [n for n in listed(workflow, "customNodes") if isinstance(n, str) and repo_name(n) not in installed]
    missing_models = []
    for model in listed(workflow, "requiredModels"):
        if not isinstance(model, dict) or not isinstance(model.get("path"), str):
            continue
        folder = MODEL_TYPES.get(str(model.get("type", "")).lower())
        wanted = model["path"].replace("\\", "/").rpartition("/")[2]
        candidates = models.get(folder, []) if folder else [f for files in models.values() for f in files]
        if not any(f.replace("\\", "/").rpartition("/")[2] == wanted for f in candidates):
            missing_models.append(model["path"])
    return nodes, missing_models


class AIPlaygroundRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    async def healthy(self, _request: web.Request) -> web.Response:
        return json_response({"status": "ok", "version": __version__})

    async def check_requirements(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        workflow = body.get("workflow") if isinstance(body.get("workflow"), dict) else {}
        object_info, models = await self.state.definitions.get()
        if is_api_format(workflow):  # a real ComfyUI graph: the full check
            report = check(workflow, object_info, models)
            nodes = [n["class_type"] for n in report["missing_nodes"]]
            missing_models = [name for names in report["missing_models"].values() for name in names]
        else:
            packages = await asyncio.to_thread(self.state.host.custom_node_packages)
            nodes, missing_models = requirements(workflow, models, packages)
        valid = not nodes and not missing_models
        return json_response(
            {"code": 0, "data": {"valid": valid, "missingNodes": nodes, "missingModels": missing_models}}
        )


def add_routes(routes: Routes, state: CozyGenState) -> None:
    r = AIPlaygroundRoutes(state)
    routes.get(f"{BASE}/healthy", access=VIEWER)(r.healthy)
    routes.post(f"{BASE}/api/comfyUi/checkWorkflowRequirements", access=VIEWER)(r.check_requirements)
