"""Auth on: every route the running server has is guarded, under / and /api/ alike."""

from __future__ import annotations

import re
import time

import jwt
import pytest
from support import get, post, request

ADMIN, ADMIN_PASSWORD = "admin", "correct horse battery"
PUBLIC_ROUTES = {
    ("POST", "/cozygen/api/login"),
    ("GET", "/cozygen/api/auth_status"),
    ("POST", "/cozygen/api/logout"),
    ("POST", "/cozygen/api/setup"),
    ("GET", "/cozygen/hello"),
    ("GET", "/cozygen"),
    ("GET", "/cozygen/"),
}
SAFE = {"GET", "HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui(
        "ComfyUI-CozyGen-auth",
        env={"COZYGEN_AUTH": "on", "COZYGEN_ADMIN_USER": ADMIN, "COZYGEN_ADMIN_PASSWORD": ADMIN_PASSWORD},
    )


def login(server, username: str, password: str):
    return post(f"{server.url}/cozygen/api/login", {"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def tokens(server) -> dict[str, str]:
    admin = login(server, ADMIN, ADMIN_PASSWORD).json()["token"]
    created = post(
        f"{server.url}/cozygen/api/users",
        {"username": "vera", "password": "viewer-pass-1", "role": "viewer"},
        headers=bearer(admin),
    )
    assert created.status == 201, created.body
    post(
        f"{server.url}/cozygen/api/users",
        {"username": "rex", "password": "revoked-pass-1", "role": "user"},
        headers=bearer(admin),
    )
    viewer = login(server, "vera", "viewer-pass-1").json()["token"]
    revoked = login(server, "rex", "revoked-pass-1").json()["token"]
    assert post(f"{server.url}/cozygen/api/logout", headers=bearer(revoked)).status == 200
    secret = bytes.fromhex((server.user_dir / "cozygen" / "secret.key").read_text())
    claims = jwt.decode(admin, secret, algorithms=["HS256"])
    expired = jwt.encode(
        {**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}, secret, algorithm="HS256"
    )
    return {
        "admin": admin,
        "viewer": viewer,
        "revoked": revoked,
        "expired": expired,
        "malformed": "not.a.jwt",
        "forged": jwt.encode(claims, b"wrong secret" * 4, algorithm="HS256"),
    }


def all_routes(server, admin_token: str) -> list[tuple[str, str]]:
    reply = get(f"{server.url}/cozygen/api/routes", headers=bearer(admin_token))
    assert reply.status == 200
    routes = [(r["method"], r["path"]) for r in reply.json()["routes"]]
    assert ("POST", "/prompt") in routes and ("POST", "/api/prompt") in routes and ("GET", "/ws") in routes
    return routes


def guard_refused(reply) -> bool:
    """Refused by CozyGen's guard (not by the route itself, which may answer 403 for its own reasons)."""
    return (
        reply.status in (401, 403)
        and reply.content_type == "application/json"
        and reply.json().get("code") in ("UNAUTHORIZED", "ROLE_REQUIRED", "CROSS_ORIGIN")
    )


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def unprefixed(path: str) -> str:
    return path[4:] if path.startswith("/api/") else path


@pytest.mark.parametrize("credential", [None, "malformed", "forged", "expired", "revoked"])
def test_no_route_opens_without_valid_credentials(server, tokens, credential) -> None:
    failures = []
    for method, path in all_routes(server, tokens["admin"]):
        if (method, unprefixed(path)) in PUBLIC_ROUTES:
            continue
        headers = bearer(tokens[credential]) if credential else {}
        reply = request(
            method, f"{server.url}{concrete(path)}", headers=headers, raw=b"" if method not in SAFE else None
        )
        if reply.status != 401:
            failures.append(f"{method} {path} -> {reply.status}")
    assert failures == []


def test_viewer_may_read_but_not_change(server, tokens) -> None:
    wrong = []
    for method, path in all_routes(server, tokens["admin"]):
        if (method, unprefixed(path)) in PUBLIC_ROUTES:
            continue
        reply = request(
            method,
            f"{server.url}{concrete(path)}",
            headers=bearer(tokens["viewer"]),
            raw=b"" if method not in SAFE else None,
        )
        admin_only = (unprefixed(path).split("/") + [""])[1] in {
            "internal",
            "manager",
            "customnode",
            "free",
            "settings",
        } or unprefixed(path).startswith(("/cozygen/api/users", "/cozygen/api/audit", "/cozygen/api/routes"))
        if method in SAFE and not admin_only:
            if guard_refused(reply):
                wrong.append(f"{method} {path} refused a viewer ({reply.status})")
        elif unprefixed(path) not in {
            "/cozygen/api/me/password",
            "/cozygen/api/tokens",
            "/cozygen/api/tokens/{token_id}",
            "/cozygen/api/query_token",
        }:
            if not guard_refused(reply):
                wrong.append(f"{method} {path} let a viewer through ({reply.status})")
    assert wrong == []


def test_admin_reaches_every_read_route(server, tokens) -> None:
    refused = []
    for method, path in all_routes(server, tokens["admin"]):
        if method in SAFE:
            reply = get(f"{server.url}{concrete(path)}", headers=bearer(tokens["admin"]))
            if guard_refused(reply):
                refused.append(f"{method} {path} -> {reply.status}")
    assert refused == []


def test_public_routes_answer_without_a_token(server) -> None:
    for path in ("/cozygen/hello", "/api/cozygen/hello", "/cozygen", "/cozygen/"):
        assert get(f"{server.url}{path}").status == 200
    status = get(f"{server.url}/cozygen/api/auth_status")
    assert status.status == 401 and status.json()["auth_enabled"] is True


def test_cross_origin_post_with_a_cookie_is_refused(server, tokens) -> None:
    cookie = {"Cookie": f"cozygen_token={tokens['admin']}"}
    evil = post(f"{server.url}/cozygen/api/tokens", {"name": "x"}, headers={**cookie, "Origin": "http://evil.example"})
    assert evil.status == 403  # ComfyUI's own loopback origin check may answer first; either way, refused
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {}):  # CozyGen's check, which ComfyUI's does not cover
        refused = post(f"{server.url}/cozygen/api/tokens", {"name": "x"}, headers={**cookie, **headers})
        assert refused.status == 403 and refused.json()["code"] == "CROSS_ORIGIN"
    host = server.url.split("//")[1]
    same = post(f"{server.url}/cozygen/api/tokens", {"name": "x"}, headers={**cookie, "Origin": f"http://{host}"})
    assert same.status == 201


def test_websocket_needs_a_token(server, tokens) -> None:
    import asyncio

    import aiohttp

    async def connect(query: str) -> int:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(f"{server.url}/ws{query}"):
                    return 101
            except aiohttp.WSServerHandshakeError as error:
                return error.status

    query_token = post(f"{server.url}/cozygen/api/query_token", headers=bearer(tokens["viewer"])).json()["token"]
    assert asyncio.run(connect("")) == 401
    assert asyncio.run(connect("?token=garbage")) == 401
    assert asyncio.run(connect(f"?token={query_token}")) == 101


def test_logins_are_throttled_and_audited(server, tokens) -> None:
    statuses = [login(server, "vera", "wrong-password").status for _ in range(5)]
    assert statuses[:3] == [401, 401, 401] and 429 in statuses
    limited = login(server, "vera", "viewer-pass-1")
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
    entries = get(f"{server.url}/cozygen/api/audit", headers=bearer(tokens["admin"])).json()["entries"]
    assert any(e["action"] == "login" and not e["ok"] and e["actor"] == "vera" for e in entries)
    assert "wrong-password" not in server.log() and ADMIN_PASSWORD not in server.log()


def test_secret_file_is_owner_only(server) -> None:
    assert (server.user_dir / "cozygen" / "secret.key").stat().st_mode & 0o777 == 0o600


def test_api_token_for_scripts_is_shown_once_and_revocable(server, tokens) -> None:
    created = post(f"{server.url}/cozygen/api/tokens", {"name": "script"}, headers=bearer(tokens["admin"])).json()
    secret = created["token"]
    assert get(f"{server.url}/cozygen/api/health", headers=bearer(secret)).status == 200
    listed = get(f"{server.url}/cozygen/api/tokens", headers=bearer(tokens["admin"])).json()["tokens"]
    assert all("token" not in t for t in listed) and created["id"] in {t["id"] for t in listed}
    assert (
        request("DELETE", f"{server.url}/cozygen/api/tokens/{created['id']}", headers=bearer(tokens["admin"])).status
        == 200
    )
    assert get(f"{server.url}/cozygen/api/health", headers=bearer(secret)).status == 401
