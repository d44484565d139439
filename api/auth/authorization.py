"""Whether the caller may (authorization): the level a route needs, whether the caller's role reaches it, and
that state changes authenticated by the cookie come from this origin.

A CozyGen route needs the level it declared, matched by its exact route template (never a string prefix;
ComfyUI's ``/api`` copies map back to the route they copy); anything undeclared under /cozygen needs an
admin. ComfyUI's own routes reach a user who is not an admin only from the allowlist (core/comfyui/routes.py),
and anything else of ComfyUI's, a route a future release adds included, is the admin's. An admin may leave
ComfyUI's own routes unguarded (setting ``guard_comfyui``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from ...core.accounts.access import ADMIN, PUBLIC, SAFE_METHODS, is_cozygen_path, strip_api_prefix
from ...core.accounts.users import User
from ...core.comfyui.routes import Rule, comfyui_rule
from ...core.errors import Forbidden

Declared = dict[tuple[str, str], str]  # (method, route template) -> level, as the routes declared them


def required_level(request: web.Request, declared: Declared, guard_comfyui: bool = True) -> tuple[str, Rule | None]:
    """The level a request needs, and for ComfyUI's own routes the allowlist's rule (core/comfyui/routes.py)."""
    route = request.match_info.route
    resource = route.resource if route is not None else None
    canonical = strip_api_prefix(resource.canonical) if resource is not None else None
    path = strip_api_prefix(request.path)
    if is_cozygen_path(path):
        method = "GET" if request.method == "HEAD" else request.method
        return declared.get((method, canonical or ""), ADMIN), None
    if not guard_comfyui:
        return PUBLIC, None
    rule = comfyui_rule(request.method, canonical, static=isinstance(resource, web.StaticResource))
    return rule.level, rule


def requirement(
    request: web.Request, declared: Declared, *, guard_comfyui: bool, per_user: bool
) -> tuple[str, Rule | None]:
    """``required_level``, where a store ComfyUI keeps for one user (``shared_only``) is the admin's while outputs
    are per user."""
    level, rule = required_level(request, declared, guard_comfyui)
    if rule is not None and rule.shared_only and per_user:
        level = ADMIN
    return level, rule


def same_origin(request: web.Request) -> bool:
    """Whether the browser says the request comes from this origin (Sec-Fetch-Site, else Origin)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    return urlsplit(origin).netloc == request.host


def require_same_origin(request: web.Request, via: str) -> None:
    """403 for a state change authenticated by the cookie from another origin (a page on another port, say)."""
    if via == "cookie" and request.method not in SAFE_METHODS and not same_origin(request):
        raise Forbidden("cross-origin request refused; send it from the CozyGen page", code="CROSS_ORIGIN")


def authorize(request: web.Request, user: User, via: str, level: str, rule: Rule | None) -> None:
    """Raise Forbidden unless this user, authenticated so (``via``), may make this request."""
    if not user.can(level):
        if rule is not None and level == ADMIN:
            raise Forbidden(
                f"{request.method} {request.path} is one of ComfyUI's routes that only admins may use "
                "(CozyGen lets other users reach only the ComfyUI routes it knows keep users apart)",
                code="COMFYUI_ROUTE_ADMIN_ONLY",
            )
        raise Forbidden(f"this needs the {level} role; you are {user.role}", code="ROLE_REQUIRED")
    require_same_origin(request, via)
