"""The real Spoon Feeder client (seed 003) replayed against a real ComfyUI with CozyGen, auth on.

Each test sends the requests the client's own source sends (method, path, headers, body as its code builds
them: ``JSON.stringify`` leaves undefined fields out), with the base URL changed to the mount and, since auth is
on, an ``Authorization: Bearer`` token added, and asserts every field the client reads with the type it expects.
Where each request comes from (datajango/lmspoonfeeder):
  frontend/src/api/comfyui.ts           profiles, sessions, workflows, options, generate, generations
  frontend/src/pages/ComfyUI.tsx        the page's order of calls, the parameters it sends, the 'completed' poll
  frontend/src/components/comfyui/      GenerationCard (the image URL), WorkflowJSONViewer (generation workflow),
                                        SessionsSidebar, WorkflowSelector
  frontend/src/pages/ComfyUIWorkflows.tsx   workflow create/update/default/delete (workflowJson as JSON text)
  frontend/src/types/comfyui.ts         the types the answers are read as
None of their code is copied here; the requests are rewritten from reading it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from support import AUTH_ENV, get, household, request

API = "/cozygen/compat/spoonfeeder/api"  # the client's API_BASE, with the base URL changed
FORM = "cozygen_procedural_form.json"
PNG = b"\x89PNG\r\n\x1a\n"
JSON_HEADERS = {"Content-Type": "application/json"}
# types/comfyui.ts DEFAULT_GENERATION_PARAMETERS, the page's starting parameters
CLIENT_DEFAULTS = {"width": 512, "height": 512, "steps": 20, "cfg_scale": 7.0, "seed": -1, "sampler_name": "euler",
                   "scheduler": "normal", "batch_size": 1}  # fmt: skip
STATUSES = ("pending", "running", "completed", "failed")
# A plain ComfyUI graph as a Spoon Feeder user uploads it: its prompt is a node input, no CozyGen form.
PLAIN = {
    "1": {"class_type": "CozyGenProceduralImage",
          "inputs": {"width": 64, "height": 64, "seed": 1, "text": "to be replaced", "steps": 2, "batch_size": 1}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "spoonfeeder_plain"}},
}  # fmt: skip


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui(
        "ComfyUI-CozyGen-spoonfeeder-client",
        env=AUTH_ENV,
    )


@pytest.fixture(scope="module")
def people(server) -> dict[str, dict[str, str]]:
    """The admin and one user, each as an Authorization header."""
    return household(server.url, {"sam": "user"})


# -- the client's calls, as its code builds them ---------------------------------------------------------------


def url(server, path: str) -> str:
    """The URL ``fetch`` requests: the browser percent-encodes what a path may not hold (a workflow id is its
    file name here, spaces included)."""
    return f"{server.url}{API}{quote(path, safe='/?&=%')}"


def fetch(server, path: str, auth: dict[str, str]) -> Any:
    """``fetch(url)`` then ``res.json()``: a GET with no body and no Content-Type."""
    reply = get(url(server, path), headers=auth)
    assert reply.content_type == "application/json", (path, reply.status, reply.body[:200])
    return reply.json()


def send(server, method: str, path: str, body: dict[str, Any], auth: dict[str, str]) -> Any:
    """``fetch(url, {method, headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)})``."""
    raw = json.dumps({k: v for k, v in body.items() if v is not None}).encode()  # undefined fields are left out
    reply = request(method, url(server, path), raw=raw, headers={**JSON_HEADERS, **auth})
    assert reply.content_type == "application/json", (path, reply.status, reply.body[:200])
    return reply.json()


def delete(server, path: str, auth: dict[str, str]) -> Any:
    """``fetch(url, {method: 'DELETE'})``."""
    return request("DELETE", url(server, path), headers=auth).json()


def succeeded(result: Any) -> Any:
    """``if (!result.success) throw new Error(result.error); return result.data``."""
    assert isinstance(result, dict) and result.get("success") is True, result
    return result.get("data")


# -- the types the client reads the answers as (types/comfyui.ts) ----------------------------------------------


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_date(value: Any) -> bool:
    """A string ``new Date(...)`` reads."""
    if not isinstance(value, str):
        return False
    dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def optional(check: Any, value: Any) -> bool:
    return value is None or check(value)


def check_profile(found: dict[str, Any]) -> None:
    assert isinstance(found["id"], str) and found["id"] and isinstance(found["name"], str), found
    assert optional(lambda u: isinstance(u, str), found.get("url")), found


def check_parameters(found: Any) -> None:
    """GenerationParameters, as the page spreads it into its own (a null would replace a default)."""
    assert isinstance(found, dict), found
    numbers = {k: v for k, v in found.items() if k in ("width", "height", "steps", "seed", "batch_size")}
    assert all(is_int(v) for v in numbers.values()), found
    assert all(is_number(found[k]) for k in ("cfg_scale",) if k in found), found
    assert all(isinstance(found[k], str) for k in ("sampler_name", "scheduler", "checkpoint_name") if k in found)


def check_session(found: dict[str, Any]) -> None:
    assert isinstance(found["id"], str) and isinstance(found["profile_id"], str) and isinstance(found["title"], str)
    assert optional(lambda v: isinstance(v, str), found.get("profile_name"))
    assert optional(lambda v: isinstance(v, str), found.get("profile_url"))
    assert optional(lambda v: isinstance(v, str), found.get("current_workflow_id"))
    check_parameters(found["last_parameters"])
    assert all(is_int(found[k]) for k in ("generation_count", "completed_count", "failed_count")), found
    assert is_date(found["created_at"]) and is_date(found["updated_at"]), found


def check_generation(found: dict[str, Any]) -> None:
    text = lambda v: isinstance(v, str)  # noqa: E731
    assert text(found["id"]) and text(found["session_id"]) and text(found["prompt_text"]), found
    for key in ("workflow_id", "prompt_id", "negative_prompt", "sampler_name", "scheduler", "checkpoint_name", "error"):
        assert optional(text, found.get(key)), (key, found)
    for key in ("width", "height", "steps", "seed"):
        assert optional(is_int, found.get(key)), (key, found)
    assert optional(is_number, found.get("cfg_scale")) and optional(is_number, found.get("generation_time_seconds"))
    assert isinstance(found["parameters"], dict) and is_int(found["batch_size"]) and is_int(found["batch_index"])
    assert isinstance(found["loras_used"], list) and found["status"] in STATUSES, found
    assert isinstance(found["outputs"], list), found
    for output in found["outputs"]:
        assert all(isinstance(output[k], str) for k in ("filename", "subfolder", "type")), output
    assert is_date(found["created_at"]) and optional(is_date, found.get("completed_at")), found


def check_workflow(found: dict[str, Any]) -> None:
    assert isinstance(found["id"], str) and isinstance(found["name"], str), found
    assert optional(lambda v: isinstance(v, str), found.get("profile_id"))
    assert optional(lambda v: isinstance(v, str), found.get("description"))
    assert isinstance(json.loads(found["workflow_json"]), dict), found  # the workflows page JSON.parses it
    assert isinstance(found["default_parameters"], dict) and isinstance(found["extracted_parameters"], list)
    for parameter in found["extracted_parameters"]:
        assert isinstance(parameter["nodeId"], str) and isinstance(parameter["field"], str), parameter
        assert isinstance(parameter["label"], str) and parameter["type"] in ("string", "number", "seed", "select")
        assert "value" in parameter and isinstance(parameter.get("options", []), list), parameter
        assert optional(is_number, parameter.get("min")) and optional(is_number, parameter.get("max")), parameter
    assert optional(lambda v: isinstance(v, str), found.get("thumbnail_url"))
    assert isinstance(found["is_default"], bool) and is_int(found["generation_count"]), found
    assert is_date(found["created_at"]) and is_date(found["updated_at"]), found


def check_options(found: dict[str, Any]) -> None:
    for key in ("samplers", "schedulers", "checkpoints", "loras"):
        assert isinstance(found[key], list) and all(isinstance(v, str) for v in found[key]), key
    assert "euler" in found["samplers"] and "normal" in found["schedulers"]
    dimensions = found["dimensions"]
    assert dimensions["common"] and all(is_int(v) for v in dimensions["common"]), dimensions
    assert dimensions["sdxl_optimal"], dimensions
    for size in dimensions["sdxl_optimal"]:
        assert is_int(size["width"]) and is_int(size["height"]) and isinstance(size["label"], str), size


def poll(server, generation_id: str, auth: dict[str, str], attempts: int = 240) -> dict[str, Any]:
    """The page's pollGeneration: GET the generation until its status is 'completed' or 'failed'."""
    for _ in range(attempts):
        found = succeeded(fetch(server, f"/comfyui/generations/{generation_id}", auth))
        check_generation(found)
        if found["status"] in ("completed", "failed"):
            return found
        time.sleep(0.5)
    raise AssertionError(f"generation {generation_id} never ended: {found}")


