"""Spoon Feeder (seed 003) sessions, generations, images, history and health, against a real ComfyUI with the
weights-free procedural workflow."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from support import PROJECT, get, post, request

BASE = "/cozygen/compat/spoonfeeder/api"
PNG = b"\x89PNG\r\n\x1a\n"
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-spoonfeeder")


def api(server) -> str:
    return f"{server.url}{BASE}"


def data(reply, status: int = 200) -> Any:
    assert reply.status == status, reply.body
    body = reply.json()
    assert body["success"] is True, body
    return body["data"]


def new_session(server, title: str) -> dict[str, Any]:
    made = data(post(f"{api(server)}/comfyui/sessions", {"profileId": "local", "title": title}), 201)
    assert made["title"] == title and made["generation_count"] == 0
    return made


def generate(server, session_id: str, **body: Any):
    payload = {"prompt_text": "a lighthouse at dusk", **body}
    return post(f"{api(server)}/comfyui/sessions/{session_id}/generate", payload)


def generation(server, generation_id: str) -> dict[str, Any]:
    return data(get(f"{api(server)}/comfyui/generations/{generation_id}"))


def wait_done(server, generation_id: str, timeout: float = 120) -> tuple[dict[str, Any], list[str]]:
    """Poll the generation until it is completed or failed; it and every status seen on the way."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        current = generation(server, generation_id)
        if not seen or seen[-1] != current["status"]:
            seen.append(current["status"])
        if current["status"] in ("completed", "failed"):
            return current, seen
        assert time.monotonic() < deadline, (seen, current)
        time.sleep(0.02)


def refused(reply, status: int, code: str | None = None) -> dict[str, Any]:
    """A refusal in Spoon Feeder's error shape, with CozyGen's code."""
    assert reply.status == status, reply.body
    body = reply.json()
    assert body["success"] is False and body["statusCode"] == status and body["error"], body
    if code is not None:
        assert body["code"] == code, body
    return body


def test_sessions_are_created_listed_read_renamed_and_deleted(server) -> None:
    made = new_session(server, "Landscape Concepts")
    other = new_session(server, "Character Designs")
    assert made["id"] != other["id"] and made["profile_id"] == "local" and made["created_at"].endswith("Z")
    listed = {s["id"]: s for s in data(get(f"{api(server)}/comfyui/sessions"))}
    assert {made["id"], other["id"]} <= set(listed)
    shown = listed[made["id"]]
    assert shown["title"] == "Landscape Concepts" and shown["profile_url"] == server.url
    assert (shown["generation_count"], shown["completed_count"], shown["failed_count"]) == (0, 0, 0)
    assert shown["current_workflow_id"] is None and shown["last_parameters"] == {}

    renamed = data(request("PUT", f"{api(server)}/comfyui/sessions/{made['id']}", {"title": "Mountain Landscapes"}))
    assert renamed["id"] == made["id"] and renamed["title"] == "Mountain Landscapes"
    assert renamed["updated_at"] >= made["created_at"]
    one = data(get(f"{api(server)}/comfyui/sessions/{made['id']}"))
    assert one["title"] == "Mountain Landscapes" and one["generations"] == []
    assert one["updated_at"] == renamed["updated_at"]
    # The same session in CozyGen's native API.
    native = get(f"{server.url}/cozygen/api/sessions/{made['id']}").json()["session"]
    assert native["name"] == "Mountain Landscapes"

    gone = request("DELETE", f"{api(server)}/comfyui/sessions/{other['id']}")
    assert gone.status == 200 and gone.json() == {"success": True, "message": "Session deleted"}
    assert other["id"] not in {s["id"] for s in data(get(f"{api(server)}/comfyui/sessions"))}
    refused(get(f"{api(server)}/comfyui/sessions/{other['id']}"), 404, "SESSION_NOT_FOUND")
    refused(request("DELETE", f"{api(server)}/comfyui/sessions/{other['id']}"), 404, "SESSION_NOT_FOUND")
    untitled = refused(post(f"{api(server)}/comfyui/sessions", {"title": "  "}), 400, "INVALID_VALUES")
    assert "title" in untitled["fields"]
    refused(request("PUT", f"{api(server)}/comfyui/sessions/{made['id']}", {"title": 5}), 400, "INVALID_VALUES")


