"""Login, logout, first-run setup, users, own password, personal API tokens, audit log.

The handlers are methods of ``AccountRoutes`` (which holds the state); each parses the request, calls the
account service (core/accounts/service.py) and serializes the answer.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..core.accounts import tokens, users
from ..core.accounts.access import ADMIN, PUBLIC, VIEWER, is_loopback
from ..core.accounts.service import AccountService
from ..core.accounts.users import User
from ..core.errors import BadRequest, CozyGenError, Forbidden
from .auth.authorization import require_same_origin
from .auth.credentials import (
    COOKIE,
    Credential,
    authenticate,
    bearer,
    clear_session_cookie,
    current_user,
    remote_address,
    set_session_cookie,
)
from .params import integer, path_id
from .responses import json_response, read_json
from .routing import Routes
from .seed_errors import as_seed
from .state import CozyGenState

REVOKE_API_TOKENS = "revoke_api_tokens"


def user_id_of(request: web.Request) -> int:
    return path_id(request, "user_id", what="user", missing_code="USER_NOT_FOUND")


def revoke_api_tokens(body: dict[str, Any]) -> bool:
    """The body's ``revoke_api_tokens`` flag: signing out everywhere or a new password revokes the user's API
    tokens too unless it is false."""
    value = body.get(REVOKE_API_TOKENS, True)
    if not isinstance(value, bool):
        raise BadRequest(f'"{REVOKE_API_TOKENS}" must be true or false', code="INVALID_BODY")
    return value


async def optional_json(request: web.Request) -> dict[str, Any]:
    """A JSON object body, or {} when there is none."""
    if request.can_read_body and (await request.read()).strip():
        return await read_json(request)
    return {}


def me(request: web.Request) -> User:
    """The signed-in caller, whose own account a route manages."""
    user = current_user(request)
    if user is None:
        raise BadRequest("authentication is off; there is no account to manage", code="AUTH_DISABLED")
    return user


def session_expiry(request: web.Request, state: CozyGenState, credential: Credential) -> int | None:
    """When the caller's session token expires (epoch seconds); None for an API token, which does not."""
    if credential.api_token is not None:
        return None
    token = bearer(request) or request.cookies.get(COOKIE)
    claims = tokens.decode(state.secret, token) if token else None
    return int(claims["exp"]) if claims else None


def list_routes_of(app: web.Application) -> list[dict[str, Any]]:
    """Every route the server has, as ``{method, path, static}`` (HEAD left out)."""
    found = set()
    for resource in app.router.resources():
        for route in resource:
            if route.method != "HEAD":
                found.add((route.method, resource.canonical, isinstance(resource, web.StaticResource)))
    return [{"method": m, "path": p, "static": s} for m, p, s in sorted(found)]


