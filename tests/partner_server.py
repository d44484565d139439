"""A real HTTP server on a loopback socket that speaks, for ComfyUI's partner node ``FluxProUltraImageNode``
(``comfy_api_nodes/nodes_bfl.py`` in ComfyUI 0.3.75), what api.comfy.org speaks. Start ComfyUI with
``--comfy-api-base <server.url>`` and the node talks to it::

    with PartnerServer(key="comfyui-...") as cloud:
        ...                                   # a job with the partner workflow
        cloud.requests                        # every request seen: method, path, query, headers (lowercased), body

What the node does, and what this server answers:

1. ``POST /proxy/bfl/flux-pro-1.1-ultra/generate`` with ``X-API-KEY: <key>`` (ComfyUI's ``get_auth_header``: the
   prompt's ``extra_data["api_key_comfy_org"]``) and a JSON body (prompt, seed, aspect_ratio, raw...): 401 unless the
   key is the one given, else ``{"id", "polling_url"}``. ``hold=True`` keeps the answer back until :meth:`release`
   (the prompt stays running on ComfyUI meanwhile).
2. ``GET <polling_url>``: a relative ``/proxy/bfl/get_result?id=<id>``, so the node sends the key again; answers
   ``{"id", "status": "Ready", "result": {"sample": <absolute URL>}, "progress": 1.0}`` at once (the node sleeps
   five seconds between polls only while a task is not ready).
3. ``GET <sample>``: ``/delivery/<id>.png``, an absolute URL as BFL's delivery links are, fetched without the key.
   The PNG is :data:`IMAGE` (a fixed picture, 96 x 128: the workflow's 3:4).
"""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any, Self

from aiohttp import web
from loopback import Seen, Served, bound

GENERATE = "/proxy/bfl/flux-pro-1.1-ultra/generate"
POLL = "/proxy/bfl/get_result"
WIDTH, HEIGHT = 96, 128


def picture() -> tuple[bytes, list[tuple[int, int, int]]]:
    """The PNG the server delivers and its RGB pixels (a gradient with a diagonal band: any change shows)."""
    from PIL import Image

    image = Image.new("RGB", (WIDTH, HEIGHT))
    pixels = [
        ((x * 255) // (WIDTH - 1), (y * 255) // (HEIGHT - 1), 230 if abs(x - y) < 6 else 40)
        for y in range(HEIGHT)
        for x in range(WIDTH)
    ]
    image.putdata(pixels)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue(), pixels


IMAGE, PIXELS = picture()


class PartnerServer:
    """The server (a context manager) on ``url``; ``key`` is the Comfy API key it accepts."""

    def __init__(self, *, key: str, hold: bool = False) -> None:
        self.key = key
        self.hold = hold
        self.requests: list[Seen] = []
        self.port = 0
        self._tasks: dict[str, dict[str, Any]] = {}
        self._released: asyncio.Event | None = None
        self._served = Served("partner server")

    # -- lifecycle ------------------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        sock = bound()
        self.port = sock.getsockname()[1]
        self._served.start(self._app, [sock])
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()
        self._served.stop()

    def _app(self) -> web.Application:
        self._released = asyncio.Event()
        app = web.Application()
        app.router.add_post(GENERATE, self._generate)
        app.router.add_get(POLL, self._poll)
        app.router.add_get("/delivery/{name}", self._deliver)
        return app

    # -- what a test uses ---------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:<port>`` (ComfyUI's ``--comfy-api-base``)."""
        return f"http://127.0.0.1:{self.port}"

    def release(self) -> None:
        """Let held generate requests answer (and answer new ones at once)."""
        self.hold = False
        if self._released is not None:
            self._served.call(self._released.set)

    def seen(self, path: str) -> list[Seen]:
        return [r for r in list(self.requests) if r.path == path]

    # -- handlers ---------------------------------------------------------------------------------------------
    async def _record(self, request: web.Request) -> Seen:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        seen = Seen(request.method, request.path, request.query_string, headers, body)
        self.requests.append(seen)
        return seen

    def _refused(self, seen: Seen) -> web.Response | None:
        if seen.headers.get("x-api-key") != self.key:
            return web.json_response({"message": "Unauthorized: a valid X-API-KEY is required"}, status=401)
        return None

    async def _generate(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        refused = self._refused(seen)
        if refused is not None:
            return refused
        if self.hold and self._released is not None:
            await self._released.wait()
        task = f"task-{len(self._tasks) + 1}"
        self._tasks[task] = seen.body if isinstance(seen.body, dict) else {}
        return web.json_response({"id": task, "polling_url": f"{POLL}?id={task}", "cost": 6.0})

    async def _poll(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        refused = self._refused(seen)
        if refused is not None:
            return refused
        task = request.query.get("id", "")
        if task not in self._tasks:
            return web.json_response({"id": task, "status": "Task not found"})
        sample = f"{self.url}/delivery/{task}.png"
        return web.json_response({"id": task, "status": "Ready", "result": {"sample": sample}, "progress": 1.0})

    async def _deliver(self, request: web.Request) -> web.Response:
        await self._record(request)
        if request.match_info["name"].removesuffix(".png") not in self._tasks:
            raise web.HTTPNotFound()
        return web.Response(body=IMAGE, content_type="image/png")