def test_a_session_on_an_unknown_or_disabled_profile_is_refused_in_the_seeds_shape(server) -> None:
    """(A session on another backend's profile runs there: tests/integration/test_backends_outputs.py.)"""
    for unknown in ("no-such-profile", 5):
        body = refused(post(f"{api(server)}/comfyui/sessions", {"profileId": unknown, "title": "x"}), 404)
        assert body["code"] == "PROFILE_NOT_FOUND" and f"Profile {unknown} not found" in body["error"], body
    off = post(f"{server.url}/cozygen/api/backends", {"name": "off", "url": server.url, "enabled": False})
    assert off.status == 201, off.body
    try:
        body = refused(post(f"{api(server)}/comfyui/sessions", {"profileId": off.json()["id"], "title": "x"}), 400)
        assert body["code"] == "PROFILE_DISABLED" and "Profile off is disabled" in body["error"], body
    finally:
        request("DELETE", f"{server.url}/cozygen/api/backends/{off.json()['id']}")
    assert "x" not in {s["title"] for s in data(get(f"{api(server)}/comfyui/sessions"))}  # nothing made
    made = new_session(server, "Here")
    assert (made["profile_id"], made["profile_name"], made["profile_url"]) == ("local", "This ComfyUI", server.url)


def test_generate_on_the_procedural_workflow_from_request_to_downloaded_images(server) -> None:
    session = new_session(server, "Lighthouses")
    reply = generate(
        server,
        session["id"],
        negative_prompt="blurry",
        parameters={"width": 128, "height": 128, "steps": 4, "seed": -1, "batch_size": 2, "cfg_scale": 7},
    )
    submitted = data(reply, 201)
    seed = submitted["seed"]
    assert isinstance(seed, int) and seed >= 0, submitted  # -1 resolved: the seed that runs
    assert submitted["parameters"]["seed"] == seed and submitted["session_id"] == session["id"]
    assert submitted["workflow_id"] == "cozygen_procedural_form.json" and submitted["checkpoint_name"] == "procedural"
    assert (submitted["width"], submitted["height"], submitted["steps"]) == (128, 128, 4)
    assert submitted["cfg_scale"] is None  # the procedural workflow has no guidance: not claimed
    assert submitted["batch_size"] == 2 and submitted["prompt_text"] == "a lighthouse at dusk"
    assert submitted["status"] in ("pending", "running") and submitted["outputs"] == []

    done, seen = wait_done(server, submitted["id"])
    assert seen[-1] == "completed" and done["error"] is None, (seen, done)
    assert done["seed"] == seed and done["generation_time_seconds"] >= 0 and done["completed_at"].endswith("Z")
    assert len(done["outputs"]) == 2, done
    bodies = []
    for output in done["outputs"]:
        assert output["type"] == "output" and output["subfolder"] == "CozyGen"
        query = f"subfolder={quote(output['subfolder'])}&type=output"
        image = get(f"{api(server)}/comfyui/image/{quote(output['filename'])}?{query}")
        assert image.status == 200 and image.content_type == "image/png" and image.body.startswith(PNG)
        bodies.append(image.body)
    assert bodies[0] != bodies[1]  # seed + i: two different images
    saved = server.output_dir / done["outputs"][0]["subfolder"] / done["outputs"][0]["filename"]
    assert bodies[0] == saved.read_bytes()

    ran = data(get(f"{api(server)}/comfyui/generations/{submitted['id']}/workflow"))
    assert ran["generation_id"] == submitted["id"] and ran["parameters"]["seed"] == seed
    assert ran["workflow_json"]["2"]["inputs"]["seed"] == seed  # the exact graph, seed resolved
    assert ran["workflow_json"]["4"]["inputs"]["value"] == 128 and ran["prompt_text"] == "a lighthouse at dusk"

    shown = data(get(f"{api(server)}/comfyui/sessions/{session['id']}"))
    assert [g["id"] for g in shown["generations"]] == [submitted["id"]]
    assert shown["generations"][0]["status"] == "completed" and shown["generations"][0]["outputs"] == done["outputs"]
    assert (shown["generation_count"], shown["completed_count"], shown["failed_count"]) == (1, 1, 0)
    assert shown["last_parameters"]["seed"] == seed and shown["last_parameters"]["batch_size"] == 2
    assert shown["current_workflow_id"] is None  # no workflow_id was chosen

    gone = request("DELETE", f"{api(server)}/comfyui/generations/{submitted['id']}")
    assert gone.status == 200 and gone.json() == {"success": True, "message": "Generation deleted"}
    refused(get(f"{api(server)}/comfyui/generations/{submitted['id']}"), 404)
    refused(get(f"{api(server)}/comfyui/generations/{submitted['id']}/workflow"), 404)
    assert saved.is_file()  # the record goes, the image stays
    assert data(get(f"{api(server)}/comfyui/sessions/{session['id']}"))["generations"] == []