class AccountRoutes:
    def __init__(self, state: CozyGenState) -> None:
        self.state = state

    @property
    def accounts(self) -> AccountService:
        return AccountService(self.state.db, self.state.login_limits)  # the database opens at server start

    def session_reply(self, request: web.Request, user: User) -> web.Response:
        """A new session for the user: the token in the body and in the cookie."""
        state = self.state
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

    # -- signing in and out -----------------------------------------------------------------
    async def login(self, request: web.Request) -> web.Response:
        """Sign in; the seed's errors keep their texts (``auth_disabled``, ``invalid_body``,
        ``invalid_credentials``) with CozyGen's code and a ``detail``."""
        if not self.state.auth_enabled:
            raise BadRequest(
                "auth_disabled", code="AUTH_DISABLED", extra={"detail": "authentication is off; no login is needed"}
            )
        try:
            body = await read_json(request)
        except CozyGenError as error:
            raise as_seed(error, BadRequest, "invalid_body") from None
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str) or not username.strip():
            raise BadRequest(
                "invalid_body", code="INVALID_BODY", extra={"detail": 'send {"username": ..., "password": ...}'}
            )
        try:
            user = await self.accounts.sign_in(username.strip(), password, remote_address(request))
        except CozyGenError as error:
            if error.status != 401:
                raise
            raise as_seed(error, type(error), "invalid_credentials") from None
        return self.session_reply(request, user)

    async def auth_status(self, request: web.Request) -> web.Response:
        if not self.state.auth_enabled:
            return json_response({"authenticated": False, "user": None, "auth_enabled": False})
        credential = await authenticate(request, self.state)
        must_change, needs_setup = await self.accounts.status()
        base = {
            "auth_enabled": True,
            "default_credentials": must_change,
            "setup_required": needs_setup,
            "setup_available": needs_setup and is_loopback(remote_address(request)),
        }
        if credential is None:
            return json_response({"authenticated": False, "user": None, **base}, status=401)
        user, expires = credential.user, session_expiry(request, self.state, credential)
        return json_response({"authenticated": True, "user": user.username, "exp": expires, "role": user.role, **base})

    async def logout(self, request: web.Request) -> web.Response:
        """Sign out everywhere: every session and query token of the caller, open streams and sockets, and
        their API tokens unless the body says ``{"revoke_api_tokens": false}``."""
        revoke_api = revoke_api_tokens(await optional_json(request))
        credential = await authenticate(request, self.state) if self.state.auth_enabled else None
        if credential is not None:
            require_same_origin(request, credential.via)  # a page on another port of this host may not
            user = credential.user
            await self.accounts.sign_out_everywhere(user, remote_address(request), revoke_api_tokens=revoke_api)
            await self.state.live.revoke(user.id)
        response = json_response({"status": "ok"})
        clear_session_cookie(response)
        return response

    async def setup(self, request: web.Request) -> web.Response:
        remote = remote_address(request)
        if not is_loopback(remote):
            raise Forbidden("first-run setup is only offered on the machine running ComfyUI", code="SETUP_LOCAL_ONLY")
        body = await read_json(request)
        user = await self.accounts.set_up(body.get("username"), body.get("password"), remote)
        return self.session_reply(request, user)

    async def query_token(self, request: web.Request) -> web.Response:
        user = current_user(request)
        if user is None:
            raise BadRequest("authentication is off; no token is needed", code="AUTH_DISABLED")
        token, ttl = tokens.issue(
            self.state.secret, user_id=user.id, username=user.username, version=user.token_version, kind="query"
        )
        return json_response({"token": token, "expires_in": ttl})

    # -- own account -------------------------------------------------------------------------
    async def change_own_password(self, request: web.Request) -> web.Response:
        user, body = me(request), await read_json(request)
        revoke_api, remote = revoke_api_tokens(body), remote_address(request)
        updated = await self.accounts.change_own_password(
            user, body.get("current_password"), body.get("new_password"), remote, revoke_api_tokens=revoke_api
        )
        await self.state.live.revoke(user.id, spare=request)
        detail = "api tokens revoked" if revoke_api else None
        await self.accounts.audit(
            "password.change", actor=user.username, target=user.username, remote=remote, detail=detail
        )
        return self.session_reply(request, updated)

    async def list_tokens(self, request: web.Request) -> web.Response:
        user = me(request)
        found = await self.state.db.execute_fn(lambda conn: users.list_api_tokens(conn, user.id))
        return json_response({"tokens": found})

    async def create_token(self, request: web.Request) -> web.Response:
        user, body = me(request), await read_json(request)
        record, secret = await self.state.db.execute_write_fn(
            lambda conn: users.create_api_token(conn, user.id, body.get("name"))
        )
        await self.accounts.audit(
            "token.create", actor=user.username, target=record["id"], remote=remote_address(request)
        )
        return json_response({**record, "token": secret}, status=201)

    async def revoke_token(self, request: web.Request) -> web.Response:
        user, token_id = me(request), request.match_info["token_id"]
        await self.state.db.execute_write_fn(lambda conn: users.revoke_api_token(conn, user.id, token_id))
        await self.state.live.revoke(user.id, spare=request)
        await self.accounts.audit("token.revoke", actor=user.username, target=token_id, remote=remote_address(request))
        return json_response({"status": "ok"})

    # -- administration ----------------------------------------------------------------------
    async def list_users(self, _request: web.Request) -> web.Response:
        return json_response({"users": [u.public() for u in await self.state.db.execute_fn(users.list_users)]})

    async def create_user(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        user = await self.state.db.execute_write_fn(
            lambda conn: users.create_user(
                conn,
                body.get("username"),
                body.get("password"),
                body.get("role", "user"),
                must_change=bool(body.get("must_change_password", False)),
            )
        )
        await self.accounts.audit(
            "user.create",
            actor=me(request).username,
            target=user.username,
            remote=remote_address(request),
            detail=user.role,
        )
        return json_response(user.public(), status=201)

    async def update_user(self, request: web.Request) -> web.Response:
        user_id, body = user_id_of(request), await read_json(request)
        if not {"role", "password"} & body.keys():
            raise BadRequest('send a new "role" and/or "password"', code="NOTHING_TO_CHANGE")
        revoke_api = revoke_api_tokens(body)  # a new role revokes them whatever this says
        user = await self.accounts.update_user(user_id, body, revoke_api_tokens=revoke_api)
        await self.state.live.revoke(user_id, spare=request)
        await self.accounts.audit(
            "user.update",
            actor=me(request).username,
            target=user.username,
            remote=remote_address(request),
            detail=",".join(sorted(k for k in ("role", "password") if k in body)),
        )
        return json_response(user.public())

    async def delete_user(self, request: web.Request) -> web.Response:
        user_id = user_id_of(request)
        user = await self.state.db.execute_write_fn(lambda conn: users.delete_user(conn, user_id))
        await self.state.live.revoke(user_id)
        await self.accounts.audit(
            "user.delete", actor=me(request).username, target=user.username, remote=remote_address(request)
        )
        return json_response({"status": "ok", "deleted": user.username})

    async def audit_log(self, request: web.Request) -> web.Response:
        limit = integer(request, "limit", 100, floor=1, ceiling=500, code="INVALID_PAGING")
        before = integer(request, "before", None, code="INVALID_PAGING")
        entries = await self.state.db.execute_fn(lambda conn: users.audit_entries(conn, limit=limit, before_id=before))
        return json_response({"entries": entries, "next_before": entries[-1]["id"] if len(entries) == limit else None})

    async def list_routes(self, request: web.Request) -> web.Response:
        """Every route the server has (for admins and the access tests)."""
        return json_response({"routes": list_routes_of(request.app)})


def add_routes(routes: Routes, state: CozyGenState) -> None:
    handlers = AccountRoutes(state)
    routes.post("/cozygen/api/login", access=PUBLIC)(handlers.login)
    routes.get("/cozygen/api/auth_status", access=PUBLIC)(handlers.auth_status)
    routes.post("/cozygen/api/logout", access=PUBLIC)(handlers.logout)
    routes.post("/cozygen/api/setup", access=PUBLIC)(handlers.setup)
    routes.post("/cozygen/api/query_token", access=VIEWER)(handlers.query_token)
    routes.post("/cozygen/api/me/password", access=VIEWER)(handlers.change_own_password)
    routes.get("/cozygen/api/tokens", access=VIEWER)(handlers.list_tokens)
    routes.post("/cozygen/api/tokens", access=VIEWER)(handlers.create_token)
    routes.delete("/cozygen/api/tokens/{token_id}", access=VIEWER)(handlers.revoke_token)
    routes.get("/cozygen/api/users", access=ADMIN)(handlers.list_users)
    routes.post("/cozygen/api/users", access=ADMIN)(handlers.create_user)
    routes.patch("/cozygen/api/users/{user_id}", access=ADMIN)(handlers.update_user)
    routes.delete("/cozygen/api/users/{user_id}", access=ADMIN)(handlers.delete_user)
    routes.get("/cozygen/api/audit", access=ADMIN)(handlers.audit_log)
    routes.get("/cozygen/api/routes", access=ADMIN)(handlers.list_routes)
