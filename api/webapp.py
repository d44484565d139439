"""The web app at /cozygen: the shell, its hashed assets, the PWA files, client-side routes.

``web/dist`` is Vite's build of ``web/app``: ``index.html`` (the shell, never cached
long: it names the current assets), ``assets/<name>-<hash>.<ext>`` (cached for a
year: a new build makes new names) and a few fixed files at the root (service
worker, manifest, icons). Every other GET under /cozygen/ that no other route
answers is a client-side route (``/cozygen/gallery``, ``/cozygen/generate/<name>``)
and gets the shell; unknown paths under ``api/``, ``compat/`` and ``assets/`` get a
404 in the usual JSON shape instead. That fallback is registered after every other
route (``add_fallback``), and aiohttp tries longer path prefixes first, so it
never shadows a real route.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from ..core.accounts.access import PUBLIC
from ..core.errors import NotFound
from .routing import Routes
from .state import CozyGenState

DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Paths under /cozygen/ whose unknown children are 404s, never the shell.
RESERVED = ("api", "compat", "assets")
IMMUTABLE = "public, max-age=31536000, immutable"
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
    ".woff2": "font/woff2",
    ".html": "text/html",
    ".txt": "text/plain",
}


def dist_file(folder: Path, name: str) -> Path | None:
    """A file directly inside ``folder`` named ``name``, if the name is plain and the file exists."""
    if not SAFE_NAME.match(name) or ".." in name:
        return None
    path = folder / name
    try:
        if path.is_file() and path.resolve().parent == folder.resolve():
            return path
    except OSError:
        return None
    return None


def file_response(path: Path, cache: str) -> web.FileResponse:
    headers = {"Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
    content_type = CONTENT_TYPES.get(path.suffix.lower())
    if content_type:
        headers["Content-Type"] = content_type
    return web.FileResponse(path, headers=headers)


def shell() -> web.StreamResponse:
    index = DIST / "index.html"
    if not index.is_file():
        raise NotFound("the web app is not built: run `npm ci && npm run build` in web/app", code="APP_NOT_BUILT")
    return web.FileResponse(index, headers={"Cache-Control": "no-cache", "Content-Type": "text/html; charset=utf-8"})


async def app_shell(_request: web.Request) -> web.StreamResponse:
    return shell()


async def asset(request: web.Request) -> web.StreamResponse:
    path = dist_file(DIST / "assets", request.match_info["name"])
    if path is None:
        raise NotFound("no such asset; the app may have been updated: reload the page")
    return file_response(path, IMMUTABLE)


async def app_path(request: web.Request) -> web.StreamResponse:
    """A root file of the app, or the shell for a client-side route."""
    path = request.match_info["path"]
    head = path.split("/", 1)[0]
    if head in RESERVED:
        raise NotFound(f"no route {request.method} {request.path}; see /cozygen/api/openapi.json")
    if "/" not in path and "." in path:  # a file of the app's root: sw.js, the manifest, icons
        found = dist_file(DIST, path)
        if found is None:
            raise NotFound(f"no file {path!r} in the web app")
        return shell() if found.name == "index.html" else file_response(found, "no-cache")
    return shell()


def add_routes(routes: Routes, _state: CozyGenState) -> None:
    routes.get("/cozygen/", access=PUBLIC)(app_shell)
    routes.get("/cozygen", access=PUBLIC)(app_shell)
    routes.get("/cozygen/assets/{name}", access=PUBLIC)(asset)


def add_fallback(routes: Routes, _state: CozyGenState) -> None:
    """Register last: root files of the app, and the shell for client-side routes."""
    routes.get("/cozygen/{path:.*}", access=PUBLIC)(app_path)
