"""The one middleware that guards every route of the server while auth is on.

It runs after routing, so a CozyGen route is matched by its exact route
template (never a string prefix) and ComfyUI's ``/api`` copies map back to the
route they copy. CozyGen routes need the level they declared; anything
undeclared under /cozygen needs an admin; ComfyUI's own routes reach a user who is
not an admin only from an allowlist (core/comfyui/routes.py), through the adapters of
api/comfyui_gate.py where they name prompts or files; anything else of ComfyUI's, a
route a future release adds included, is the admin's.
Requests authenticated by cookie that change state must come from this origin.
An admin may leave ComfyUI's own routes unguarded (setting ``guard_comfyui``).
A browser that opens a guarded page (the editor, say) without a session is sent
to the CozyGen sign-in page, which brings it back afterwards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from aiohttp import web

from ..core.accounts.access import ADMIN, PUBLIC, SAFE_METHODS, is_cozygen_path, strip_api_prefix
from ..core.comfyui.routes import Rule, comfyui_rule
from ..core.errors import CozyGenError, Forbidden, HostNotReady, Unauthorized
from . import comfyui_gate
from .auth.credentials import USER_KEY, VIA_KEY, authenticate
from .responses import error_response
from .state import CozyGenState
from .visibility import per_user

SIGN_IN_PAGE = "/cozygen/"
UNAUTHORIZED = (
    "sign in first: send a valid token (the session cookie or Authorization: Bearer; "
    "a ?token= query token only opens the event streams and /ws, with GET)"
)


def required_level(
    request: web.Request, declared: dict[tuple[str, str], str], guard_comfyui: bool = True
) -> tuple[str, Rule | None]:
    """The level a request needs, and for ComfyUI's own routes the allowlist's rule (core/comfyui/routes.py)."""
    route = request.match_info.route
    resource = route.resource if route is not None else None
    canonical = strip_api_prefix(resource.canonical) if resource is not None else None
    path = strip_api_prefix(request.path)
    if is_cozygen_path(path):
        method = "GET" if request.method == "HEAD" else request.method
        return declared.get((method, canonical or ""), "admin"), None
    if not guard_comfyui:
        return PUBLIC, None
    rule = comfyui_rule(request.method, canonical, static=isinstance(resource, web.StaticResource))
    return rule.level, rule


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
        level, rule = required_level(request, declared, state.settings["guard_comfyui"])
        if rule is not None and rule.shared_only and per_user(state):
            level = ADMIN  # ComfyUI keeps one store for every user: while outputs are per user, it is the admin's
        if level == PUBLIC:
            return await handler(request)
        try:
            if not state.ready:
                raise HostNotReady(state.startup_error or "CozyGen is starting; try again in a moment")
            credential = await authenticate(request, state)
            if credential is None:
                if wants_page(request):
                    return sign_in_redirect(request)
                raise Unauthorized(UNAUTHORIZED)
            user, via = credential.user, credential.via
            if not user.can(level):
                if rule is not None and level == ADMIN:
                    raise Forbidden(
                        f"{request.method} {request.path} is one of ComfyUI's routes that only admins may use "
                        "(CozyGen lets other users reach only the ComfyUI routes it knows keep users apart)",
                        code="COMFYUI_ROUTE_ADMIN_ONLY",
                    )
                raise Forbidden(f"this needs the {level} role; you are {user.role}", code="ROLE_REQUIRED")
            if via == "cookie" and request.method not in SAFE_METHODS and not same_origin(request):
                raise Forbidden("cross-origin request refused; send it from the CozyGen page", code="CROSS_ORIGIN")
        except CozyGenError as error:
            return error_response(error)
        request[USER_KEY], request[VIA_KEY] = user, via
        if rule is not None:
            try:  # ComfyUI's own route: its adapter lets through only what is this user's own
                answer = await comfyui_gate.admit(request, state, user, rule)
            except CozyGenError as error:
                return error_response(error)
            if answer is not None:
                return answer
        with (
            state.live.hold(request, credential, level),  # closed if the sign-in is revoked while it runs
            comfyui_gate.open_socket(request, state, user, rule) as request,
        ):
            response = await handler(request)
        if rule is not None:
            response = await comfyui_gate.after(request, state, user, rule, response)
        return response

    return guard
