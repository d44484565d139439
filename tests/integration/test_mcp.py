"""The MCP server at /cozygen/api/mcp, driven by the official MCP client library (Streamable HTTP) over a real
socket against a real ComfyUI with auth on; and CyberImage's own MCP endpoint under its compat prefix, replayed as
its example client (examples/mcp_client_example.py of RamboRogers/cyberimage) sends it."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from support import AUTH_ENV, bearer, get, household, post, request

FORM = "cozygen_procedural_form.json"
MCP = "/cozygen/api/mcp"
DATA = Path(__file__).resolve().parents[1] / "data" / "ui_workflows"
CYBER_MCP = "/cozygen/compat/cyberimage/api/mcp"
TOOLS = {"list_workflows", "get_workflow_parameters", "generate", "get_job", "search_gallery", "fetch_image"}


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui(
        "ComfyUI-CozyGen-mcp",
        env=AUTH_ENV,
    )


@pytest.fixture(scope="module")
def tokens(server) -> dict[str, str]:
    """API tokens (as a script or an MCP client holds them) of ann and bob (users) and vic (a viewer)."""
    people = household(server.url, {"ann": "user", "bob": "user", "vic": "viewer"})
    found = {"admin": people["admin"]["Authorization"].split()[1]}
    for name in ("ann", "bob", "vic"):
        created = post(f"{server.url}/cozygen/api/tokens", {"name": "mcp"}, headers=people[name])
        assert created.status == 201, created.body
        found[name] = created.json()["token"]
    return found


def mcp(server, token: str | None, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``work(session)`` in an initialized MCP client session (the SDK's ClientSession over its Streamable
    HTTP client), with ``token`` as the Bearer header."""
    import httpx2
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def run() -> Any:
        headers = bearer(token) if token else {}
        async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300)) as http:
            async with streamable_http_client(f"{server.url}{MCP}", http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return await work(session)

    return asyncio.run(run())


def call(server, token: str, tool: str, arguments: dict[str, Any] | None = None) -> Any:
    async def work(session: Any) -> Any:
        return await session.call_tool(tool, arguments or {})

    return mcp(server, token, work)


def data(result: Any) -> dict[str, Any]:
    """A tool result's JSON: its structured content, which its first text part repeats."""
    assert result.content[0].type == "text"
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


def decoded(part: Any) -> Any:
    from PIL import Image

    assert part.type == "image"
    image = Image.open(io.BytesIO(base64.b64decode(part.data)))
    image.load()
    return image


def error_of(result: Any) -> str:
    assert result.is_error, result
    return result.content[0].text


def generate_values(prompt: str, seed: int) -> dict[str, Any]:
    return {"prompt": prompt, "steps": 2, "size": 64, "seed": seed}


def test_initialize_lists_tools_workflows_and_a_workflows_parameters(server, tokens) -> None:
    async def work(session: Any) -> tuple[Any, Any, Any]:
        listed = await session.list_tools()
        workflows = await session.call_tool("list_workflows", {})
        form = await session.call_tool("get_workflow_parameters", {"workflow": FORM})
        return listed, workflows, form

    listed, workflows, form = mcp(server, tokens["ann"], work)
    assert {t.name for t in listed.tools} == TOOLS
    by_name = {t.name: t for t in listed.tools}
    assert by_name["generate"].input_schema["required"] == ["workflow"]
    assert by_name["fetch_image"].annotations.read_only_hint is True
    assert FORM in data(workflows)["workflows"]
    parameters = {p["name"]: p for p in data(form)["parameters"]}
    assert {"prompt", "steps", "size", "seed"} <= set(parameters)
    assert parameters["steps"]["type"] in ("int", "integer", "number") and "default" in parameters["steps"]
    assert "targets" not in parameters["prompt"]  # the filler's business, not an assistant's


def test_generate_waits_then_get_job_search_and_fetch_the_image(server, tokens) -> None:
    from PIL import Image

    async def work(session: Any) -> dict[str, Any]:
        made = await session.call_tool(
            "generate", {"workflow": FORM, "values": generate_values("a copper lighthouse", 7), "wait": True}
        )
        job = data(made)
        image_id = job["images"][0]["id"]
        return {
            "made": made,
            "job": await session.call_tool("get_job", {"job_id": job["job_id"]}),
            "search": await session.call_tool("search_gallery", {"query": "lighthouse"}),
            "original": await session.call_tool("fetch_image", {"image_id": image_id, "size": "original"}),
            "thumb": await session.call_tool("fetch_image", {"image_id": image_id, "max_width": 96}),
        }

    got = mcp(server, tokens["ann"], work)
    job = data(got["made"])
    assert job["status"] == "completed" and job["workflow"] == FORM, job
    assert job["progress"]["step"] == job["progress"]["total_steps"] == 2
    [image] = job["images"]
    assert image["width"] == image["height"] == 64 and image["filename"].endswith(".png")
    [thumbnail] = got["made"].content[1:]  # generate shows what it made
    assert thumbnail.mime_type == "image/jpeg" and decoded(thumbnail).format == "JPEG"

    polled = data(got["job"])
    assert polled["job_id"] == job["job_id"] and polled["status"] == "completed"
    assert [i["id"] for i in polled["images"]] == [image["id"]]

    found = data(got["search"])["images"]
    assert image["id"] in [i["id"] for i in found]
    assert next(i for i in found if i["id"] == image["id"])["prompt"] == "a copper lighthouse"

    original = got["original"].content[1]
    assert original.mime_type == "image/png"
    png = decoded(original)
    assert png.format == "PNG" and png.size == (64, 64)
    assert data(got["original"])["id"] == image["id"]
    small = decoded(got["thumb"].content[1])
    assert small.format == "JPEG" and max(small.size) <= 96
    assert isinstance(png, Image.Image)


def test_generate_without_waiting_answers_the_job_to_poll(server, tokens) -> None:
    made = data(call(server, tokens["ann"], "generate", {"workflow": FORM, "values": generate_values("a kite", 3),
                                                        "wait": False}))  # fmt: skip
    assert made["status"] in ("pending", "running") and made["images"] == []
    deadline = time.monotonic() + 60
    while True:
        job = data(call(server, tokens["ann"], "get_job", {"job_id": made["job_id"]}))
        if job["status"] == "completed":
            break
        assert job["status"] in ("pending", "running") and time.monotonic() < deadline, job
        time.sleep(0.2)
    assert len(job["images"]) == 1


def test_no_token_is_refused_before_any_tool(server, tokens) -> None:
    hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    accept = {"Accept": "application/json, text/event-stream"}
    assert post(f"{server.url}{MCP}", hello, headers=accept).status == 401
    assert post(f"{server.url}{MCP}", hello, headers={**accept, **bearer("cozy_not-a-token")}).status == 401
    from mcp.shared.exceptions import MCPError

    with pytest.raises(BaseException) as refused:  # the client library gives up on the 401 (an exception group)
        call(server, "", "list_workflows")
    assert refused.group_contains(MCPError, depth=None)
    assert get(f"{server.url}{MCP}", headers=bearer(tokens["ann"])).status == 405  # no stream: stateless


def test_another_user_can_neither_see_nor_fetch_a_users_job_or_image(server, tokens) -> None:
    admin = bearer(tokens["admin"])
    changed = request("PATCH", f"{server.url}/cozygen/api/settings", {"gallery_visibility": "per_user"}, headers=admin)
    assert changed.status == 200, changed.body
    try:
        values = generate_values("ann's owl", 11)
        job = data(call(server, tokens["ann"], "generate", {"workflow": FORM, "values": values}))
        assert job["status"] == "completed", job
        image_id = job["images"][0]["id"]

        async def bob(session: Any) -> dict[str, Any]:
            return {
                "job": await session.call_tool("get_job", {"job_id": job["job_id"]}),
                "image": await session.call_tool("fetch_image", {"image_id": image_id, "size": "original"}),
                "thumb": await session.call_tool("fetch_image", {"image_id": image_id}),
                "mine": await session.call_tool("search_gallery", {"query": "owl"}),
                "everyone": await session.call_tool("search_gallery", {"query": "owl", "include_others": True}),
            }

        seen = mcp(server, tokens["bob"], bob)
        assert error_of(seen["job"]).startswith("JOB_NOT_FOUND")
        assert error_of(seen["image"]).startswith("IMAGE_NOT_FOUND")
        assert error_of(seen["thumb"]).startswith("IMAGE_NOT_FOUND")
        assert data(seen["mine"])["images"] == [] and data(seen["everyone"])["images"] == []
        admin_sees = data(call(server, tokens["admin"], "search_gallery", {"query": "owl", "include_others": True}))
        assert image_id in [i["id"] for i in admin_sees["images"]]
    finally:
        request("PATCH", f"{server.url}/cozygen/api/settings", {"gallery_visibility": "shared"}, headers=admin)


def test_a_viewer_reads_but_cannot_generate(server, tokens) -> None:
    async def work(session: Any) -> tuple[Any, Any]:
        listed = await session.list_tools()
        refused = await session.call_tool("generate", {"workflow": FORM})
        return listed, refused

    listed, refused = mcp(server, tokens["vic"], work)
    assert {t.name for t in listed.tools} == TOOLS - {"generate"}
    assert error_of(refused).startswith("ROLE_REQUIRED")


def test_bad_arguments_are_tool_errors_that_say_what_is_right(server, tokens) -> None:
    async def work(session: Any) -> dict[str, Any]:
        calls = {
            "missing": ("generate", {}),
            "types": ("generate", {"workflow": FORM, "num_images": "two", "wait": "yes", "colour": 1}),
            "range": ("generate", {"workflow": FORM, "num_images": 99}),
            "values": ("generate", {"workflow": FORM, "values": {"steps": "many", "size": -5}}),
            "workflow": ("generate", {"workflow": "no_such.json"}),
            "job": ("get_job", {"job_id": "not-a-job"}),
            "image": ("fetch_image", {"image_id": 99999999}),
            "size": ("fetch_image", {"image_id": 1, "size": "huge"}),
            "cursor": ("search_gallery", {"cursor": "@@@"}),
            "tool": ("paint_me_a_picture", {}),
        }
        return {key: await session.call_tool(tool, args) for key, (tool, args) in calls.items()}

    got = mcp(server, tokens["ann"], work)
    errors = {key: error_of(result) for key, result in got.items()}
    assert errors["missing"].startswith("INVALID_ARGUMENTS") and "workflow: required" in errors["missing"]
    fields = got["types"].structured_content["fields"]
    assert set(fields) == {"num_images", "wait", "colour"}
    assert "whole number from 1 to 8" in fields["num_images"] and "unknown argument" in fields["colour"]
    assert "from 1 to 8" in errors["range"]
    assert errors["values"].startswith("INVALID_VALUES")
    assert set(got["values"].structured_content["fields"]) >= {"steps", "size"}
    assert "no_such.json" in errors["workflow"]
    assert errors["job"].startswith("JOB_NOT_FOUND") and errors["image"].startswith("IMAGE_NOT_FOUND")
    assert "'thumbnail'" in errors["size"] and "'original'" in errors["size"]
    assert errors["cursor"].split(":")[0].isupper()
    assert errors["tool"].startswith("UNKNOWN_TOOL") and "generate" in errors["tool"]


# -- CyberImage's JSON-RPC "MCP" endpoint, as its example client uses it ---------------------------------------
def cyberimage_rpc(url: str, headers: dict[str, str], method: str, params: dict[str, Any] | None = None) -> Any:
    """One call as the example client's mcp_request makes it: a POST of a JSON-RPC 2.0 object with a uuid id
    (``requests.post(API_URL, json=payload)``; the Bearer header is ours: the example sends no credentials)."""
    import uuid

    import requests

    payload = {"jsonrpc": "2.0", "method": method, "params": params or {}, "id": str(uuid.uuid4())}
    response = requests.post(url, json=payload, headers=headers, timeout=30)
    assert response.status_code == 200, response.text  # anything else ends the example client
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["id"] == payload["id"]
    return body


def test_cyberimage_example_client_flow_runs_unchanged(server, tokens, tmp_path) -> None:
    """The example client's main(): models, generate with the default model and its settings, poll status
    until completed, then download each image from its url."""
    import requests

    url, auth = f"{server.url}{CYBER_MCP}", bearer(tokens["ann"])
    models = cyberimage_rpc(url, auth, "context.image_generation.models")
    assert "error" not in models
    result = models["result"]
    assert all(isinstance(info["description"], str) for info in result["models"].values())
    default = result["default"]
    assert default == "procedural" and default in result["models"]  # no checkpoints here

    params = {
        "prompt": "A futuristic cyberpunk city at night with neon lights and flying cars",
        "negative_prompt": "blurry, low quality, distorted",
        "model": default,
        "settings": {"num_images": 1, "num_inference_steps": 30, "guidance_scale": 7.5, "height": 1024,
                     "width": 1024},
    }  # fmt: skip
    submitted = cyberimage_rpc(url, auth, "context.image_generation.generate", params)
    assert "error" not in submitted, submitted
    job_id = submitted["result"]["job_id"]
    assert isinstance(job_id, str) and submitted["result"]["status"] == "pending"
    assert submitted["result"]["num_images"] == 1

    deadline, seen = time.monotonic() + 120, set()
    while True:
        status = cyberimage_rpc(url, auth, "context.image_generation.status", {"job_id": job_id})["result"]
        seen.add(status["status"])
        if status["status"] == "processing" and "progress" in status:
            progress = status["progress"]
            if progress.get("generating") and progress.get("step") is not None:
                assert isinstance(progress["step"], int) and progress["total_steps"] == 30
        if status["status"] in ["completed", "failed"]:
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.25)  # the example waits 5 s between polls

    assert status["status"] == "completed", status
    assert status["model"] == "procedural" and status["prompt"] == params["prompt"]
    assert status["created_at"].endswith("Z") and status["completed_at"].endswith("Z")
    assert status["progress"]["completed"] is True and status["progress"]["step"] == 30
    [image_info] = status["images"]
    assert image_info["metadata"]["image_number"] == 1 and image_info["metadata"]["total_images"] == 1
    image_url = image_info["url"]
    assert not image_url.startswith("/")  # the example would put http://localhost:5050 in front of a path
    downloaded = requests.get(image_url, headers=auth, timeout=30)
    assert downloaded.status_code == 200
    (tmp_path / "generated_image_1.png").write_bytes(downloaded.content)
    assert downloaded.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_cyberimage_rpc_errors_are_json_rpc_errors_the_example_client_can_print(server, tokens) -> None:
    url, ann = f"{server.url}{CYBER_MCP}", bearer(tokens["ann"])
    unknown = cyberimage_rpc(url, ann, "tools/list")["error"]
    assert unknown["code"] == -32601 and "/cozygen/api/mcp" in unknown["message"]
    missing = cyberimage_rpc(url, ann, "context.image_generation.generate", {"negative_prompt": "x"})["error"]
    assert missing["code"] == -32602 and "prompt" in missing["data"]["fields"]
    bad_model = cyberimage_rpc(url, ann, "context.image_generation.generate", {"prompt": "a", "model": "nope"})
    assert "Available models: procedural" in bad_model["error"]["data"]["fields"]["model"]
    not_square = cyberimage_rpc(
        url, ann, "context.image_generation.generate", {"prompt": "a", "settings": {"width": 64, "height": 96}}
    )["error"]
    assert not_square["code"] == -32602 and "height" in not_square["data"]["fields"]
    no_job = cyberimage_rpc(url, ann, "context.image_generation.status", {})["error"]
    assert no_job["code"] == -32602 and "job_id" in no_job["data"]["fields"]

    job_id = cyberimage_rpc(url, ann, "context.image_generation.generate", {"prompt": "ann's", "settings":
                            {"num_inference_steps": 2, "width": 64, "height": 64}})["result"]["job_id"]  # fmt: skip
    hidden = cyberimage_rpc(url, bearer(tokens["bob"]), "context.image_generation.status", {"job_id": job_id})
    assert hidden["error"]["code"] == -32000 and hidden["error"]["data"]["code"] == "JOB_NOT_FOUND"
    viewer = cyberimage_rpc(url, bearer(tokens["vic"]), "context.image_generation.generate", {"prompt": "a"})
    assert viewer["error"]["data"]["code"] == "ROLE_REQUIRED"
    assert "models" in cyberimage_rpc(url, bearer(tokens["vic"]), "context.image_generation.models")["result"]

    not_rpc = post(url, {"method": "context.image_generation.models"}, headers=ann)
    assert not_rpc.status == 200 and not_rpc.json()["error"]["code"] == -32600
    garbage = request("POST", url, headers={**ann, "Content-Type": "application/json"}, raw=b"{nope")
    assert garbage.status == 200 and garbage.json()["error"]["code"] == -32700
    assert post(url, {"jsonrpc": "2.0", "method": "context.image_generation.models", "id": "1"}).status == 401


def test_an_admin_sees_the_editors_workflows_and_their_form(server, tokens) -> None:
    """With auth on, an admin's store holds ComfyUI's `default` editor folder: list_workflows names its files and
    get_workflow_parameters converts one (the editor's format) into its form; a user's store does not."""
    folder = server.user_dir / "default" / "workflows" / "mcp"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "basic.json").write_bytes((DATA / "basic_v04.json").read_bytes())
    name = "editor/mcp/basic.json"
    assert name in data(call(server, tokens["admin"], "list_workflows"))["workflows"]
    assert name not in data(call(server, tokens["ann"], "list_workflows"))["workflows"]
    form = data(call(server, tokens["admin"], "get_workflow_parameters", {"workflow": name}))
    assert form["workflow"] == name and form["parameters"], form
    refused = call(server, tokens["ann"], "get_workflow_parameters", {"workflow": name})
    assert refused.is_error
