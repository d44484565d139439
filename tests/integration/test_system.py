"""Hello, health and the API description on a real ComfyUI, under both prefixes."""

from __future__ import annotations

import re

import pytest
import yaml
from support import PROJECT, get, open_status

PREFIXES = ["", "/api"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_hello(comfyui, prefix: str) -> None:
    reply = get(f"{comfyui.url}{prefix}/cozygen/hello")
    assert reply.status == 200 and reply.content_type == "application/json"
    assert reply.json() == {"status": "ok"}


@pytest.mark.parametrize("prefix", PREFIXES)
def test_health_reports_versions_and_features(comfyui, prefix: str) -> None:
    body = get(f"{comfyui.url}{prefix}/cozygen/api/health").json()
    version = re.search(r'^version = "(.+)"$', (PROJECT / "pyproject.toml").read_text(), re.M).group(1)
    assert body["status"] == "ok"
    assert body["version"] == version
    assert body["comfyui_version"] == "0.3.75"
    features = body["features"]
    assert features["database"] is True
    # ComfyUI 0.3.75: async three-argument validate_prompt, 6-field queue items, no /api/jobs yet.
    assert features["async_validate_prompt"] is True and features["validate_prompt_args"] == 3
    assert features["queue_item_fields"] == 6
    assert features["comfyui_jobs_api"] is False


def test_openapi_json_is_the_spec(comfyui) -> None:
    served = get(f"{comfyui.url}/cozygen/api/openapi.json").json()
    source = yaml.safe_load((PROJECT / "api" / "openapi.yaml").read_text())
    assert served["paths"] == source["paths"]
    assert served["info"]["version"] == get(f"{comfyui.url}/cozygen/api/health").json()["version"]


def spec_paths() -> list[tuple[str, str]]:
    spec = yaml.safe_load((PROJECT / "api" / "openapi.yaml").read_text())
    return [(method.upper(), path) for path, item in spec["paths"].items() for method in item]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_spec_route_is_served(comfyui, prefix: str) -> None:
    """The router answers each documented (method, path): no aiohttp 404/405 for any of them."""
    for method, path in spec_paths():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        if method != "GET":
            continue  # write routes are exercised by their own tests
        url = f"{comfyui.url}{prefix}{concrete}"
        reply = open_status("GET", url) if path.endswith(("/stream", "/events")) else get(url)
        router_miss = reply.status in (404, 405) and reply.content_type != "application/json"
        assert not router_miss, f"{method} {prefix}{path} is documented but not served ({reply.status})"


@pytest.mark.parametrize("path", ["/cozygen", "/cozygen/"])
def test_app_shell_is_served_uncached(comfyui, path: str) -> None:
    reply = get(f"{comfyui.url}{path}")
    assert reply.status == 200 and reply.content_type == "text/html"
    assert reply.headers["Cache-Control"] == "no-cache"
    assert b"CozyGen" in reply.body