def test_a_given_seed_runs_and_the_same_seed_gives_the_same_image(server) -> None:
    session = new_session(server, "Seeds")
    made = []
    for seed in (77, 78, 77):
        parameters = {"width": 64, "height": 64, "steps": 2, "seed": seed}
        submitted = data(generate(server, session["id"], parameters=parameters), 201)
        assert submitted["seed"] == seed
        done, _ = wait_done(server, submitted["id"])
        [output] = done["outputs"]
        image = get(f"{api(server)}/comfyui/image/{quote(output['filename'])}?subfolder=CozyGen")
        assert image.status == 200 and image.body.startswith(PNG)
        made.append(pixels(image.body))
    assert made[0] == made[2] and made[0] != made[1]


def pixels(png: bytes) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return image.convert("RGB").tobytes()


def save_failing_workflow(server) -> str:
    """A procedural form whose steps feed a second range check ComfyUI can only make while running."""
    graph = json.loads((PROJECT / "workflows" / "cozygen_procedural_form.json").read_text())
    graph["3"]["inputs"].update({"min": 1, "max": 100})
    graph["7"] = {"class_type": "CozyGenInt", "inputs": {"param_name": "inner", "value": ["3", 0], "min": 1, "max": 50}}
    graph["5"]["inputs"]["steps"] = ["7", 0]
    made = post(f"{api(server)}/comfyui/workflows", {"name": "fails at run time", "workflowJson": graph})
    return data(made, 201)["id"]


def test_a_prompt_failing_in_comfyui_is_reported_failed_with_its_reason(server) -> None:
    workflow_id = save_failing_workflow(server)
    session = new_session(server, "Failures")
    submitted = data(
        generate(server, session["id"], workflow_id=workflow_id, parameters={"steps": 80, "width": 64}), 201
    )
    assert submitted["workflow_id"] == workflow_id and submitted["steps"] == 80
    done, seen = wait_done(server, submitted["id"])
    assert done["status"] == "failed" and "completed" not in seen, (seen, done)
    assert "80 is outside the allowed range 1 to 50" in done["error"] and done["outputs"] == []
    shown = data(get(f"{api(server)}/comfyui/sessions/{session['id']}"))
    assert (shown["generation_count"], shown["completed_count"], shown["failed_count"]) == (1, 0, 1)
    assert shown["current_workflow_id"] == workflow_id  # chosen once, the session's workflow from now on
    again = data(generate(server, session["id"], parameters={"steps": 5, "width": 64}), 201)
    assert again["workflow_id"] == workflow_id
    assert wait_done(server, again["id"])[0]["status"] == "completed"
    exported = data(get(f"{api(server)}/tasks/history/export?format=json"))
    rows = {row["id"]: row for row in exported["content"]}
    assert rows[submitted["id"]]["status"] == "failed" and "allowed range" in rows[submitted["id"]]["error"]
    assert rows[again["id"]]["status"] == "complete" and rows[again["id"]]["error"] is None