def new_session(server, auth: dict[str, str]) -> dict[str, Any]:
    """The page's handleCreateSession: the profile picked in the modal, an automatic title."""
    [profile] = fetch(server, "/profiles?provider=comfyui", auth)["data"]
    title = f"{profile['name']} - 12/5/2026, 4:10:52 AM"
    made = succeeded(send(server, "POST", "/comfyui/sessions", {"profileId": profile["id"], "title": title}, auth))
    check_session(made)
    assert made["title"] == title and made["profile_id"] == profile["id"]
    return made


# -- the tests ----------------------------------------------------------------------------------------------


def test_the_comfyui_page_from_profiles_to_a_completed_image(server, people) -> None:
    sam = people["sam"]
    profiles = fetch(server, "/profiles?provider=comfyui", sam)
    assert profiles["success"] is True and len(profiles["data"]) == 1
    check_profile(profiles["data"][0])
    assert profiles["data"][0]["url"] == server.url
    assert fetch(server, "/profiles?provider=ollama", sam)["data"] == []
    for session in fetch(server, "/comfyui/sessions", sam)["data"]:
        check_session(session)
    workflows = fetch(server, "/comfyui/workflows", sam)["data"]
    for workflow in workflows:
        check_workflow(workflow)
    assert FORM in {w["id"] for w in workflows}
    check_options(fetch(server, "/comfyui/options", sam)["data"])

    session = new_session(server, sam)
    opened = fetch(server, f"/comfyui/sessions/{session['id']}", sam)["data"]
    check_session(opened)
    assert opened["generations"] == [] and opened["profile_name"] and opened["profile_url"] == server.url
    parameters = {**CLIENT_DEFAULTS, **opened["last_parameters"], "steps": 4}  # the user moves the steps slider
    body = {"prompt_text": "a lighthouse at dusk", "negative_prompt": "fog", "parameters": parameters}
    started = succeeded(send(server, "POST", f"/comfyui/sessions/{session['id']}/generate", body, sam))
    check_generation(started)
    assert started["prompt_text"] == "a lighthouse at dusk" and started["status"] in ("pending", "running")
    assert started["negative_prompt"] is None  # the procedural form has no negative prompt: not claimed

    done = poll(server, started["id"], sam)
    assert done["status"] == "completed" and done["outputs"] and done["error"] is None, done
    assert done["prompt_text"] == "a lighthouse at dusk" and is_int(done["seed"]) and done["seed"] >= 0
    for output in done["outputs"]:  # GenerationCard's <img src>, built with no URL-encoding
        query = f"subfolder={output['subfolder']}&type={output['type']}"
        image = get(url(server, f"/comfyui/image/{output['filename']}?{query}"), headers=sam)
        assert image.status == 200 and image.content_type == "image/png" and image.body.startswith(PNG)

    ran = succeeded(fetch(server, f"/comfyui/generations/{started['id']}/workflow", sam))  # WorkflowJSONViewer
    assert isinstance(ran["workflow_json"], dict) and isinstance(ran["parameters"], dict), ran
    assert ran["prompt_text"] == "a lighthouse at dusk"
    prompts = [n["inputs"].get("value") for n in ran["workflow_json"].values() if n["class_type"] == "CozyGenString"]
    assert "a lighthouse at dusk" in prompts, ran["workflow_json"]  # the text reached the workflow's prompt

    again = fetch(server, f"/comfyui/sessions/{session['id']}", sam)["data"]
    check_session(again)
    [shown] = again["generations"]
    check_generation(shown)
    assert shown["status"] == "completed" and shown["outputs"] == done["outputs"]
    assert (again["generation_count"], again["completed_count"], again["failed_count"]) == (1, 1, 0)
    assert again["last_parameters"]["seed"] == done["seed"]
    listed = {s["id"]: s for s in fetch(server, "/comfyui/sessions", sam)["data"]}
    assert listed[session["id"]]["completed_count"] == 1  # SessionsSidebar's "1 images"

    renamed = send(server, "PUT", f"/comfyui/sessions/{session['id']}", {"title": "Lighthouses"}, sam)["data"]
    check_session(renamed)
    assert renamed["title"] == "Lighthouses"
    assert succeeded(delete(server, f"/comfyui/generations/{started['id']}", sam)) is None
    assert fetch(server, f"/comfyui/sessions/{session['id']}", sam)["data"]["generations"] == []
    delete(server, f"/comfyui/sessions/{session['id']}", sam)
    assert session["id"] not in {s["id"] for s in fetch(server, "/comfyui/sessions", sam)["data"]}


