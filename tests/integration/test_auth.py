"""Auth on: every route the running server has is guarded, under / and /api/ alike."""

from __future__ import annotations

import re
import time

import jwt
import pytest
from support import get, open_status, post, request

from cozygen.core.accounts.access import VIEWER
from cozygen.core.comfyui.routes import comfyui_rule

ADMIN, ADMIN_PASSWORD = "admin", "correct horse battery"
PUBLIC_ROUTES = {
    ("POST", "/cozygen/api/login"),
    ("GET", "/cozygen/api/auth_status"),
    ("POST", "/cozygen/api/logout"),
    ("POST", "/cozygen/api/setup"),
    ("GET", "/cozygen/hello"),
    ("GET", "/cozygen"),
    ("GET", "/cozygen/"),
    ("GET", "/cozygen/assets/{name}"),  # the web app's files and client-side routes
    ("GET", "/cozygen/{path}"),
    ("GET", "/cozygen/compat/aiplayground/healthy"),  # AI Playground polls it without credentials (liveness only)
    ("GET", "/cozygen/ca.crt"),  # the LAN certificate authority a phone installs before it can sign in
    ("GET", "/cozygen/trust"),  # how to install it
}
SAFE = {"GET", "HEAD", "OPTIONS"}
STATIC: set[tuple[str, str]] = set()  # static-file routes of the running server (filled by all_routes)


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


# GET routes for admins only: accounts, the audit log, the route list, settings; model downloads (the queue shows
# sources and who asked; the trash what was deleted) and AI Playground's stop, which cancels its downloads
ADMIN_READS = (
    "/cozygen/api/users",
    "/cozygen/api/audit",
    "/cozygen/api/routes",
    "/cozygen/api/settings",
    "/cozygen/api/downloads",
    "/cozygen/api/models/trash",
    "/cozygen/api/backends",
    "/cozygen/api/llm/providers/",  # one provider (its URL), its models; the list is everyone's (the user view)
    "/cozygen/compat/aiplayground/api/stopDownloadModel",
    "/cozygen/compat/spoonfeeder/api/settings",  # the LLM providers' settings (URLs, masked keys)
)


def all_routes(server, admin_token: str) -> list[tuple[str, str]]:
    reply = get(f"{server.url}/cozygen/api/routes", headers=bearer(admin_token))
    assert reply.status == 200
    routes = [(r["method"], r["path"]) for r in reply.json()["routes"]]
    STATIC.update((r["method"], r["path"]) for r in reply.json()["routes"] if r["static"])
    assert ("POST", "/prompt") in routes and ("POST", "/api/prompt") in routes and ("GET", "/ws") in routes
    return routes


def guard_refused(reply) -> bool:
    """Refused by CozyGen's guard (not by the route itself, which may answer 403 for its own reasons)."""
    return (
        reply.status in (401, 403)
        and reply.content_type == "application/json"
        and reply.json().get("code") in ("UNAUTHORIZED", "ROLE_REQUIRED", "CROSS_ORIGIN", "COMFYUI_ROUTE_ADMIN_ONLY")
    )


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def unprefixed(path: str) -> str:
    return path[4:] if path.startswith("/api/") else path


def call(server, method: str, path: str, headers: dict[str, str]):
    """One request to a route template; event streams (which never end) are judged by their status."""
    url = f"{server.url}{concrete(path)}"
    if unprefixed(path).endswith(("/stream", "/events")):
        return open_status(method, url, headers=headers)
    return request(method, url, headers=headers, raw=b"" if method not in SAFE else None)


@pytest.mark.parametrize("credential", [None, "malformed", "forged", "expired", "revoked"])
def test_no_route_opens_without_valid_credentials(server, tokens, credential) -> None:
    failures = []
    for method, path in all_routes(server, tokens["admin"]):
        if (method, unprefixed(path)) in PUBLIC_ROUTES:
            continue
        headers = bearer(tokens[credential]) if credential else {}
        reply = call(server, method, path, headers)
        if reply.status != 401:
            failures.append(f"{method} {path} -> {reply.status}")
    assert failures == []


