"""DreamLayer (seed 000) image routes at /cozygen/compat/dreamlayer/api/."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from ...core.accounts.access import ADMIN, USER, VIEWER
from ...core.errors import BadRequest, Conflict, NotFound
from ...core.media.kinds import kind_of
from ...core.paths import resolve, split_relative
from .. import prompts
from ..files import receive_upload
from ..responses import Handler, json_response, read_json
from ..routing import Routes
from ..state import CozyGenState
from ..visibility import record_input, require_visible, require_visible_path

BASE = "/cozygen/compat/dreamlayer/api"


def output_relative(image_path: object) -> str:
    """The output-relative path in DreamLayer's ``imagePath``: a path, ``/api/images/<path>`` or a /view URL."""
    if not isinstance(image_path, str) or not image_path.strip():
        raise BadRequest('send {"imagePath": "<image file name or URL>"}', code="MISSING_IMAGE_PATH")
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
            return json_response({"status": "success", "models": [model_entry(f) for f in files]})

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

    async def serve_image(self, request: web.Request) -> web.StreamResponse:
        path, sub, name = await asyncio.to_thread(self.output_file, request.match_info["filename"])
        await require_visible_path(request, self.state, "output", sub, name)
        return web.FileResponse(path)

    async def copy_to_input(self, request: web.Request, subfolder: str) -> web.Response:
        body = await read_json(request)
        _, sub, name = await asyncio.to_thread(self.output_file, output_relative(body.get("imagePath")))
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

    async def fetch_prompt(self, _request: web.Request) -> web.Response:
        drawn = await prompts.random_prompt(self.state)  # from CozyGen's wildcards (see /cozygen/api/prompts/random)
        return json_response({"positive": drawn["positive"], "negative": drawn["negative"]})

    async def upload_controlnet_image(self, request: web.Request) -> web.Response:
        stored = await receive_upload(request, self.state, fields=("file", "image"))
        return json_response({"status": "success", "filename": stored["filename"]})


def add_routes(routes: Routes, state: CozyGenState) -> None:
    r = DreamLayerRoutes(state)
    for path, folder in MODEL_ROUTES.items():
        routes.get(f"{BASE}/{path}", access=VIEWER)(r.model_list(folder))
    routes.post(f"{BASE}/settings/paths", access=ADMIN)(r.set_paths)
    routes.get(f"{BASE}/images/{{filename}}", access=VIEWER)(r.serve_image)
    routes.post(f"{BASE}/send-to-img2img", access=USER)(r.send_to_img2img)
    routes.post(f"{BASE}/send-to-extras", access=USER)(r.send_to_extras)
    routes.get(f"{BASE}/fetch-prompt", access=VIEWER)(r.fetch_prompt)
    routes.post(f"{BASE}/upload-controlnet-image", access=USER)(r.upload_controlnet_image)