def test_bad_parameters_are_refused_by_field_and_queue_nothing(server) -> None:
    session = new_session(server, "Refusals")
    cases = [
        ({"parameters": {"width": 13, "height": 13}}, "width"),
        ({"parameters": {"steps": 500}}, "steps"),
        ({"parameters": {"steps": "many"}}, "steps"),
        ({"parameters": {"width": 128, "height": 256}}, "height"),
        ({"parameters": {"batch_size": 9}}, "batch_size"),
        ({"parameters": {"seed": "lucky"}}, "seed"),
        ({"parameters": {"checkpoint_name": "sd_xl_base_1.0.safetensors"}}, "checkpoint_name"),
        ({"parameters": [1, 2]}, "parameters"),
        ({"prompt_text": ""}, "prompt_text"),
        ({"workflow_id": "no such workflow.json"}, "workflow_id"),
    ]
    for body, field in cases:
        error = refused(generate(server, session["id"], **body), 400, "INVALID_VALUES")
        assert field in error["fields"] and field in error["error"], (body, error)
    assert data(get(f"{api(server)}/comfyui/sessions/{session['id']}"))["generation_count"] == 0
    missing = refused(generate(server, MISSING), 404, "SESSION_NOT_FOUND")
    assert MISSING in missing["error"]
    refused(get(f"{api(server)}/comfyui/generations/{MISSING}"), 404, "JOB_NOT_FOUND")
    refused(request("DELETE", f"{api(server)}/comfyui/generations/{MISSING}"), 404, "JOB_NOT_FOUND")
    refused(get(f"{api(server)}/comfyui/generations/not-an-id/workflow"), 404)
    garbled = post(
        f"{api(server)}/comfyui/sessions/{session['id']}/generate",
        raw=b"{oops",
        headers={"Content-Type": "application/json"},
    )
    refused(garbled, 400, "INVALID_JSON")


def test_busy_generations_and_sessions_are_not_deleted(server) -> None:
    session = new_session(server, "Busy")
    big = {"width": 1024, "height": 1024, "steps": 50, "batch_size": 2}
    submitted = data(generate(server, session["id"], parameters=big), 201)
    busy = refused(request("DELETE", f"{api(server)}/comfyui/generations/{submitted['id']}"), 409, "JOB_NOT_FINISHED")
    assert "cancel" in busy["error"]
    refused(request("DELETE", f"{api(server)}/comfyui/sessions/{session['id']}"), 409, "SESSION_BUSY")
    assert wait_done(server, submitted["id"], timeout=300)[0]["status"] == "completed"
    assert request("DELETE", f"{api(server)}/comfyui/sessions/{session['id']}").status == 200
    refused(get(f"{api(server)}/comfyui/generations/{submitted['id']}"), 404)  # its generations went with it


def test_the_image_proxy_serves_only_images_inside_comfyuis_folders(server) -> None:
    (server.base / "secret.png").write_bytes(PNG + b"TOPSECRET")
    (server.input_dir / "upload.png").write_bytes(PNG + b"input")
    (server.output_dir / "notes.txt").write_text("not an image")
    (server.output_dir / "escape").symlink_to(server.base, target_is_directory=True)
    url = f"{api(server)}/comfyui/image"

    served = get(f"{url}/upload.png?type=input")
    assert served.status == 200 and served.body == PNG + b"input"
    temp = server.base / "temp" / "temp"  # ComfyUI puts its temp folder inside --temp-directory
    temp.mkdir(parents=True, exist_ok=True)
    (temp / "preview.png").write_bytes(PNG + b"temp")
    assert get(f"{url}/preview.png?type=temp").body == PNG + b"temp"
    refused(get(f"{url}/preview.png"), 404, "FILE_NOT_FOUND")  # output unless told
    for attempt in (
        f"{url}/secret.png?subfolder=..",
        f"{url}/secret.png?subfolder=../output/..",
        f"{url}/secret.png?subfolder=%2Ftmp",
        f"{url}/secret.png?subfolder=escape",
        f"{url}/..%2Fsecret.png",
        f"{url}/%2E%2E?subfolder=..",
    ):
        reply = get(attempt)
        assert reply.status in (400, 404) and b"TOPSECRET" not in reply.body, (attempt, reply.status)
    refused(get(f"{url}/secret.png?subfolder=.."), 400, "INVALID_PATH")
    refused(get(f"{url}/secret.png?subfolder=escape"), 400, "INVALID_PATH")
    refused(get(f"{url}/secret.png"), 404, "FILE_NOT_FOUND")
    refused(get(f"{url}/notes.txt"), 400, "NOT_MEDIA")
    refused(get(f"{url}/upload.png?type=models"), 400, "INVALID_TYPE")


