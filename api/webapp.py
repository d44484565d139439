"""The web app at /cozygen: the shell, its hashed assets, the PWA files, client-side routes.

``web/dist`` is Vite's build of ``web/app``: ``index.html`` (the shell, never cached
long: it names the current assets), ``assets/<name>-<hash>.<ext>`` (cached for a
year: a new build makes new names) and a few fixed files at the root (service
worker, manifest, icons). Every other GET under /cozygen/ that no other route
answers is handled by the fallback, registered after every other route
(``add_fallback``; aiohttp tries longer path prefixes first, so it never shadows a
real route):

- ``/cozygen/gallery`` asked for as data (an Accept without text/html, as
  ``fetch`` sends) is the original CozyGen front end's gallery listing (seed
  004's gallery answer); a browser opening it gets the shell;
- a page of the app (``/cozygen/queue``, ``/cozygen/generate/<name>``, ...; see
  ``web/app/src/router.ts``) gets the shell, unless the client names JSON and
  not HTML in its Accept: then it is a 404 in the usual JSON shape;
- any other path gets the shell only when a browser opens it as a page; under a
  prefix of CozyGen's routes (``api/``, ``compat/``, ``assets/``,
  ``workflows/``, ``input/``...) never: those are 404 JSON.

The build puts a brotli (``.br``) and a gzip (``.gz``) copy beside each hashed script and
stylesheet (``web/app/vite.config.ts``). An asset is sent as the best copy the client's
Accept-Encoding allows (``q=0`` refuses), with ``Content-Encoding`` and, always,
``Vary: Accept-Encoding``; a client that accepts neither gets the file as it is.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from aiohttp import web

from ..core.accounts.access import PUBLIC, VIEWER
from ..core.errors import NotFound
from .auth.authorization import authorize
from .auth.credentials import USER_KEY, VIA_KEY, identify
from .auth.sign_in import challenge
from .gallery import GalleryRoutes
from .routing import Routes
from .state import CozyGenState

DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Paths under /cozygen/ whose unknown children are 404s, never the shell (with the first parts of CozyGen's
# other routes, added by add_fallback).
RESERVED = ("api", "compat", "assets")
# The app's client-side routes (web/app/src/router.ts), by their first part.
PAGES = ("generate", "gallery", "queue", "history", "settings")
IMMUTABLE = "public, max-age=31536000, immutable"
PRECOMPRESSED = (("br", ".br"), ("gzip", ".gz"))  # the server's preference, among what the client accepts
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


def file_headers(path: Path, cache: str) -> dict[str, str]:
    headers = {"Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
    content_type = CONTENT_TYPES.get(path.suffix.lower())
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def file_response(
    path: Path, cache: str, extra: dict[str, str] | None = None, *, like: Path | None = None
) -> web.FileResponse:
    """``path`` with the headers of ``like`` (the uncompressed file, for a precompressed copy)."""
    return web.FileResponse(path, headers={**file_headers(like or path, cache), **(extra or {})})


def shell() -> web.StreamResponse:
    index = DIST / "index.html"
    if not index.is_file():
        raise NotFound("the web app is not built: run `npm ci && npm run build` in web/app", code="APP_NOT_BUILT")
    return web.FileResponse(index, headers={"Cache-Control": "no-cache", "Content-Type": "text/html; charset=utf-8"})


async def app_shell(_request: web.Request) -> web.StreamResponse:
    return shell()


def accepted_encodings(header: str) -> dict[str, float]:
    """Accept-Encoding's codings and their q values (lower case; a bad q counts as 0)."""
    out: dict[str, float] = {}
    for item in header.lower().split(","):
        coding, _, params = item.partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if coding.strip():
            out[coding.strip()] = q
    return out


def best_encoding(header: str) -> list[tuple[str, str]]:
    """The precompressed codings the client accepts, best first (highest q, then the server's order)."""
    accepted = accepted_encodings(header)
    wildcard = accepted.get("*", 0.0)
    ranked = [(accepted.get(coding, wildcard), -k, coding, suffix) for k, (coding, suffix) in enumerate(PRECOMPRESSED)]
    return [(coding, suffix) for q, _, coding, suffix in sorted(ranked, reverse=True) if q > 0]