def test_viewer_may_read_but_not_change(server, tokens) -> None:
    wrong = []
    for method, path in all_routes(server, tokens["admin"]):
        if (method, unprefixed(path)) in PUBLIC_ROUTES:
            continue
        reply = call(server, method, path, bearer(tokens["viewer"]))
        if not unprefixed(path).startswith("/cozygen/"):  # ComfyUI's own: by the allowlist (shared outputs here)
            static = (method, path) in STATIC
            readable = comfyui_rule(method, unprefixed(path), static=static).level == VIEWER
        else:
            readable = method in SAFE and not unprefixed(path).startswith(ADMIN_READS)
        if readable:
            if guard_refused(reply):
                wrong.append(f"{method} {path} refused a viewer ({reply.status})")
        elif unprefixed(path) not in {
            "/cozygen/api/me/password",
            "/cozygen/api/tokens",
            "/cozygen/api/tokens/{token_id}",
            "/cozygen/api/query_token",
            # read-only checks that take a workflow in the body
            "/cozygen/api/workflows/check",
            "/cozygen/api/workflows/{filename}/check",
            "/cozygen/compat/aiplayground/api/comfyUi/checkWorkflowRequirements",
            "/cozygen/compat/aiplayground/api/checkModelAlreadyLoaded",  # which models are on disk
            "/cozygen/api/tags/validate",  # read-only: which of the posted tags are known
            "/cozygen/api/gallery/zip",  # read-only: a download link for the posted selection
            # JSON-RPC: a viewer's read methods; generate checks the user role itself
            "/cozygen/api/mcp",
            "/cozygen/compat/cyberimage/api/mcp",
        }:
            if not guard_refused(reply):
                wrong.append(f"{method} {path} let a viewer through ({reply.status})")
    assert wrong == [], "\n".join(wrong)


def test_admin_reaches_every_read_route(server, tokens) -> None:
    refused = []
    for method, path in all_routes(server, tokens["admin"]):
        if method in SAFE:
            reply = call(server, method, path, bearer(tokens["admin"]))
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


def test_account_routes_refuse_bad_input_and_change_nothing(server, tokens) -> None:
    admin, url = bearer(tokens["admin"]), f"{server.url}/cozygen/api/users"
    before = get(url, headers=admin).json()["users"]
    ada = next(u for u in before if u["username"] == ADMIN)
    cases = [
        ("POST", url, {"username": "weak", "password": "short"}, 400, "WEAK_PASSWORD"),
        ("POST", url, {"username": "odd", "password": "long enough", "role": "owner"}, 400, "INVALID_ROLE"),
        ("POST", url, {"username": "../etc", "password": "long enough"}, 400, "INVALID_USERNAME"),
        ("POST", url, {"username": "VERA", "password": "long enough"}, 409, "USER_EXISTS"),
        ("POST", url, [1, 2], 400, None),
        ("PATCH", f"{url}/{ada['id']}", {"role": "viewer"}, 409, "LAST_ADMIN"),
        ("PATCH", f"{url}/{ada['id']}", {}, 400, "NOTHING_TO_CHANGE"),
        ("PATCH", f"{url}/{ada['id']}", {"password": "short"}, 400, "WEAK_PASSWORD"),
        ("PATCH", f"{url}/abc", {"role": "user"}, 400, "INVALID_ID"),
        ("PATCH", f"{url}/99999", {"role": "user"}, 404, "USER_NOT_FOUND"),
        ("DELETE", f"{url}/{ada['id']}", None, 409, "LAST_ADMIN"),
        ("DELETE", f"{url}/99999", None, 404, "USER_NOT_FOUND"),
        ("POST", f"{server.url}/cozygen/api/tokens", {"name": ""}, 400, "INVALID_TOKEN_NAME"),
        ("DELETE", f"{server.url}/cozygen/api/tokens/nope", None, 404, "TOKEN_NOT_FOUND"),
        ("POST", f"{server.url}/cozygen/api/login", {"username": ADMIN}, 400, "INVALID_BODY"),
        ("POST", f"{server.url}/cozygen/api/setup", {"username": "x", "password": "long enough"}, 409, "SETUP_DONE"),
    ]
    for method, target, body, status, code in cases:
        reply = request(method, target, body, headers=admin)
        assert reply.status == status, (method, target, body, reply.body)
        assert reply.json()["error"] and (code is None or reply.json()["code"] == code), reply.body
    not_json = request("POST", url, headers={**admin, "Content-Type": "application/json"}, raw=b"{nope")
    assert not_json.status == 400 and not_json.json()["code"]
    assert get(url, headers=admin).json()["users"] == before


