"""Who is calling (authentication): a user from the session cookie, a Bearer token, or a short-lived query token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ...core.accounts import users
from ...core.accounts.access import strip_api_prefix
from ...core.accounts.users import API_TOKEN_PREFIX, User
from ...core.errors import HostNotReady
from ..state import CozyGenState

COOKIE = "cozygen_token"
USER_KEY = "cozygen_user"
VIA_KEY = "cozygen_auth_via"


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


# The routes a ``?token=`` query token opens, GET only: the event streams and ComfyUI's socket (a browser's
# EventSource and WebSocket cannot send headers). Matched on the route that served the request, exactly.
QUERY_TOKEN_ROUTES = frozenset({"/cozygen/api/events", "/cozygen/api/gallery/stream", "/ws"})


@dataclass(frozen=True)
class Credential:
    """Who is calling and what proves it, kept so an open connection can be re-checked later: the
    ``token_version`` a session or query token carried, or the hash of the API token."""

    user: User
    via: str  # "bearer", "cookie" or "query"
    version: int | None = None  # session and query tokens
    api_token: str | None = None  # the API token's hash


def takes_query_token(request: web.Request) -> bool:
    """Whether ``?token=`` may authenticate this request: a GET of a stream or socket route."""
    if request.method != "GET":
        return False
    route = request.match_info.route
    resource = route.resource if route is not None else None
    return resource is not None and strip_api_prefix(resource.canonical) in QUERY_TOKEN_ROUTES


async def _jwt(state: CozyGenState, token: str, kind: str, via: str) -> Credential | None:
    claims = state.credentials.claims(state.secret, token)
    if claims is None or claims["typ"] != kind:
        return None
    user = await state.credentials.user(state.db, claims["uid"])
    if user is None or user.token_version != claims["ver"]:
        return None  # deleted, logged out, or password/role changed since
    return Credential(user, via, version=claims["ver"])


async def _api_token(state: CozyGenState, secret: str) -> Credential | None:
    user = await state.credentials.api_token_user(state.db, secret)
    if user is None:
        return None
    hashed = users.token_hash(secret)
    if state.credentials.should_touch(hashed):  # its last use, to the minute
        state.db.submit_write(lambda conn: users.touch_api_token(conn, secret))
    return Credential(user, "bearer", api_token=hashed)


async def authenticate(request: web.Request, state: CozyGenState) -> Credential | None:
    """The caller's credential (a Bearer token, the session cookie, or a query token where one is taken),
    or None. A query token is never a session token, and a session token never works as a query token."""
    if not state.secret:
        return None
    token = bearer(request)
    if token:
        if token.startswith(API_TOKEN_PREFIX):
            return await _api_token(state, token)
        return await _jwt(state, token, "session", "bearer")
    cookie = request.cookies.get(COOKIE)
    if cookie:
        found = await _jwt(state, cookie, "session", "cookie")
        if found is not None:
            return found
    query = request.query.get("token")
    if query and takes_query_token(request):
        return await _jwt(state, query, "query", "query")
    return None


async def identify(request: web.Request, state: CozyGenState) -> Credential | None:
    """``authenticate`` for a guarded route: 503 while the store that holds the users is not open."""
    if not state.ready:
        raise HostNotReady(state.startup_error or "CozyGen is starting; try again in a moment")
    return await authenticate(request, state)


def current_user(request: web.Request) -> User | None:
    return request.get(USER_KEY)


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str, max_age: int) -> None:
    response.set_cookie(COOKIE, token, max_age=max_age, path="/", httponly=True, samesite="Lax", secure=request.secure)


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/")


def remote_address(request: web.Request) -> str:
    """The peer's address as the socket sees it (forwarding headers are never trusted)."""
    peer: Any = request.transport.get_extra_info("peername") if request.transport else None
    return str(peer[0]) if peer else (request.remote or "")
