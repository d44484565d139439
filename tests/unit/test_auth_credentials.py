"""api.auth.credentials (who is calling) and core.accounts.service (sign-in, setup, password changes), on a real
SQLite database."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from cozygen.api.auth.credentials import COOKIE, authenticate, identify, takes_query_token
from cozygen.core.accounts import tokens, users
from cozygen.core.accounts.cache import CredentialCache
from cozygen.core.accounts.login_throttle import LoginLimits
from cozygen.core.accounts.service import AccountService
from cozygen.core.errors import Conflict, Forbidden, HostNotReady, RateLimited, Unauthorized
from cozygen.core.store.db import Database

SECRET = b"s" * 32


def state_of(db: Database | None) -> Any:
    return SimpleNamespace(
        secret=SECRET, db=db, ready=db is not None, startup_error=None, credentials=CredentialCache()
    )


async def _nothing(_request: web.Request) -> web.Response:
    return web.Response()


def request(method: str, path: str, headers: dict[str, str] | None = None) -> web.Request:
    app = web.Application()
    for template in ("/cozygen/api/events", "/cozygen/api/jobs", "/ws", "/api/ws"):
        app.router.add_route("*", template, _nothing)
    made = make_mocked_request(method, path, headers=headers or {}, app=app)
    made._match_info = asyncio.run(app.router.resolve(made))  # what aiohttp's server does before middlewares
    return made


def token(user: users.User, kind: str = "session") -> str:
    return tokens.issue(SECRET, user_id=user.id, username=user.username, version=user.token_version, kind=kind)[0]


def test_a_query_token_opens_only_get_streams_and_sockets() -> None:
    assert takes_query_token(request("GET", "/cozygen/api/events"))
    assert takes_query_token(request("GET", "/api/ws"))
    assert not takes_query_token(request("POST", "/cozygen/api/events"))
    assert not takes_query_token(request("GET", "/cozygen/api/jobs"))


def test_bearer_cookie_and_query_tokens_each_work_only_where_they_should(db: Database) -> None:
    ann = db.submit_write(lambda conn: users.create_user(conn, "ann", "ann-pass-1234", "user")).result()
    _, api_token = db.submit_write(lambda conn: users.create_api_token(conn, ann.id, "phone")).result()
    state = state_of(db)

    def who(method: str, path: str, headers: dict[str, str]) -> tuple[str, str] | None:
        found = asyncio.run(authenticate(request(method, path, headers), state))
        return (found.user.username, found.via) if found is not None else None

    session, query = token(ann), token(ann, "query")
    assert who("GET", "/cozygen/api/jobs", {"Authorization": f"Bearer {session}"}) == ("ann", "bearer")
    assert who("GET", "/cozygen/api/jobs", {"Authorization": f"Bearer {api_token}"}) == ("ann", "bearer")
    assert who("GET", "/cozygen/api/jobs", {"Cookie": f"{COOKIE}={session}"}) == ("ann", "cookie")
    assert who("GET", f"/cozygen/api/events?token={query}", {}) == ("ann", "query")
    assert who("GET", f"/cozygen/api/jobs?token={query}", {}) is None  # not a stream
    assert who("GET", f"/cozygen/api/events?token={session}", {}) is None  # a session token is no query token
    assert who("GET", "/cozygen/api/jobs", {"Authorization": f"Bearer {query}"}) is None  # nor the reverse
    db.submit_write(lambda conn: users.bump_token_version(conn, ann.id)).result()
    assert who("GET", "/cozygen/api/jobs", {"Cookie": f"{COOKIE}={session}"}) is None  # signed out everywhere
    assert who("GET", "/cozygen/api/jobs", {"Authorization": f"Bearer {api_token}"}) is None


def test_identify_answers_503_until_the_store_is_open() -> None:
    with pytest.raises(HostNotReady):
        asyncio.run(identify(request("GET", "/cozygen/api/jobs"), state_of(None)))


def test_sign_in_is_throttled_and_audited(db: Database) -> None:
    db.submit_write(lambda conn: users.create_user(conn, "ann", "ann-pass-1234", "user")).result()
    accounts = AccountService(db, LoginLimits())

    async def run() -> None:
        assert (await accounts.sign_in("ann", "ann-pass-1234", "10.0.0.2")).username == "ann"
        for _ in range(3):
            with pytest.raises(Unauthorized):
                await accounts.sign_in("ann", "wrong", "10.0.0.2")
        with pytest.raises(RateLimited):
            await accounts.sign_in("ann", "ann-pass-1234", "10.0.0.2")

    asyncio.run(run())
    logged = db.read(lambda conn: users.audit_entries(conn))
    assert [(e["action"], e["ok"], e["detail"]) for e in reversed(logged)] == [
        ("login", True, None),
        *[("login", False, "invalid credentials")] * 3,
        ("login", False, "throttled"),
    ]


def test_setup_once_and_password_changes(db: Database) -> None:
    accounts = AccountService(db, LoginLimits())

    async def run() -> None:
        admin = await accounts.set_up("root", "root-pass-1234", "127.0.0.1")
        assert admin.role == "admin"
        with pytest.raises(Conflict):
            await accounts.set_up("other", "other-pass-1234", "127.0.0.1")
        with pytest.raises(Forbidden):
            await accounts.change_own_password(admin, "wrong", "new-pass-1234", "127.0.0.1", revoke_api_tokens=True)
        changed = await accounts.change_own_password(
            admin, "root-pass-1234", "new-pass-1234", "127.0.0.1", revoke_api_tokens=True
        )
        assert changed.token_version == admin.token_version + 1
        bob = db.submit_write(lambda conn: users.create_user(conn, "bob", "bob-pass-1234", "user")).result()
        viewer = await accounts.update_user(bob.id, {"role": "viewer"}, revoke_api_tokens=False)
        assert viewer.role == "viewer" and viewer.token_version == bob.token_version + 1
        renewed = await accounts.update_user(bob.id, {"password": "bob-pass-5678"}, revoke_api_tokens=True)
        assert renewed.must_change_password  # an admin's new password is to be changed by its owner

    asyncio.run(run())
