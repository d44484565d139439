"""api.responses: every failure path renders {"error", "code"} with its status (real aiohttp server)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from cozygen.api.responses import read_json
from cozygen.api.routing import Routes
from cozygen.core import errors


def build_app() -> web.Application:
    table = web.RouteTableDef()
    routes = Routes(table)

    @routes.get("/raise/{kind}", access="public")
    async def raise_kind(request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if kind == "bug":
            raise ZeroDivisionError("secret detail")
        if kind == "limited":
            raise errors.RateLimited("slow down", retry_after=7)
        cls = {
            "bad": errors.BadRequest,
            "missing": errors.NotFound,
            "conflict": errors.Conflict,
            "busy": errors.HostNotReady,
            "large": errors.TooLarge,
        }[kind]
        raise cls(f"{kind} happened")

    @routes.post("/echo", access="public")
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(await read_json(request))

    app = web.Application()
    app.add_routes(table)
    return app


async def call(method: str, path: str, **kwargs) -> tuple[int, dict, dict]:
    async with TestClient(TestServer(build_app())) as client:
        response = await client.request(method, path, **kwargs)
        return response.status, dict(response.headers), await response.json()


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("bad", 400, "BAD_REQUEST"),
        ("missing", 404, "NOT_FOUND"),
        ("conflict", 409, "CONFLICT"),
        ("large", 413, "TOO_LARGE"),
        ("busy", 503, "HOST_NOT_READY"),
    ],
)
def test_domain_errors_render_with_their_status(kind: str, status: int, code: str) -> None:
    got_status, _, body = asyncio.run(call("GET", f"/raise/{kind}"))
    assert (got_status, body) == (status, {"error": f"{kind} happened", "code": code})


def test_rate_limit_sends_retry_after() -> None:
    status, headers, body = asyncio.run(call("GET", "/raise/limited"))
    assert status == 429 and headers["Retry-After"] == "7" and body["code"] == "RATE_LIMITED"


def test_unexpected_errors_are_500_json_without_internals() -> None:
    status, headers, body = asyncio.run(call("GET", "/raise/bug"))
    assert status == 500 and headers["Content-Type"].startswith("application/json")
    assert body["code"] == "INTERNAL" and "secret detail" not in body["error"]


@pytest.mark.parametrize(
    ("kwargs", "status", "fragment"),
    [
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "not valid JSON"),
        ({"data": b"", "headers": {"Content-Type": "application/json"}}, 400, "empty"),
        ({"data": b"[1, 2]", "headers": {"Content-Type": "application/json"}}, 400, "JSON object"),
        ({"data": b"<x/>", "headers": {"Content-Type": "application/xml"}}, 415, "application/json"),
    ],
)
def test_bad_bodies_get_actionable_messages(kwargs: dict, status: int, fragment: str) -> None:
    got_status, _, body = asyncio.run(call("POST", "/echo", **kwargs))
    assert got_status == status and fragment in body["error"]


def test_good_body_passes_through() -> None:
    status, _, body = asyncio.run(call("POST", "/echo", json={"a": [1, 2]}))
    assert (status, body) == (200, {"a": [1, 2]})