def test_the_dashboards_health_check(server, people) -> None:
    """services/api.ts healthApi.check: fetchApi('/health') with its Content-Type; the dashboard reads the
    top-level ``timestamp`` (the real backend's ``{status: 'ok', timestamp}``)."""
    reply = get(url(server, "/health"), headers={**JSON_HEADERS, **people["sam"]})
    assert reply.status == 200, reply.body
    health = reply.json()
    assert health["status"] == "ok" and is_date(health["timestamp"]), health
    assert health["data"]["status"] == "healthy"  # the seed document's shape, kept beside it


def test_a_plain_graph_from_the_workflows_page_gets_the_prompt(server, people) -> None:
    sam, admin = people["sam"], people["admin"]
    text = json.dumps(PLAIN, indent=2)  # the page's textarea: the graph as JSON text
    body = {"name": "Plain procedural", "description": "uploaded", "profileId": "local", "workflowJson": text}
    made = succeeded(send(server, "POST", "/comfyui/workflows", body, sam))
    check_workflow(made)
    assert json.loads(made["workflow_json"]) == PLAIN and made["name"] == "Plain procedural"
    assert {p["field"] for p in made["extracted_parameters"]} >= {"text", "seed", "steps"}
    listed = {w["id"]: w for w in fetch(server, "/comfyui/workflows", sam)["data"]}
    check_workflow(listed[made["id"]])
    assert json.loads(listed[made["id"]]["workflow_json"]) == PLAIN

    changed = {"name": "Plain procedural", "description": "edited", "profileId": "local", "workflowJson": text}
    updated = succeeded(send(server, "PUT", f"/comfyui/workflows/{made['id']}", changed, sam))
    check_workflow(updated)
    assert updated["description"] == "edited"
    # Making a workflow everyone's default is an admin's in CozyGen (the real Spoon Feeder has no users).
    refused = send(server, "PATCH", f"/comfyui/workflows/{made['id']}/parameters", {"is_default": True}, sam)
    assert refused["success"] is False and refused["code"] == "ADMIN_REQUIRED" and refused["error"], refused
    default = succeeded(
        send(server, "PATCH", f"/comfyui/workflows/{made['id']}/parameters", {"is_default": True}, admin)
    )
    check_workflow(default)
    assert default["is_default"] is True

    session = new_session(server, sam)
    parameters = {**CLIENT_DEFAULTS, "width": 64, "height": 64, "steps": 2}
    body = {"prompt_text": "a red kite", "workflow_id": made["id"], "parameters": parameters}
    started = succeeded(send(server, "POST", f"/comfyui/sessions/{session['id']}/generate", body, sam))
    check_generation(started)
    assert started["workflow_id"] == made["id"] and started["prompt_text"] == "a red kite"
    done = poll(server, started["id"], sam)
    assert done["status"] == "completed" and done["prompt_text"] == "a red kite", done
    ran = succeeded(fetch(server, f"/comfyui/generations/{started['id']}/workflow", sam))
    assert ran["workflow_json"]["1"]["inputs"]["text"] == "a red kite" and ran["prompt_text"] == "a red kite"
    opened = fetch(server, f"/comfyui/sessions/{session['id']}", sam)["data"]
    assert opened["current_workflow_id"] == made["id"]  # the page selects it when the session opens again

    assert succeeded(delete(server, f"/comfyui/workflows/{made['id']}", sam)) is not None
    assert made["id"] not in {w["id"] for w in fetch(server, "/comfyui/workflows", sam)["data"]}


