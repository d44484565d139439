"""DreamLayer (seed 000) image routes at /cozygen/compat/dreamlayer/api/."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from ...core.access import USER, VIEWER
from ...core.errors import BadRequest, NotFound
from ...core.media import kind_of
from ...core.paths import resolve, split_relative
from ..files import receive_upload
from ..responses import json_response, read_json
from ..routing import Routes
from ..state import CozyGenState

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


def add_routes(routes: Routes, state: CozyGenState) -> None:
    def output_file(relative: str):
        sub, name = split_relative(relative)
        path, _, _ = resolve(state.roots["output"], sub, name)
        if not kind_of(name) or not path.is_file():
            raise NotFound(f"no image {relative!r} in the output folder", code="FILE_NOT_FOUND")
        return path, sub, name

    @routes.get(f"{BASE}/images/{{filename}}", access=VIEWER)
    async def serve_image(request: web.Request) -> web.StreamResponse:
        path, _, _ = await asyncio.to_thread(output_file, request.match_info["filename"])
        return web.FileResponse(path)

    async def copy_to_input(request: web.Request, subfolder: str) -> web.Response:
        body = await read_json(request)
        path, _, name = await asyncio.to_thread(output_file, output_relative(body.get("imagePath")))
        target_dir = state.roots["input"] / subfolder if subfolder else state.roots["input"]
        stored = f"{uuid.uuid4().hex[:8]}_{name}"
        await asyncio.to_thread(target_dir.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(shutil.copy2, path, target_dir / stored)
        await state.gallery.refresh("input", subfolder, stored)
        relative = f"{subfolder}/{stored}" if subfolder else stored
        return json_response({"status": "success", "filename": relative, "message": f"copied to input as {relative}"})

    @routes.post(f"{BASE}/send-to-img2img", access=USER)
    async def send_to_img2img(request: web.Request) -> web.Response:
        return await copy_to_input(request, "")

    @routes.post(f"{BASE}/send-to-extras", access=USER)
    async def send_to_extras(request: web.Request) -> web.Response:
        return await copy_to_input(request, "extras")

    @routes.post(f"{BASE}/upload-controlnet-image", access=USER)
    async def upload_controlnet_image(request: web.Request) -> web.Response:
        stored = await receive_upload(request, state, fields=("file", "image"))
        return json_response({"status": "success", "filename": stored["filename"]})
