"""CyberImage's "MCP" endpoint at /cozygen/compat/cyberimage/api/mcp, over CozyGen's MCP tools.

CyberImage's endpoint is no Model Context Protocol server: it is a JSON-RPC 2.0 of its own, one call per POST,
with three methods: ``context.image_generation.models``, ``.generate`` {prompt, negative_prompt?, model?,
settings?} and ``.status`` {job_id}. Its example client reads ``result`` (``models``/``default``;
``job_id``/``status``; ``status``, ``progress`` and, once completed, ``images[].url``) and treats any answer
that is not a 200 as a failure it cannot survive, so errors come as JSON-RPC errors with status 200. ``url`` is
absolute: the example client puts its own host in front of a path. A real MCP client belongs at
/cozygen/api/mcp.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from ...core.accounts.access import VIEWER
from ...core.errors import BadRequest, CozyGenError, RateLimited, TooLarge, UnsupportedType
from ...core.graph.fill import FieldErrors
from ...core.jobs.model import MAX_IMAGES
from ..jobs import caller
from ..responses import json_response, read_json
from ..routing import Routes
from ..state import CozyGenState
from .common import renamed
from .cyberimage import BASE, FIELD_NAMES, STATUSES, CyberImageRoutes, image_metadata, iso, job_values, progress_of

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, SERVER_ERROR = -32700, -32600, -32601, -32602, -32000
PREFIX = "context.image_generation."


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def rpc_error(error: CozyGenError) -> RpcError:
    """CozyGen's error as a JSON-RPC error: bad parameters are -32602, the rest -32000; CozyGen's body as data."""
    data = error.to_dict()
    if isinstance(error, RateLimited):
        data["retry_after"] = error.retry_after
    code = INVALID_PARAMS if isinstance(error, BadRequest) else SERVER_ERROR
    return RpcError(code, error.message, data)


def answer(request_id: Any, *, result: Any = None, error: RpcError | None = None) -> web.Response:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
    if error is None:
        body["result"] = result
    else:
        body["error"] = {"code": error.code, "message": error.message}
        if error.data is not None:
            body["error"]["data"] = error.data
    return json_response(body)


def num_images_of(settings: dict[str, Any]) -> int:
    """CyberImage's count: ``settings.num_images`` (1 by default), at most 8 as there."""
    count = settings.get("num_images", 1)
    if isinstance(count, bool) or not isinstance(count, int | float) or count != int(count) or count < 1:
        raise FieldErrors({"settings.num_images": f"a whole number from 1 to {MAX_IMAGES}"})
    return min(int(count), MAX_IMAGES)


class CyberImageMcp:
    """The three methods, over the MCP tools (generate) and the job service, as CyberImage's REST mount."""

    def __init__(self, state: CozyGenState) -> None:
        self.state = state
        self.rest = CyberImageRoutes(state)  # the REST mount's model catalogue

    async def endpoint(self, request: web.Request) -> web.Response:
        try:
            message = await read_json(request, expect=object)
        except (TooLarge, UnsupportedType) as exc:
            return answer(None, error=RpcError(INVALID_REQUEST, exc.message))
        except CozyGenError as exc:
            return answer(None, error=RpcError(PARSE_ERROR, exc.message))
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            error = RpcError(INVALID_REQUEST, "Invalid Request: Not a valid JSON-RPC 2.0 request (one object a POST)")
            return answer(message.get("id") if isinstance(message, dict) else None, error=error)
        request_id = message.get("id", str(uuid.uuid4()))  # as CyberImage: a missing id gets one
        method, params = message.get("method"), message.get("params") or {}
        handlers = {"generate": self.generate, "status": self.status, "models": self.models}
        name = method[len(PREFIX) :] if isinstance(method, str) and method.startswith(PREFIX) else None
        if name not in handlers:
            methods = ", ".join(PREFIX + n for n in handlers)
            error = RpcError(METHOD_NOT_FOUND, f"Method not found: {method} (this endpoint has {methods}; "
                             "a Model Context Protocol client belongs at /cozygen/api/mcp)")  # fmt: skip
            return answer(request_id, error=error)
        if not isinstance(params, dict):
            return answer(request_id, error=RpcError(INVALID_PARAMS, "params must be an object"))
        try:
            return answer(request_id, result=await handlers[name](request, params))
        except CozyGenError as exc:
            return answer(request_id, error=rpc_error(exc))

    async def models(self, _request: web.Request, _params: dict[str, Any]) -> dict[str, Any]:
        found = await self.rest.catalogue()
        listed = {name: {"id": m["id"], "description": m["description"]} for name, m in found["models"].items()}
        return {"models": listed, "default": found["default"]}

    async def generate(self, request: web.Request, params: dict[str, Any]) -> dict[str, Any]:
        found = await self.rest.catalogue()
        prompt, negative = params.get("prompt"), params.get("negative_prompt") or None
        model = params.get("model") or found["default"]
        settings = params.get("settings") or {}
        errors: dict[str, str] = {}
        if not isinstance(prompt, str) or not prompt.strip():
            errors["prompt"] = "Missing required parameter: prompt (a description of the image)"
        if model not in found["models"]:
            errors["model"] = f"Invalid model. Available models: {', '.join(found['models'])}"
        if negative is not None and not isinstance(negative, str):
            errors["negative_prompt"] = "text, or leave it out"
        if not isinstance(settings, dict):
            errors["settings"] = "an object: num_images, num_inference_steps, guidance_scale, height, width"
        if errors:
            raise FieldErrors(errors)
        count = num_images_of(settings)
        workflow, values = job_values(model, str(prompt), negative, settings)
        arguments = {"workflow": workflow, "values": values, "num_images": count, "wait": False}
        from ...core.mcp.tools import ArgumentErrors  # the MCP tools load on first use
        from ..mcp.tools import McpTools

        try:
            made = await McpTools(self.state, request).call("generate", arguments)
        except (FieldErrors, ArgumentErrors) as exc:
            raise renamed(FieldErrors(exc.errors), FIELD_NAMES) from None
        return {"job_id": made.data["job_id"], "status": "pending", "num_images": count}

    async def status(self, request: web.Request, params: dict[str, Any]) -> dict[str, Any]:
        job_id = params.get("job_id")
        if not isinstance(job_id, str) or not job_id:
            raise FieldErrors({"job_id": "Missing required parameter: job_id"})
        job = await self.state.job_service.visible(caller(request, self.state), job_id)
        seed_status = STATUSES.get(job.status, "failed")
        reply: dict[str, Any] = {
            "job_id": job.id,
            "status": seed_status,
            "model": job.model,
            "prompt": job.params.get("prompt"),
            "created_at": iso(job.created_at) or "",
            "started_at": iso(job.started_at) or "",
            "completed_at": iso(job.finished_at) or "",
            "progress": progress_of(job, seed_status),
        }
        if seed_status == "completed":
            rows = await self.state.gallery.rows_of(job.images)
            origin = f"{request.scheme}://{request.host}"
            reply["images"] = [
                {
                    "id": str(row["id"]),
                    "url": f"{origin}{BASE}/get_image/{row['id']}",
                    "metadata": image_metadata(job, n, len(rows)),
                }
                for n, row in enumerate(rows, start=1)
            ]
        if seed_status == "failed":
            reply["message"] = job.error or f"the job was {job.status}"
        return reply


def add_routes(routes: Routes, state: CozyGenState) -> None:
    routes.post(f"{BASE}/mcp", access=VIEWER)(CyberImageMcp(state).endpoint)
