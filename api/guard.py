"""The one middleware that guards every route of the server while auth is on.

It runs after routing, so a CozyGen route is matched by its exact route
template (never a string prefix) and ComfyUI's ``/api`` copies map back to the
route they copy. CozyGen routes need the level they declared; anything
undeclared under /cozygen needs an admin; ComfyUI's own routes need a viewer
to read and a user to change anything (admin for /internal and the like).
Requests authenticated by cookie that change state must come from this origin.
An admin may leave ComfyUI's own routes unguarded (setting ``guard_comfyui``).
A browser that opens a guarded page (the editor, say) without a session is sent
to the CozyGen sign-in page, which brings it back afterwards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from aiohttp import web

from ..core.access import PUBLIC, SAFE_METHODS, comfyui_level, is_cozygen_path, strip_api_prefix
from ..core.errors import CozyGenError, Forbidden, HostNotReady, Unauthorized
from .responses import error_response
from .session import USER_KEY, VIA_KEY, authenticate
from .state import CozyGenState
from .visibility import claim_prompt, lists_prompts, only_own_prompts, require_visible_path

SIGN_IN_PAGE = "/cozygen/"
VIEW_PATHS = ("/view", "/api/view")  # ComfyUI's file route


def required_level(request: web.Request, declared: dict[tuple[str, str], str], guard_comfyui: bool = True) -> str:
    route = request.match_info.route
    resource = route.resource if route is not None else None
    canonical = strip_api_prefix(resource.canonical) if resource is not None else None
    path = strip_api_prefix(request.path)
    if is_cozygen_path(path):
        method = "GET" if request.method == "HEAD" else request.method
        return declared.get((method, canonical or ""), "admin")
    return comfyui_level(request.method, path) if guard_comfyui else PUBLIC


def wants_page(request: web.Request) -> bool:
    """A browser navigating to a page (not a script or a fetch for data)."""
    return (
        request.method == "GET"
        and not is_cozygen_path(strip_api_prefix(request.path))
        and request.headers.get("Sec-Fetch-Mode", "navigate") == "navigate"
        and "text/html" in request.headers.get("Accept", "")
    )


def sign_in_redirect(request: web.Request) -> web.Response:
    target = f"{SIGN_IN_PAGE}?next={quote(request.path_qs, safe='')}"
    return web.Response(status=303, headers={"Location": target, "Cache-Control": "no-store"})


def same_origin(request: web.Request) -> bool:
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    return urlsplit(origin).netloc == request.host


def make_guard(state: CozyGenState, declared: dict[tuple[str, str], str]) -> Callable:
    @web.middleware
    async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        if not state.auth_enabled:
            return await handler(request)
        level = required_level(request, declared, state.settings["guard_comfyui"])
        if level == PUBLIC:
            return await handler(request)
        try:
            if not state.ready:
                raise HostNotReady(state.startup_error or "CozyGen is starting; try again in a moment")
            user, via = await authenticate(request, state)
            if user is None:
                if wants_page(request):
                    return sign_in_redirect(request)
                raise Unauthorized("sign in first: send a valid token (cookie, Authorization: Bearer or ?token=)")
            if not user.can(level):
                raise Forbidden(f"this needs the {level} role; you are {user.role}", code="ROLE_REQUIRED")
            if via == "cookie" and request.method not in SAFE_METHODS and not same_origin(request):
                raise Forbidden("cross-origin request refused; send it from the CozyGen page", code="CROSS_ORIGIN")
        except CozyGenError as error:
            return error_response(error)
        request[USER_KEY], request[VIA_KEY] = user, via
        if request.path in VIEW_PATHS and request.query.get("type", "output") == "output":
            try:  # ComfyUI's own file route serves outputs by name: per_user visibility applies there too
                await require_visible_path(request, state, "output", request.query.get("subfolder"),
                                           request.query.get("filename"))  # fmt: skip
            except CozyGenError as error:
                return error_response(error)
        response = await handler(request)
        if request.method == "GET" and lists_prompts(request.path):
            return await only_own_prompts(request, state, response)
        if request.method == "POST" and request.path.removeprefix("/api") == "/prompt":
            claim_prompt(state, user.username, response)  # ComfyUI's own queue: the job is this user's
        return response

    return guard
