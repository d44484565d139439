"""DreamLayer (seed 000) at /cozygen/compat/dreamlayer/api/: model lists, random prompts, images, copies to the
input folder and ControlNet uploads, in the shapes DreamLayer's own front end reads (``modelService.ts`` and the
image previews), errors as its backend answers them (``{"status": "error", "message"}``, CozyGen's code kept).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from ...core.accounts.access import ADMIN, USER, VIEWER
from ...core.comfyui import partner
from ...core.errors import BadRequest, Conflict, CozyGenError, NotFound
from ...core.media.kinds import kind_of
from ...core.paths import resolve, split_relative
from .. import prompts
from ..files import receive_upload
from ..responses import Handler, json_response, read_json
from ..routing import Routes
from ..state import CozyGenState
from ..visibility import record_input, require_visible, require_visible_path
from .common import in_shape

BASE = "/cozygen/compat/dreamlayer/api"
# Where DreamLayer's image route looks, in order: its generated images, then its uploads (the ControlNet image
# its front end previews at images/<the uploaded name>).
IMAGE_ROOTS = ("output", "input")
PROMPT_TYPES = ("positive", "negative")


def dreamlayer_error(error: CozyGenError) -> dict[str, Any]:
    """DreamLayer's error shape (``{"status": "error", "message"}``), with CozyGen's ``error`` and ``code`` kept."""
    return {"status": "error", "message": error.message, **error.to_dict()}


in_dreamlayer_shape = in_shape(dreamlayer_error)


def image_path_of(body: dict[str, Any]) -> object:
    """The image a send-to request names: ``filename`` (what DreamLayer's front end sends) or ``imagePath`` (the
    seed document's name)."""
    given = body.get("filename")
    return given if given is not None else body.get("imagePath")


def output_relative(image_path: object) -> str:
    """The output-relative path in DreamLayer's image: a path, ``/api/images/<path>`` or a /view URL."""
    if not isinstance(image_path, str) or not image_path.strip():
        raise BadRequest('send {"filename": "<image file name or URL>"} (or "imagePath")', code="MISSING_IMAGE_PATH")
    parts = urlsplit(image_path.strip())
    if parts.path.endswith("/view"):
        query = parse_qs(parts.query)
        sub, name = query.get("subfolder", [""])[0], query.get("filename", [""])[0]
        return f"{sub}/{name}" if sub else name
    path = parts.path
    marker = "/api/images/"
    return path.split(marker, 1)[1] if marker in path else path


MODEL_ROUTES = {
    "models": "checkpoints",
    "lora-models": "loras",
    "upscaler-models": "upscale_models",
    "controlnet/models": "controlnet",
}


def prompt_type(value: str | None) -> str | None:
    """fetch-prompt's ``type``: positive, negative, or None when absent (both prompts); a 400 for anything else."""
    if not value:
        return None
    if value not in PROMPT_TYPES:
        raise BadRequest(f"type must be positive or negative, not {value!r}", code="INVALID_PROMPT_TYPE")
    return value


def model_entry(filename: str) -> dict[str, str]:
    """DreamLayer's model object: id and filename are the file (with subfolders), name is for display."""
    display = filename.replace("\\", "/").rpartition("/")[2].rsplit(".", 1)[0]
    return {"id": filename, "name": display, "filename": filename}


class DreamLayerRoutes:
    """DreamLayer's handlers: model lists, images from the output folder, copies to the input folder."""

    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    def model_list(self, folder: str) -> Handler:
        """The handler listing one model folder (DreamLayer has a route per folder)."""

        async def list_models(_request: web.Request) -> web.Response:
            try:
                files = await asyncio.to_thread(self.state.host.model_files, folder)
            except KeyError:
                files = []  # this ComfyUI has no such folder
            # DreamLayer's ControlNet list is of file names (its model picker shows each entry as text)
            models: list[Any] = files if folder == "controlnet" else [model_entry(f) for f in files]
            if folder == "checkpoints" and self.state.settings.get(partner.KEY_SETTING):
                # DreamLayer appends its closed-source models when their keys are set: here ComfyUI's partner
                # models, when the Comfy API key is (in its id/name/filename shape)
                listed = partner.listed_models(self.state.host.partner_nodes())
                models += [{k: m[k] for k in ("id", "name", "filename")} for m in listed]
            return json_response({"status": "success", "models": models})

        return list_models

    async def set_paths(self, request: web.Request) -> web.Response:
        await read_json(request)
        raise Conflict(
            "CozyGen uses ComfyUI's folders and does not move them: start ComfyUI with --output-directory, "
            "or list model folders in extra_model_paths.yaml, then restart it",
            code="PATHS_ARE_COMFYUIS",
            extra={"status": "error", "output": self.state.host.output_directory()},
        )

    def output_file(self, relative: str) -> tuple[Path, str, str]:
        sub, name = split_relative(relative)
        path, _, _ = resolve(self.state.roots["output"], sub, name)
        if not kind_of(name) or not path.is_file():
            raise NotFound(f"no image {relative!r} in the output folder", code="FILE_NOT_FOUND")
        return path, sub, name

    def image_files(self, relative: str) -> tuple[list[tuple[str, Path]], str, str]:
        """The files ``relative`` names in the image roots, in order; a bad path is refused before any lookup."""
        sub, name = split_relative(relative)
        paths = [(root, resolve(self.state.roots[root], sub, name)[0]) for root in IMAGE_ROOTS]
        found = [(root, path) for root, path in paths if kind_of(name) and path.is_file()]
        return found, sub, name

    async def serve_image(self, request: web.Request) -> web.StreamResponse:
        """An image by its path (``images/<name>`` or ``images/<subfolder>/<name>``): an output, else an input.
        Under per-user outputs another user's file is not there at all."""
        relative = request.match_info["filename"]
        found, sub, name = await asyncio.to_thread(self.image_files, relative)
        for root, path in found:
            try:
                await require_visible_path(request, self.state, root, sub, name)
            except NotFound:
                continue
            return web.FileResponse(path)
        raise NotFound("Image not found", code="FILE_NOT_FOUND")

    async def copy_to_input(self, request: web.Request, subfolder: str) -> web.Response:
        body = await read_json(request)
        _, sub, name = await asyncio.to_thread(self.output_file, output_relative(image_path_of(body)))
        row = await self.state.gallery.find_or_index("output", sub, name)
        if row is None:
            raise NotFound(f"no image {name!r} in the output folder", code="FILE_NOT_FOUND")
        await require_visible(request, self.state, row)
        stored = await self.state.gallery.to_input(row, subfolder)
        await record_input(self.state, request, subfolder, stored)
        relative = f"{subfolder}/{stored}" if subfolder else stored
        return json_response({"status": "success", "filename": relative, "message": f"copied to input as {relative}"})

    async def send_to_img2img(self, request: web.Request) -> web.Response:
        return await self.copy_to_input(request, "")

    async def send_to_extras(self, request: web.Request) -> web.Response:
        return await self.copy_to_input(request, "extras")

    async def fetch_prompt(self, request: web.Request) -> web.Response:
        """``?type=positive|negative``: ``{"status": "success", "prompt"}`` as DreamLayer's backend answers its
        front end; without a type, the seed document's ``{"positive", "negative"}``."""
        wanted = prompt_type(request.query.get("type"))
        drawn = await prompts.random_prompt(self.state)  # from CozyGen's wildcards (see /cozygen/api/prompts/random)
        if wanted is None:
            return json_response({"positive": drawn["positive"], "negative": drawn["negative"]})
        return json_response({"status": "success", "type": wanted, "prompt": drawn[wanted]})

    async def upload_controlnet_image(self, request: web.Request) -> web.Response:
        stored = await receive_upload(request, self.state, fields=("file", "image"))
        relative = f"{stored['subfolder']}/{stored['filename']}" if stored["subfolder"] else stored["filename"]
        return json_response(
            {"status": "success", "filename": relative, "url": f"{BASE}/images/{relative}", "size": stored["size"]}
        )


def add_routes(routes: Routes, state: CozyGenState) -> None:
    r = DreamLayerRoutes(state)
    shaped = in_dreamlayer_shape
    for path, folder in MODEL_ROUTES.items():
        routes.get(f"{BASE}/{path}", access=VIEWER)(shaped(r.model_list(folder)))
    routes.post(f"{BASE}/settings/paths", access=ADMIN)(shaped(r.set_paths))
    # a subfolder with a plain slash too (images/CozyGen/x.png), as send-to-img2img takes it
    routes.get(f"{BASE}/images/{{filename:.+}}", access=VIEWER)(shaped(r.serve_image))
    routes.post(f"{BASE}/send-to-img2img", access=USER)(shaped(r.send_to_img2img))
    routes.post(f"{BASE}/send-to-extras", access=USER)(shaped(r.send_to_extras))
    routes.get(f"{BASE}/fetch-prompt", access=VIEWER)(shaped(r.fetch_prompt))
    routes.post(f"{BASE}/upload-controlnet-image", access=USER)(shaped(r.upload_controlnet_image))
