"""Query tokens and API tokens (issue 13, item 7).

A ``?token=`` query token exists for the connections a browser cannot send headers on: it opens a GET of
CozyGen's event streams and ComfyUI's socket, nothing else, and a session token is never taken as one.
Signing out everywhere and a new password also revoke the user's API tokens (unless the body keeps them);
a new role and deletion revoke everything. Tests that sign out or change passwords use users of their own.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from household import Household, bearer, login
from support import get, open_status, post, request


def query_token(home: Household, headers: dict[str, str]) -> str:
    reply = post(f"{home.url}/cozygen/api/query_token", headers=headers)
    assert reply.status == 200, reply.body
    return reply.json()["token"]


def new_user(home: Household, name: str, role: str = "user") -> tuple[int, dict[str, str], str]:
    password = f"{name}-pass-123"
    made = post(
        f"{home.url}/cozygen/api/users",
        {"username": name, "password": password, "role": role},
        headers=home.as_("admin"),
    )
    assert made.status == 201, made.body
    return made.json()["id"], login(home.url, name, password), password


def api_token(home: Household, headers: dict[str, str]) -> dict[str, str]:
    made = post(f"{home.url}/cozygen/api/tokens", {"name": "script"}, headers=headers)
    assert made.status == 201, made.body
    return bearer(made.json()["token"])


def works(home: Household, headers: dict[str, str]) -> bool:
    status = get(f"{home.url}/cozygen/api/health", headers=headers).status
    assert status in (200, 401), status
    return status == 200


def socket_status(url: str) -> int:
    async def connect() -> int:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(url):
                    return 101
            except aiohttp.WSServerHandshakeError as error:
                return error.status

    return asyncio.run(connect())


def test_a_query_token_opens_only_the_streams_and_the_socket(household: Household) -> None:
    url, bob = household.url, household.as_("bob")
    token = query_token(household, bob)
    refused = [
        ("POST", "/cozygen/api/tokens", {"name": "minted with a query token"}),  # a permanent token from a short one
        ("POST", "/cozygen/api/query_token", None),
        ("GET", "/cozygen/api/health", None),
        ("GET", "/cozygen/api/jobs", None),
        ("GET", "/api/cozygen/api/gallery", None),
        ("GET", "/cozygen/api/tokens", None),
        ("GET", "/queue", None),
        ("GET", "/api/history", None),
        ("POST", "/prompt", {"prompt": {}}),
        ("GET", f"/view?filename={household.alice_image['filename']}&subfolder=CozyGen&type=output", None),
    ]
    for method, path, body in refused:
        joined = "&" if "?" in path else "?"
        reply = request(method, f"{url}{path}{joined}token={token}", body)
        assert reply.status == 401, (method, path, reply.status, reply.body)
        assert reply.json()["code"] == "UNAUTHORIZED" and "?token=" in reply.json()["detail"], reply.body
    listed = get(f"{url}/cozygen/api/tokens", headers=bob).json()["tokens"]
    assert not any(t["name"] == "minted with a query token" for t in listed)
    assert post(f"{url}/cozygen/api/logout?token={token}").status == 200  # public: it signs nobody out with one
    assert works(household, bob)
    assert open_status("HEAD", f"{url}/cozygen/api/events?token={token}").status == 401  # GET only
    for path in ("/cozygen/api/events", "/cozygen/api/gallery/stream", "/api/cozygen/api/events"):
        opened = open_status("GET", f"{url}{path}?token={token}")
        assert opened.status == 200 and opened.content_type == "text/event-stream", (path, opened.status)
    socket = url.replace("http", "ws", 1)
    assert socket_status(f"{socket}/ws?token={token}") == 101
    assert socket_status(f"{socket}/api/ws?token={token}") == 101


def test_a_session_token_is_never_a_query_token_nor_the_other_way_round(household: Household) -> None:
    url, bob = household.url, household.as_("bob")
    session = bob["Authorization"].removeprefix("Bearer ")
    assert open_status("GET", f"{url}/cozygen/api/events?token={session}").status == 401
    assert open_status("GET", f"{url}/cozygen/api/gallery/stream?token={session}").status == 401
    assert socket_status(f"{url.replace('http', 'ws', 1)}/ws?token={session}") == 401
    token = query_token(household, bob)
    assert get(f"{url}/cozygen/api/health", headers=bearer(token)).status == 401
    assert get(f"{url}/cozygen/api/health", headers={"Cookie": f"cozygen_token={token}"}).status == 401
    assert open_status("GET", f"{url}/cozygen/api/events", headers=bearer(token)).status == 401


def test_signing_out_everywhere_revokes_api_tokens_unless_kept(household: Household) -> None:
    url = household.url
    _, first, password = new_user(household, "tok-sam")
    script = api_token(household, first)
    kept = post(f"{url}/cozygen/api/logout", {"revoke_api_tokens": False}, headers=first)
    assert kept.status == 200, kept.body
    assert not works(household, first) and works(household, script)
    second = login(url, "tok-sam", password)
    assert post(f"{url}/cozygen/api/logout", headers=second).status == 200  # no body: the default revokes
    assert not works(household, second) and not works(household, script)
    third = login(url, "tok-sam", password)
    assert get(f"{url}/cozygen/api/tokens", headers=third).json()["tokens"] == []
    other = api_token(household, third)
    assert post(f"{url}/cozygen/api/logout", headers=other).status == 200  # signed out by the API token itself
    assert not works(household, other) and not works(household, third)


def test_a_new_password_revokes_api_tokens_unless_kept(household: Household) -> None:
    url, admin = household.url, household.as_("admin")
    user_id, session, password = new_user(household, "tok-pat")
    script = api_token(household, session)
    change = {"current_password": password, "new_password": "tok-pat-pass-2", "revoke_api_tokens": False}
    changed = post(f"{url}/cozygen/api/me/password", change, headers=session)
    assert changed.status == 200, changed.body
    session = bearer(changed.json()["token"])
    assert works(household, script) and works(household, session)
    change = {"current_password": "tok-pat-pass-2", "new_password": "tok-pat-pass-3"}
    changed = post(f"{url}/cozygen/api/me/password", change, headers=session)
    assert changed.status == 200 and not works(household, script)
    session = bearer(changed.json()["token"])
    script = api_token(household, session)
    reset = {"password": "tok-pat-pass-4", "revoke_api_tokens": False}
    assert request("PATCH", f"{url}/cozygen/api/users/{user_id}", reset, headers=admin).status == 200
    assert works(household, script) and not works(household, session)
    assert (
        request("PATCH", f"{url}/cozygen/api/users/{user_id}", {"password": "tok-pat-pass-5"}, headers=admin).status
        == 200
    )
    assert not works(household, script)


def test_a_new_role_or_deletion_revokes_everything(household: Household) -> None:
    url, admin = household.url, household.as_("admin")
    user_id, session, password = new_user(household, "tok-rob")
    script = api_token(household, session)
    moved = request(
        "PATCH", f"{url}/cozygen/api/users/{user_id}", {"role": "viewer", "revoke_api_tokens": False}, headers=admin
    )
    assert moved.status == 200 and moved.json()["role"] == "viewer"
    assert not works(household, session) and not works(household, script)  # the flag does not keep them here
    session = login(url, "tok-rob", password)
    script = api_token(household, session)
    assert request("DELETE", f"{url}/cozygen/api/users/{user_id}", headers=admin).status == 200
    assert not works(household, session) and not works(household, script)


@pytest.mark.parametrize(
    ("name", "flag"), [("tok-flag1", "no"), ("tok-flag2", 0), ("tok-flag3", None), ("tok-flag4", [False])]
)
def test_a_bad_revoke_flag_is_refused_and_changes_nothing(household: Household, name: str, flag: Any) -> None:
    url = household.url
    _, session, password = new_user(household, name)
    script = api_token(household, session)
    change = {"current_password": password, "new_password": "x" * 12, "revoke_api_tokens": flag}
    for path, body in (("/cozygen/api/logout", {"revoke_api_tokens": flag}), ("/cozygen/api/me/password", change)):
        reply = post(f"{url}{path}", body, headers=session)
        assert reply.status == 400 and reply.json()["code"] == "INVALID_BODY", (path, reply.body)
    headers = {**session, "Content-Type": "application/json"}
    assert request("POST", f"{url}/cozygen/api/logout", headers=headers, raw=b"{").status == 400
    assert works(household, session) and works(household, script)
    assert post(f"{url}/cozygen/api/login", {"username": name, "password": password}).status == 200