def test_both_prompts_reach_a_plain_samplers_text_encoders(server, people) -> None:
    """A KSampler graph (a checkpoint that is no model: it fails in ComfyUI, after the graph is recorded)."""
    sam = people["sam"]
    (server.base / "models" / "checkpoints").mkdir(parents=True, exist_ok=True)
    (server.base / "models" / "checkpoints" / "broken.safetensors").write_bytes(b"not a model")
    assert get(f"{server.url}/cozygen/get_choices?type=checkpoints&refresh=1", headers=sam).status == 200
    graph = {
        "3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 2, "cfg": 7.0, "sampler_name": "euler",
              "scheduler": "normal", "denoise": 1.0, "model": ["4", 0], "positive": ["6", 0],
              "negative": ["7", 0], "latent_image": ["5", 0]}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "broken.safetensors"}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "old positive", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "old negative", "clip": ["4", 1]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "spoonfeeder_sampler"}},
    }  # fmt: skip
    made = succeeded(
        send(server, "POST", "/comfyui/workflows", {"name": "Sampler", "workflowJson": json.dumps(graph)}, sam)
    )
    session = new_session(server, sam)
    body = {"prompt_text": "a harbour", "negative_prompt": "blur", "workflow_id": made["id"],
            "parameters": {**CLIENT_DEFAULTS, "checkpoint_name": "broken.safetensors"}}  # fmt: skip
    started = succeeded(send(server, "POST", f"/comfyui/sessions/{session['id']}/generate", body, sam))
    check_generation(started)
    assert (started["prompt_text"], started["negative_prompt"]) == ("a harbour", "blur"), started
    ran = succeeded(fetch(server, f"/comfyui/generations/{started['id']}/workflow", sam))["workflow_json"]
    assert (ran["6"]["inputs"]["text"], ran["7"]["inputs"]["text"]) == ("a harbour", "blur"), ran
    done = poll(server, started["id"], sam)
    assert done["status"] == "failed" and isinstance(done["error"], str) and done["error"], done
    assert (done["prompt_text"], done["negative_prompt"]) == ("a harbour", "blur")
    shown = fetch(server, f"/comfyui/sessions/{session['id']}", sam)["data"]
    assert (shown["generation_count"], shown["completed_count"], shown["failed_count"]) == (1, 0, 1)
