"""Login, logout, first-run setup, users, own password, personal API tokens, audit log."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from ..core.accounts import tokens, users
from ..core.accounts.access import ADMIN, PUBLIC, VIEWER, is_loopback
from ..core.accounts.login_throttle import Attempt
from ..core.accounts.passwords import dummy_hash, verify_password
from ..core.accounts.users import User
from ..core.errors import BadRequest, Conflict, Forbidden, RateLimited, Unauthorized
from .auth.credentials import authenticate, clear_session_cookie, current_user, remote_address, set_session_cookie
from .guard import same_origin
from .params import integer, path_id
from .responses import json_response, read_json
from .routing import Routes
from .state import CozyGenState


def _user_id(request: web.Request) -> int:
    return path_id(request, "user_id", what="user", missing_code="USER_NOT_FOUND")


REVOKE_API_TOKENS = "revoke_api_tokens"


def _revoke_api_tokens(body: dict[str, Any]) -> bool:
    """The body's ``revoke_api_tokens`` flag: signing out everywhere or a new password revokes the user's API
    tokens too unless it is false."""
    value = body.get(REVOKE_API_TOKENS, True)
    if not isinstance(value, bool):
        raise BadRequest(f'"{REVOKE_API_TOKENS}" must be true or false', code="INVALID_BODY")
    return value


async def _optional_json(request: web.Request) -> dict[str, Any]:
    """A JSON object body, or {} when there is none."""
    if request.can_read_body and (await request.read()).strip():
        return await read_json(request)
    return {}


def add_routes(routes: Routes, state: CozyGenState) -> None:
    db = lambda: state.db  # noqa: E731 - the database opens at server start, after registration

    async def audit(
        request: web.Request,
        action: str,
        *,
        actor: str | None,
        target: str | None = None,
        ok: bool = True,
        detail: str | None = None,
    ) -> None:
        remote = remote_address(request)
        await db().execute_write_fn(
            lambda conn: users.audit(conn, action, actor=actor, target=target, remote=remote, ok=ok, detail=detail)
        )

    async def default_credentials() -> bool:
        return await db().execute_fn(users.any_must_change)

    async def password_attempt(request: web.Request, username: str, action: str) -> Attempt:
        """A password check behind the login throttle, reserved before the (slow, threaded) check: it counts as
        failed until it succeeds, so parallel guesses cannot all pass before the first failure is counted."""
        attempt, wait = state.login_limits.reserve(username, remote_address(request))
        if attempt is None:
            await audit(request, action, actor=username, ok=False, detail="throttled")
            raise RateLimited(f"too many wrong passwords; try again in {wait} s", retry_after=wait)
        return attempt

    async def session_reply(request: web.Request, user: User) -> web.Response:
        token, ttl = tokens.issue(state.secret, user_id=user.id, username=user.username, version=user.token_version)
        body = {
            "token": token,
            "user": user.username,
            "expires_in": ttl,
            "default_credentials": user.must_change_password,
            "role": user.role,
        }
        response = json_response(body)
        set_session_cookie(request, response, token, ttl)
        return response

    @routes.post("/cozygen/api/login", access=PUBLIC)
    async def login(request: web.Request) -> web.Response:
        if not state.auth_enabled:
            raise BadRequest("authentication is off on this server; no login is needed", code="AUTH_DISABLED")
        body = await read_json(request)
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str) or not username.strip():
            raise BadRequest('send {"username": ..., "password": ...}', code="INVALID_BODY")
        username = username.strip()
        attempt = await password_attempt(request, username, "login")
        user = await db().execute_fn(lambda conn: users.get_user(conn, username=username))
        valid = await asyncio.to_thread(verify_password, password, user.password_hash if user else dummy_hash())
        if user is None or not valid:
            await audit(request, "login", actor=username, ok=False, detail="invalid credentials")
            raise Unauthorized("wrong username or password", code="INVALID_CREDENTIALS")
        attempt.succeeded()
        await audit(request, "login", actor=user.username)
        return await session_reply(request, user)

    @routes.get("/cozygen/api/auth_status", access=PUBLIC)
    async def auth_status(request: web.Request) -> web.Response:
        if not state.auth_enabled:
            return json_response({"authenticated": False, "user": None, "auth_enabled": False})
        credential = await authenticate(request, state)
        user = credential.user if credential is not None else None
        needs_setup = await db().execute_fn(users.count_users) == 0
        base = {
            "auth_enabled": True,
            "default_credentials": await default_credentials(),
            "setup_required": needs_setup,
            "setup_available": needs_setup and is_loopback(remote_address(request)),
        }
        if user is None:
            return json_response({"authenticated": False, "user": None, **base}, status=401)
        return json_response({"authenticated": True, "user": user.username, "role": user.role, **base})

    @routes.post("/cozygen/api/logout", access=PUBLIC)
    async def logout(request: web.Request) -> web.Response:
        """Sign out everywhere: every session and query token of the caller, open streams and sockets, and
        their API tokens unless the body says ``{"revoke_api_tokens": false}``."""
        revoke_api = _revoke_api_tokens(await _optional_json(request))
        credential = await authenticate(request, state) if state.auth_enabled else None
        if credential is not None:
            if credential.via == "cookie" and not same_origin(request):  # a page on another port of this host
                raise Forbidden("cross-origin request refused; send it from the CozyGen page", code="CROSS_ORIGIN")
            user = credential.user
            await db().execute_write_fn(
                lambda conn: users.bump_token_version(conn, user.id, revoke_api_tokens=revoke_api)
            )
            await state.live.revoke(user.id)
            await audit(request, "logout", actor=user.username, detail="api tokens revoked" if revoke_api else None)
        response = json_response({"status": "ok"})
        clear_session_cookie(response)
        return response

    @routes.post("/cozygen/api/setup", access=PUBLIC)
    async def setup(request: web.Request) -> web.Response:
        if not is_loopback(remote_address(request)):
            raise Forbidden("first-run setup is only offered on the machine running ComfyUI", code="SETUP_LOCAL_ONLY")
        body = await read_json(request)

        def create_first(conn: Any) -> User:
            if users.count_users(conn):
                raise Conflict("setup is done: a user already exists; sign in instead", code="SETUP_DONE")
            return users.create_user(conn, body.get("username"), body.get("password"), "admin")

        user = await db().execute_write_fn(create_first)
        await audit(request, "setup", actor=user.username, target=user.username)
        return await session_reply(request, user)

    @routes.post("/cozygen/api/query_token", access=VIEWER)
    async def query_token(request: web.Request) -> web.Response:
        user = current_user(request)
        if user is None:
            raise BadRequest("authentication is off; no token is needed", code="AUTH_DISABLED")
        token, ttl = tokens.issue(
            state.secret, user_id=user.id, username=user.username, version=user.token_version, kind="query"
        )
        return json_response({"token": token, "expires_in": ttl})

    # -- own account -------------------------------------------------------------------
    def me(request: web.Request) -> User:
        user = current_user(request)
        if user is None:
            raise BadRequest("authentication is off; there is no account to manage", code="AUTH_DISABLED")
        return user

    @routes.post("/cozygen/api/me/password", access=VIEWER)
    async def change_own_password(request: web.Request) -> web.Response:
        user, body = me(request), await read_json(request)
        current, revoke_api = body.get("current_password"), _revoke_api_tokens(body)
        if not isinstance(current, str):
            raise Forbidden("send your current password as current_password", code="WRONG_PASSWORD")
        attempt = await password_attempt(request, user.username, "password.change")
        if not await asyncio.to_thread(verify_password, current, user.password_hash):
            await audit(request, "password.change", actor=user.username, ok=False, detail="wrong current password")
            raise Forbidden("the current password is wrong", code="WRONG_PASSWORD")
        attempt.succeeded()
        updated = await db().execute_write_fn(
            lambda conn: users.set_password(conn, user.id, body.get("new_password"), revoke_api_tokens=revoke_api)
        )
        await state.live.revoke(user.id, spare=request)
        detail = "api tokens revoked" if revoke_api else None
        await audit(request, "password.change", actor=user.username, target=user.username, detail=detail)
        return await session_reply(request, updated)

    @routes.get("/cozygen/api/tokens", access=VIEWER)
    async def list_tokens(request: web.Request) -> web.Response:
        user = me(request)
        return json_response({"tokens": await db().execute_fn(lambda conn: users.list_api_tokens(conn, user.id))})

    @routes.post("/cozygen/api/tokens", access=VIEWER)
    async def create_token(request: web.Request) -> web.Response:
        user, body = me(request), await read_json(request)
        record, secret = await db().execute_write_fn(
            lambda conn: users.create_api_token(conn, user.id, body.get("name"))
        )
        await audit(request, "token.create", actor=user.username, target=record["id"])
        return json_response({**record, "token": secret}, status=201)

    @routes.delete("/cozygen/api/tokens/{token_id}", access=VIEWER)
    async def revoke_token(request: web.Request) -> web.Response:
        user, token_id = me(request), request.match_info["token_id"]
        await db().execute_write_fn(lambda conn: users.revoke_api_token(conn, user.id, token_id))
        await state.live.revoke(user.id, spare=request)
        await audit(request, "token.revoke", actor=user.username, target=token_id)
        return json_response({"status": "ok"})

    # -- administration ----------------------------------------------------------------------
    @routes.get("/cozygen/api/users", access=ADMIN)
    async def list_users(_request: web.Request) -> web.Response:
        return json_response({"users": [u.public() for u in await db().execute_fn(users.list_users)]})

    @routes.post("/cozygen/api/users", access=ADMIN)
    async def create_user(request: web.Request) -> web.Response:
        body = await read_json(request)
        user = await db().execute_write_fn(
            lambda conn: users.create_user(
                conn,
                body.get("username"),
                body.get("password"),
                body.get("role", "user"),
                must_change=bool(body.get("must_change_password", False)),
            )
        )
        await audit(request, "user.create", actor=me(request).username, target=user.username, detail=user.role)
        return json_response(user.public(), status=201)

    @routes.patch("/cozygen/api/users/{user_id}", access=ADMIN)
    async def update_user(request: web.Request) -> web.Response:
        user_id, body = _user_id(request), await read_json(request)
        if not {"role", "password"} & body.keys():
            raise BadRequest('send a new "role" and/or "password"', code="NOTHING_TO_CHANGE")
        revoke_api = _revoke_api_tokens(body)  # a new role revokes them whatever this says

        def change(conn: Any) -> User:
            user = None  # at least one of role/password is present (checked above)
            if "role" in body:
                user = users.set_role(conn, user_id, body["role"])
            if "password" in body:
                must_change = bool(body.get("must_change_password", True))
                user = users.set_password(
                    conn, user_id, body["password"], must_change=must_change, revoke_api_tokens=revoke_api
                )
            return user

        user = await db().execute_write_fn(change)
        await state.live.revoke(user_id, spare=request)
        await audit(
            request,
            "user.update",
            actor=me(request).username,
            target=user.username,
            detail=",".join(sorted(k for k in ("role", "password") if k in body)),
        )
        return json_response(user.public())

    @routes.delete("/cozygen/api/users/{user_id}", access=ADMIN)
    async def delete_user(request: web.Request) -> web.Response:
        user_id = _user_id(request)
        user = await db().execute_write_fn(lambda conn: users.delete_user(conn, user_id))
        await state.live.revoke(user_id)
        await audit(request, "user.delete", actor=me(request).username, target=user.username)
        return json_response({"status": "ok", "deleted": user.username})

    @routes.get("/cozygen/api/audit", access=ADMIN)
    async def audit_log(request: web.Request) -> web.Response:
        limit = integer(request, "limit", 100, floor=1, ceiling=500, code="INVALID_PAGING")
        before = integer(request, "before", None, code="INVALID_PAGING")
        entries = await db().execute_fn(lambda conn: users.audit_entries(conn, limit=limit, before_id=before))
        return json_response({"entries": entries, "next_before": entries[-1]["id"] if len(entries) == limit else None})

    @routes.get("/cozygen/api/routes", access=ADMIN)
    async def list_routes(request: web.Request) -> web.Response:
        """Every route the server has (for admins and the access tests)."""
        found = set()
        for resource in request.app.router.resources():
            for route in resource:
                if route.method != "HEAD":
                    found.add((route.method, resource.canonical, isinstance(resource, web.StaticResource)))
        listed = [{"method": m, "path": p, "static": s} for m, p, s in sorted(found)]
        return json_response({"routes": listed})
