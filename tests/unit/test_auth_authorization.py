"""api.auth.authorization and api.auth.sign_in: the guard's decisions, on requests routed as aiohttp routes them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from cozygen.api.auth.authorization import authorize, require_same_origin, required_level, requirement, same_origin
from cozygen.api.auth.sign_in import challenge
from cozygen.core.accounts.access import ADMIN, PUBLIC, USER, VIEWER
from cozygen.core.accounts.users import User
from cozygen.core.errors import Forbidden, Unauthorized

COZYGEN = {("GET", "/cozygen/api/jobs"): VIEWER, ("POST", "/cozygen/api/jobs"): USER, ("GET", "/cozygen/"): PUBLIC}


async def _nothing(_request: web.Request) -> web.Response:
    return web.Response()


def routed(method: str, path: str, headers: dict[str, str] | None = None) -> web.Request:
    """A request matched by a router holding CozyGen's and ComfyUI's kinds of routes (as the guard sees it)."""
    app = web.Application()
    for template in ("/cozygen/api/jobs", "/cozygen/", "/cozygen/api/jobs/{job_id}", "/prompt", "/api/prompt"):
        app.router.add_route("*", template, _nothing)
    for template in ("/settings", "/api/settings", "/view", "/internal/logs", "/ws"):
        app.router.add_route("*", template, _nothing)
    request = make_mocked_request(method, path, headers=headers or {}, app=app)
    request._match_info = asyncio.run(app.router.resolve(request))  # what aiohttp's server does before middlewares
    return request


def person(role: str) -> User:
    return User(id=1, username="ann", role=role, must_change_password=False, token_version=0, created_at=0)


@pytest.mark.parametrize(
    ("method", "path", "level"),
    [
        ("GET", "/cozygen/api/jobs", VIEWER),
        ("HEAD", "/cozygen/api/jobs", VIEWER),  # HEAD is read as GET
        ("POST", "/cozygen/api/jobs", USER),
        ("GET", "/cozygen/", PUBLIC),
        ("GET", "/cozygen/api/jobs/abc", ADMIN),  # undeclared under /cozygen: the admin's
        ("DELETE", "/cozygen/api/jobs", ADMIN),
        ("GET", "/cozygen/api/nothing-here", ADMIN),  # no route at all
    ],
)
def test_cozygen_routes_need_their_declared_level(method: str, path: str, level: str) -> None:
    assert required_level(routed(method, path), COZYGEN) == (level, None)


def test_comfyui_routes_follow_the_allowlist() -> None:
    level, rule = required_level(routed("POST", "/prompt"), COZYGEN)
    assert (level, rule is not None and rule.adapter) == (USER, "prompt")
    assert required_level(routed("POST", "/api/prompt"), COZYGEN)[1] == rule  # the /api copy is the same route
    level, rule = required_level(routed("GET", "/internal/logs"), COZYGEN)
    assert level == ADMIN and rule is not None  # unlisted: the admin's
    assert required_level(routed("GET", "/internal/logs"), COZYGEN, guard_comfyui=False) == (PUBLIC, None)


def test_shared_stores_are_the_admins_while_outputs_are_per_user() -> None:
    request = routed("GET", "/settings")
    assert requirement(request, COZYGEN, guard_comfyui=True, per_user=False)[0] == VIEWER
    assert requirement(request, COZYGEN, guard_comfyui=True, per_user=True)[0] == ADMIN


@pytest.mark.parametrize(
    ("headers", "same"),
    [
        ({"Sec-Fetch-Site": "same-origin"}, True),
        ({"Sec-Fetch-Site": "none"}, True),
        ({"Sec-Fetch-Site": "same-site", "Origin": "http://example.com"}, False),  # Sec-Fetch-Site decides
        ({"Origin": "http://cozy.local:8188", "Host": "cozy.local:8188"}, True),
        ({"Origin": "http://cozy.local:8189", "Host": "cozy.local:8188"}, False),  # another port of the host
        ({}, False),
    ],
)
def test_same_origin(headers: dict[str, str], same: bool) -> None:
    assert same_origin(make_mocked_request("POST", "/x", headers=headers)) is same


def test_only_cookie_state_changes_need_the_origin() -> None:
    foreign = {"Origin": "http://evil.example"}
    with pytest.raises(Forbidden) as refused:
        require_same_origin(make_mocked_request("POST", "/x", headers=foreign), "cookie")
    assert refused.value.code == "CROSS_ORIGIN"
    require_same_origin(make_mocked_request("GET", "/x", headers=foreign), "cookie")  # a read
    require_same_origin(make_mocked_request("POST", "/x", headers=foreign), "bearer")  # no ambient credential


def codes(request: web.Request, user: User, via: str, level: str, rule: Any) -> str | None:
    try:
        authorize(request, user, via, level, rule)
    except Forbidden as error:
        return error.code
    return None


def test_authorize_compares_roles_and_names_comfyuis_admin_routes() -> None:
    request = routed("POST", "/cozygen/api/jobs", {"Sec-Fetch-Site": "same-origin"})
    assert codes(request, person(USER), "cookie", USER, None) is None
    assert codes(request, person(VIEWER), "cookie", USER, None) == "ROLE_REQUIRED"
    logs = routed("GET", "/internal/logs")
    level, rule = required_level(logs, COZYGEN)
    assert codes(logs, person(USER), "bearer", level, rule) == "COMFYUI_ROUTE_ADMIN_ONLY"
    assert codes(logs, person(ADMIN), "bearer", level, rule) is None
    foreign = routed("POST", "/cozygen/api/jobs", {"Origin": "http://evil.example"})
    assert codes(foreign, person(ADMIN), "cookie", USER, None) == "CROSS_ORIGIN"


def test_a_page_is_sent_to_sign_in_and_anything_else_gets_401() -> None:
    page = make_mocked_request("GET", "/?x=1", headers={"Accept": "text/html", "Sec-Fetch-Mode": "navigate"})
    answer = challenge(page)
    assert answer.status == 303 and answer.headers["Location"] == "/cozygen/?next=%2F%3Fx%3D1"
    for request in (
        make_mocked_request("GET", "/", headers={"Accept": "application/json"}),
        make_mocked_request("GET", "/", headers={"Accept": "text/html", "Sec-Fetch-Mode": "cors"}),
        make_mocked_request("GET", "/cozygen/api/jobs", headers={"Accept": "text/html"}),  # CozyGen's own: JSON
        make_mocked_request("POST", "/", headers={"Accept": "text/html"}),
    ):
        with pytest.raises(Unauthorized):
            challenge(request)
