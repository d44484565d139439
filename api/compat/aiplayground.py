"""AI Playground (seed 001) health and workflow requirement check at /cozygen/compat/aiplayground/.

``/healthy`` is public: AI Playground polls it without credentials and reads only the 200 (its own backend answers
``{"health": "OK"}`` and exempts it from its token check). Anonymous callers learn liveness alone; the version is
for signed-in callers. The requirement check takes both the seed document's ``{"workflow": {customNodes,
requiredModels}}`` and the real client's ``{customNodes: [{username, repoName, gitRef}], pythonPackages}``, and
answers both: the seed's ``{code, data}`` and the real client's ``needsInstallation``. The model routes
(downloadModel, stopDownloadModel, checkModelAlreadyLoaded) are ``aiplayground_models``'.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import re
from typing import Any

from aiohttp import web

from ...core.accounts.access import PUBLIC, VIEWER
from ...core.errors import BadRequest
from ...core.graph.check import check
from ...core.version import __version__
from ...core.workflows.store import is_api_format
from ..auth.credentials import authenticate
from ..responses import json_response, read_json
from ..routing import Routes
from ..state import CozyGenState
from . import aiplayground_chat, aiplayground_models

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


MAX_PACKAGES = 100  # each is a lookup over ComfyUI's installed distributions
_PACKAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def repo_name(spec: str) -> str:
    """``https://github.com/user/ComfyUI-Foo@abc`` or ``user/ComfyUI-Foo@abc`` → ``comfyui-foo``."""
    return spec.split("@", 1)[0].rstrip("/").removesuffix(".git").rpartition("/")[2].lower()


def node_spec(node: Any) -> str:
    """A custom node as the seed names it (``user/repo@ref``), from a string or the real client's
    ``{username, repoName, gitRef}``; a 400 for anything else."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and isinstance(node.get("repoName"), str) and node["repoName"].strip():
        user, ref = node.get("username"), node.get("gitRef")
        spec = f"{user}/{node['repoName']}" if isinstance(user, str) and user else node["repoName"]
        return f"{spec}@{ref}" if isinstance(ref, str) and ref else spec
    hint = "customNodes holds 'user/repo@ref' strings or {username, repoName, gitRef} objects"
    raise BadRequest(hint, code="INVALID_WORKFLOW")


def package_name(spec: str) -> str | None:
    """The distribution a pip specifier names: ``opencv-python==4.8.0`` → ``opencv-python``; a wheel's path or
    URL → the name before its first dash."""
    spec = spec.strip()
    if spec.endswith(".whl"):
        spec = spec.rpartition("/")[2].split("-", 1)[0]
    found = _PACKAGE_NAME.match(spec)
    return found.group(0) if found else None


def is_installed(spec: str) -> bool:
    """Whether ComfyUI's Python (this process) has the package a specifier names."""
    name = package_name(spec)
    if name is None:
        return False
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


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
    nodes = [n for n in map(node_spec, listed(workflow, "customNodes")) if repo_name(n) not in installed]
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

    async def healthy(self, request: web.Request) -> web.Response:
        """Public liveness; the version only for a signed-in caller (or with auth off)."""
        body: dict[str, Any] = {"status": "ok", "health": "OK"}
        if not self.state.auth_enabled or await authenticate(request, self.state) is not None:
            body["version"] = __version__
        return json_response(body)

    async def check_requirements(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        if isinstance(body.get("workflow"), dict):
            workflow = body["workflow"]
        elif "customNodes" in body or "pythonPackages" in body:  # the real client posts them at the top
            workflow = body
        else:
            workflow = {}
        object_info, models = await self.state.definitions.get()
        wanted = [p for p in listed(workflow, "pythonPackages") if isinstance(p, str)]
        if len(wanted) > MAX_PACKAGES:
            raise BadRequest(f"check at most {MAX_PACKAGES} pythonPackages at once", code="INVALID_WORKFLOW")
        if is_api_format(workflow):  # a real ComfyUI graph: the full check
            report = check(workflow, object_info, models)
            nodes = [n["class_type"] for n in report["missing_nodes"]]
            missing_models = [name for names in report["missing_models"].values() for name in names]
        else:
            packages = await asyncio.to_thread(self.state.host.custom_node_packages)
            nodes, missing_models = requirements(workflow, models, packages)
        missing_packages = await asyncio.to_thread(lambda: [p for p in wanted if not is_installed(p)])
        valid = not nodes and not missing_models and not missing_packages
        data = {"valid": valid, "missingNodes": nodes, "missingModels": missing_models}
        data["missingPackages"] = missing_packages
        # needsInstallation: what the real client reads (nodes or packages to install; models are downloaded apart)
        return json_response({"code": 0, "data": data, "needsInstallation": bool(nodes or missing_packages)})


def add_routes(routes: Routes, state: CozyGenState) -> None:
    r = AIPlaygroundRoutes(state)
    routes.get(f"{BASE}/healthy", access=PUBLIC)(r.healthy)
    routes.post(f"{BASE}/api/comfyUi/checkWorkflowRequirements", access=VIEWER)(r.check_requirements)
    aiplayground_models.add_routes(routes, state, BASE)  # downloadModel, stopDownloadModel, checkModelAlreadyLoaded
    aiplayground_chat.add_routes(routes, state, BASE)  # v1/chat/completions