async def asset(request: web.Request) -> web.StreamResponse:
    path = dist_file(DIST / "assets", request.match_info["name"])
    if path is None or path.suffix in (".br", ".gz"):
        raise NotFound("no such asset; the app may have been updated: reload the page")
    headers = {"Vary": "Accept-Encoding"}
    for coding, suffix in best_encoding(request.headers.get("Accept-Encoding", "")):
        packed = path.with_name(path.name + suffix)
        if packed.is_file():
            return file_response(packed, IMMUTABLE, {**headers, "Content-Encoding": coding}, like=path)
    if any(coding in request.headers.get("Accept-Encoding", "").lower() for coding, _ in PRECOMPRESSED):
        # refused with q=0: aiohttp's FileResponse would still pick a sibling by the word alone
        body = await asyncio.to_thread(path.read_bytes)
        return web.Response(body=body, headers={**file_headers(path, IMMUTABLE), **headers})
    return file_response(path, IMMUTABLE, headers)


def navigating(request: web.Request) -> bool:
    """A browser opening a page: its Accept names text/html, or it says it navigates."""
    return request.headers.get("Sec-Fetch-Mode") == "navigate" or "text/html" in request.headers.get("Accept", "")


def asks_for_page(request: web.Request) -> bool:
    """A browser opening a page, or a plain HTTP client with no Accept at all; ``*/*`` (what ``fetch`` sends)
    or application/json does not."""
    return navigating(request) or "Accept" not in request.headers


def asks_for_json(request: web.Request) -> bool:
    """A client that names JSON, and not HTML, in its Accept."""
    accept = request.headers.get("Accept", "")
    return "json" in accept and "text/html" not in accept


def no_route(request: web.Request) -> NotFound:
    return NotFound(f"no route {request.method} {request.path}; see /cozygen/api/openapi.json")


class Fallback:
    """The fallback of GET /cozygen/{path}: root files, pages, the original front end's gallery, 404s."""

    def __init__(self, state: CozyGenState, reserved: tuple[str, ...]) -> None:
        self.state, self.reserved = state, reserved
        self.gallery = GalleryRoutes(state)

    async def app_path(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        head = path.split("/", 1)[0]
        if head in self.reserved and head not in PAGES:
            raise no_route(request)
        if "/" not in path and "." in path:  # a file of the app's root: sw.js, the manifest, icons
            found = dist_file(DIST, path)
            if found is None:
                raise NotFound(f"no file {path!r} in the web app")
            return shell() if found.name == "index.html" else file_response(found, "no-cache")
        if path.rstrip("/") == "gallery" and not asks_for_page(request):
            return await self.legacy_gallery(request)  # the original CozyGen front end's (older than /api/gallery)
        if (head in PAGES and not asks_for_json(request)) or navigating(request):
            return shell()
        raise no_route(request)

    async def legacy_gallery(self, request: web.Request) -> web.StreamResponse:
        """``GET /cozygen/gallery?subfolder=&page=&per_page=``: the gallery listing, for viewers (this
        fallback is public, so it checks the caller as the guard does for a viewer's route)."""
        if self.state.auth_enabled:
            credential = await identify(request, self.state)
            if credential is None:
                return challenge(request)
            authorize(request, credential.user, credential.via, VIEWER, None)
            request[USER_KEY], request[VIA_KEY] = credential.user, credential.via
        return await self.gallery.list_page(request)


def add_routes(routes: Routes, _state: CozyGenState) -> None:
    routes.get("/cozygen/", access=PUBLIC)(app_shell)
    routes.get("/cozygen", access=PUBLIC)(app_shell)
    routes.get("/cozygen/assets/{name}", access=PUBLIC)(asset)


def route_heads(paths: list[str]) -> tuple[str, ...]:
    """The first parts of the routes under /cozygen/ (``api``, ``workflows``, ``input``...)."""
    heads = {p.removeprefix("/cozygen/").split("/", 1)[0] for p in paths if p.startswith("/cozygen/")}
    return tuple(sorted(h for h in heads if h and "{" not in h))


def add_fallback(routes: Routes, state: CozyGenState) -> None:
    """Register last: root files of the app, the shell for client-side routes, 404 JSON for the rest."""
    reserved = tuple(sorted({*RESERVED, *route_heads([path for _, path in routes.registered])}))
    routes.get("/cozygen/{path:.*}", access=PUBLIC)(Fallback(state, reserved).app_path)