def test_history_export_in_json_and_csv(server) -> None:
    session = new_session(server, "Export")
    parameters = {"width": 64, "height": 64, "steps": 1, "seed": 5}
    submitted = data(generate(server, session["id"], parameters=parameters), 201)
    done, _ = wait_done(server, submitted["id"])
    exported = data(get(f"{api(server)}/tasks/history/export"))
    assert exported["filename"].startswith("tasks_export_") and exported["filename"].endswith(".json")
    [row] = [r for r in exported["content"] if r["id"] == submitted["id"]]
    path = f"{done['outputs'][0]['subfolder']}/{done['outputs'][0]['filename']}"
    assert row == {
        **row,
        "type": "image",
        "provider": "comfyui",
        "prompt": "a lighthouse at dusk",
        "model": "procedural",
        "seed": 5,
        "status": "complete",
        "error": None,
        "images": [path],
    }
    assert row["created_at"].endswith("Z") and row["completed_at"] >= row["created_at"]

    sheet = get(f"{api(server)}/tasks/history/export?format=csv")
    assert sheet.status == 200 and sheet.content_type == "text/csv"
    assert 'filename="tasks_export_' in sheet.headers["Content-Disposition"]
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(sheet.body.decode()))}
    assert rows[submitted["id"]]["status"] == "complete" and rows[submitted["id"]]["images"] == path

    later = data(get(f"{api(server)}/tasks/history/export?dateFrom=2999-01-01"))
    assert later["content"] == []
    earlier = data(get(f"{api(server)}/tasks/history/export?dateTo=2000-01-01"))
    assert earlier["content"] == []
    refused(get(f"{api(server)}/tasks/history/export?format=xml"), 400, "INVALID_FORMAT")
    refused(get(f"{api(server)}/tasks/history/export?dateFrom=yesterday"), 400, "INVALID_DATE")


def test_health_in_the_seeds_shape(server) -> None:
    health = data(get(f"{api(server)}/health"))
    assert health["status"] == "healthy" and health["timestamp"].endswith("Z")
    assert health["services"] == {
        "database": "connected",
        "redis": "not_used",
        "ollama": "not_used",
        "comfyui": "connected",
    }


def test_existing_workflow_routes_answer_errors_in_the_seeds_shape(server) -> None:
    missing = refused(get(f"{api(server)}/comfyui/workflows/no-such.json"), 404)
    assert missing["code"]
    refused(post(f"{api(server)}/comfyui/workflows", {"workflowJson": {}}), 400, "MISSING_NAME")


def test_a_checkpoint_runs_on_the_txt2img_workflow_with_spoon_feeders_parameters(start_comfyui) -> None:
    host = start_comfyui("ComfyUI-CozyGen-spoonfeeder-checkpoint")
    (host.base / "models" / "checkpoints").mkdir(parents=True, exist_ok=True)
    (host.base / "models" / "checkpoints" / "broken.safetensors").write_bytes(b"not a model")
    assert get(f"{host.url}/cozygen/get_choices?type=checkpoints&refresh=1").status == 200
    session = new_session(host, "Checkpoints")
    parameters = {"width": 512, "height": 768, "steps": 3, "cfg_scale": 6.5, "seed": 9, "sampler_name": "euler",
                  "scheduler": "karras"}  # fmt: skip
    submitted = data(generate(host, session["id"], negative_prompt="fog", parameters=parameters), 201)
    assert submitted["workflow_id"] == "sd15_txt2img.json" and submitted["checkpoint_name"] == "broken.safetensors"
    assert submitted["parameters"] == parameters and submitted["negative_prompt"] == "fog"
    ran = data(get(f"{api(host)}/comfyui/generations/{submitted['id']}/workflow"))["workflow_json"]
    sampler = next(node["inputs"] for node in ran.values() if node["class_type"] == "KSampler")
    assert sampler["denoise"] == 1.0 and ran[sampler["seed"][0]]["inputs"]["seed"] == 9
    done, _ = wait_done(host, submitted["id"])
    assert done["status"] == "failed" and done["error"], done  # a file that is no model fails in ComfyUI
    bad = refused(generate(host, session["id"], parameters={"cfg_scale": 50, "scheduler": "Karras"}), 400)
    assert {"cfg_scale", "scheduler"} <= set(bad["fields"]), bad
    procedural = data(generate(host, session["id"], parameters={"checkpoint_name": "procedural", "width": 64}), 201)
    assert procedural["workflow_id"] == "cozygen_procedural_form.json"
