"""Who is calling: a user from the cookie, a Bearer token, or a short-lived query token."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..core import tokens, users
from ..core.users import API_TOKEN_PREFIX, User
from .state import CozyGenState

COOKIE = "cozygen_token"
USER_KEY = "cozygen_user"
VIA_KEY = "cozygen_auth_via"


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


async def _user_for_jwt(state: CozyGenState, token: str, kinds: tuple[str, ...]) -> User | None:
    claims = tokens.decode(state.secret, token)
    if claims is None or claims["typ"] not in kinds:
        return None
    user = await state.db.execute_fn(lambda conn: users.get_user(conn, user_id=claims["uid"]))
    if user is None or user.token_version != claims["ver"]:
        return None  # deleted, logged out, or password/role changed since
    return user


async def _user_for_api_token(state: CozyGenState, secret: str) -> User | None:
    user = await state.db.execute_fn(lambda conn: users.user_for_api_token(conn, secret))
    if user is not None:
        state.db.submit_write(lambda conn: users.touch_api_token(conn, secret))
    return user


async def authenticate(request: web.Request, state: CozyGenState) -> tuple[User | None, str | None]:
    """The user behind the request and how it was proven (bearer, cookie, query), or (None, None)."""
    if not state.secret:
        return None, None
    token = bearer(request)
    if token:
        if token.startswith(API_TOKEN_PREFIX):
            return await _user_for_api_token(state, token), "bearer"
        return await _user_for_jwt(state, token, ("session",)), "bearer"
    cookie = request.cookies.get(COOKIE)
    if cookie:
        user = await _user_for_jwt(state, cookie, ("session",))
        if user is not None:
            return user, "cookie"
    query = request.query.get("token")
    if query:
        return await _user_for_jwt(state, query, ("query", "session")), "query"
    return None, None


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