def test_changing_a_password_signs_out_old_sessions(server, tokens) -> None:
    admin = bearer(tokens["admin"])
    created = post(
        f"{server.url}/cozygen/api/users",
        {"username": "carl", "password": "carl-pass-1", "must_change_password": True},
        headers=admin,
    ).json()
    assert created["role"] == "user" and created["must_change_password"] is True
    first = login(server, "carl", "carl-pass-1").json()
    assert first["default_credentials"] is True and first["role"] == "user"
    old = bearer(first["token"])
    wrong = post(
        f"{server.url}/cozygen/api/me/password", {"current_password": "nope", "new_password": "x" * 12}, headers=old
    )
    assert wrong.status == 403 and wrong.json()["code"] == "WRONG_PASSWORD"
    changed = post(
        f"{server.url}/cozygen/api/me/password",
        {"current_password": "carl-pass-1", "new_password": "carl-pass-2"},
        headers=old,
    )
    assert changed.status == 200 and changed.json()["default_credentials"] is False
    assert get(f"{server.url}/cozygen/api/health", headers=old).status == 401
    assert get(f"{server.url}/cozygen/api/health", headers=bearer(changed.json()["token"])).status == 200
    assert login(server, "carl", "carl-pass-2").status == 200
    reset = request(
        "PATCH", f"{server.url}/cozygen/api/users/{created['id']}", {"password": "reset-by-admin"}, headers=admin
    )
    assert reset.status == 200 and reset.json()["must_change_password"] is True
    assert get(f"{server.url}/cozygen/api/health", headers=bearer(changed.json()["token"])).status == 401
    for response in (first, changed.json(), reset.json()):
        assert "carl-pass" not in str(response) and "reset-by-admin" not in str(response)
    assert "carl-pass-1" not in server.log() and "reset-by-admin" not in server.log()


def test_admin_may_leave_comfyui_routes_open_but_never_cozygen_routes(server, tokens) -> None:
    admin, url = bearer(tokens["admin"]), f"{server.url}/cozygen/api/settings"
    assert get(url, headers=admin).json()["settings"]["guard_comfyui"] is True
    viewer_try = request("PATCH", url, {"guard_comfyui": False}, headers=bearer(tokens["viewer"]))
    assert viewer_try.status == 403 and viewer_try.json()["code"] == "ROLE_REQUIRED"
    bad = request("PATCH", url, {"guard_comfyui": "off"}, headers=admin)
    assert bad.status == 400 and bad.json()["code"] == "INVALID_SETTING"
    assert get(f"{server.url}/object_info", timeout=60).status == 401
    try:
        changed = request("PATCH", url, {"guard_comfyui": False}, headers=admin)
        assert changed.status == 200 and changed.json()["settings"]["guard_comfyui"] is False
        assert get(f"{server.url}/api/queue").status == 200
        assert get(f"{server.url}/cozygen/api/health").status == 401
        assert get(f"{server.url}/api/cozygen/api/users").status == 401
    finally:
        request("PATCH", url, {"guard_comfyui": True}, headers=admin)
    assert get(f"{server.url}/api/queue").status == 401
    entries = get(f"{server.url}/cozygen/api/audit", headers=admin).json()["entries"]
    assert [e["detail"] for e in entries if e["action"] == "settings.update"][:2] == [
        "guard_comfyui=True",
        "guard_comfyui=False",
    ]


def test_a_browser_opening_the_editor_is_sent_to_sign_in(server, tokens) -> None:
    import http.client

    def raw_get(path: str, headers: dict[str, str]) -> tuple[int, http.client.HTTPMessage, bytes]:
        """A GET that does not follow redirects: its status, headers and body (the connection closed)."""
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    page = {"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Mode": "navigate"}
    status, headers, _ = raw_get("/?tab=1", page)
    assert status == 303 and headers["Location"] == "/cozygen/?next=%2F%3Ftab%3D1"
    status, headers, _ = raw_get("/api/queue", {"Accept": "application/json"})
    assert status == 401 and "application/json" in headers["Content-Type"]
    status, _, _ = raw_get("/view?filename=x.png", {**page, "Sec-Fetch-Mode": "cors"})
    assert status == 401
    status, _, body = raw_get("/", {**page, "Cookie": f"cozygen_token={tokens['admin']}"})
    assert status == 200 and b"ComfyUI test front end" in body


def test_event_streams_need_a_token_and_take_a_query_token(server, tokens) -> None:
    stream = f"{server.url}/cozygen/api/gallery/stream"
    assert open_status("GET", stream).status == 401
    assert open_status("GET", f"{stream}?token=garbage").status == 401
    assert open_status("GET", f"{stream}?token={tokens['revoked']}").status == 401
    query = post(f"{server.url}/cozygen/api/query_token", headers=bearer(tokens["viewer"])).json()["token"]
    opened = open_status("GET", f"{stream}?token={query}")
    assert opened.status == 200 and opened.content_type == "text/event-stream"
    assert open_status("GET", stream, headers=bearer(tokens["viewer"])).status == 200
    assert open_status("GET", f"{server.url}/api/cozygen/api/gallery/stream").status == 401
