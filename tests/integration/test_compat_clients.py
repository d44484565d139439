"""The real clients of DreamLayer (seed 000), AI Playground (seed 001) and CyberImage (seed 002, its REST client),
replayed against a real ComfyUI with CozyGen, auth on and outputs per user.

Each test sends the requests the client's own source sends (method, path, headers, body), with the base URL
changed and, since auth is on, an ``Authorization: Bearer`` API credential added, and asserts every field that
client reads with the type it expects. Where each request comes from:
  DreamLayer   dream_layer_frontend/src/services/modelService.ts, components/tabs/txt2img/ImagePreview.tsx,
               components/controlnet/{ControlNetImageUpload,PreprocessorModelSelector}.tsx,
               features/Configurations/ConfigurationsPage.tsx (backend: dream_layer_backend/dream_layer.py)
  AI Playground  WebUI/electron/subprocesses/{aiBackendService,service,processLifecycle}.ts (``/healthy``),
               WebUI/src/assets/js/store/comfyUi.ts (checkWorkflowRequirements; the route was removed from the
               client later, its last callers are replayed)
  CyberImage   test_generate.py (the REST client of the routes under /api)
None of their code is copied here; the requests are rewritten from reading it.
"""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image
from support import AUTH_ENV, bearer, get, household, job_done, post

FORM = "cozygen_procedural_form.json"
PNG = b"\x89PNG\r\n\x1a\n"
DREAM = "/cozygen/compat/dreamlayer"  # the base URL DreamLayer's front end is given (it appends /api/...)
PLAYGROUND = "/cozygen/compat/aiplayground"  # AI Playground's ai-backend base URL
CYBER = "/cozygen/compat/cyberimage/api"  # test_generate.py's API_BASE


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui(
        "ComfyUI-CozyGen-clients",
        env=AUTH_ENV,
    )


@pytest.fixture(scope="module")
def people(server) -> dict[str, dict[str, str]]:
    """Admin, two users and a viewer, each as an Authorization header; outputs are per user."""
    return household(server.url, {"dana": "user", "bob": "user", "vic": "viewer"}, per_user=True)


def generated(server, headers: dict[str, str]) -> dict[str, Any]:
    """One output of a job of this user's (through CozyGen's own job API: DreamLayer generates elsewhere)."""
    values = {"prompt": "a harbour", "steps": 2, "size": 64, "seed": 5}
    return job_done(server.url, headers, FORM, values, timeout=60)["images"][0]


def is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


# --- DreamLayer ---------------------------------------------------------------------------------------------------


def test_dreamlayer_fetch_prompt_as_model_service_reads_it(server, people) -> None:
    # fetchRandomPrompt(type): fetch(`${API_BASE_URL}/api/fetch-prompt?type=${type}`); response.ok, data.status,
    # data.prompt (a string), data.message on a non-success
    for kind in ("positive", "negative"):
        reply = get(f"{server.url}{DREAM}/api/fetch-prompt?type={kind}", headers=people["vic"])
        assert reply.status == 200, reply.body
        data = reply.json()
        assert data["status"] == "success" and is_text(data["prompt"]), data
    both = get(f"{server.url}{DREAM}/api/fetch-prompt", headers=people["vic"]).json()  # the seed's shape
    assert is_text(both["positive"]) and isinstance(both["negative"], str) and "prompt" not in both
    bad = get(f"{server.url}{DREAM}/api/fetch-prompt?type=sideways", headers=people["vic"])
    assert bad.status == 400 and bad.json()["status"] == "error" and is_text(bad.json()["message"])
    assert bad.json()["code"] == "INVALID_PROMPT_TYPE"


def test_dreamlayer_model_lists_as_the_front_end_reads_them(server, people) -> None:
    checkpoints = server.base / "models" / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    (checkpoints / "dreamshaper_8.safetensors").write_bytes(b"0")
    controlnet = server.base / "models" / "controlnet"
    controlnet.mkdir(parents=True, exist_ok=True)
    (controlnet / "control_canny.safetensors").write_bytes(b"0")
    for folder in ("checkpoints", "controlnet"):
        get(f"{server.url}/cozygen/get_choices?type={folder}&refresh=1", headers=people["admin"])
    # fetchAvailableModels: response.ok, data.status === 'success', Array.isArray(data.models), {id, name, filename}
    models = get(f"{server.url}{DREAM}/api/models", headers=people["vic"])
    assert models.status == 200, models.body
    data = models.json()
    assert data["status"] == "success" and isinstance(data["models"], list)
    assert {"id": "dreamshaper_8.safetensors", "name": "dreamshaper_8", "filename": "dreamshaper_8.safetensors"} in (
        data["models"]
    )
    assert all(is_text(m["id"]) and is_text(m["name"]) and is_text(m["filename"]) for m in data["models"])
    # fetchLoraModels / fetchUpscalerModels: response.ok, data.models || [] of {id?, name?, filename}
    for path in ("lora-models", "upscaler-models"):
        reply = get(f"{server.url}{DREAM}/api/{path}", headers=people["vic"])
        assert reply.status == 200 and isinstance(reply.json()["models"], list), reply.body
        assert all(is_text(m["filename"]) for m in reply.json()["models"])
    # PreprocessorModelSelector: data.status === 'success', then data.models as string[] (each shown as text)
    control = get(f"{server.url}{DREAM}/api/controlnet/models", headers=people["vic"])
    assert control.status == 200 and control.json()["status"] == "success", control.body
    assert control.json()["models"] == ["control_canny.safetensors"]


def test_dreamlayer_send_to_img2img_then_the_image_in_a_subfolder(server, people) -> None:
    image = generated(server, people["dana"])
    assert image["subfolder"], image  # CozyGen's output node saves under CozyGen/
    filename = f"{image['subfolder']}/{image['filename']}"
    # ImagePreview.handleSendTo('img2img'): POST /api/send-to-img2img {filename}; result.status === 'success';
    # then fetch(`.../api/images/${filename}`).then(r => r.blob())
    for route in ("send-to-img2img", "send-to-extras"):
        sent = post(f"{server.url}{DREAM}/api/{route}", {"filename": filename}, headers=people["dana"])
        assert sent.status == 200 and sent.json()["status"] == "success", sent.body
    blob = get(f"{server.url}{DREAM}/api/images/{filename}", headers=people["dana"])
    assert blob.status == 200 and blob.body[:8] == PNG and blob.content_type == "image/png"
    encoded = get(f"{server.url}{DREAM}/api/images/{quote(filename, safe='')}", headers=people["dana"])
    assert encoded.status == 200 and encoded.body == blob.body

    # contained: another user's output is not there at all, by either route; a traversal is refused
    for headers in (people["bob"], people["vic"]):
        hidden = get(f"{server.url}{DREAM}/api/images/{filename}", headers=headers)
        assert hidden.status == 404 and hidden.json()["status"] == "error", hidden.body
    stolen = post(f"{server.url}{DREAM}/api/send-to-img2img", {"filename": filename}, headers=people["bob"])
    assert stolen.status == 404, stolen.body
    assert get(f"{server.url}{DREAM}/api/images/{filename}", headers=people["admin"]).status == 200
    for bad in ("CozyGen/%2E%2E/%2E%2E/secret.png", quote("../secret.png", safe=""), "CozyGen/..%2F..%2Fx.png"):
        refused = get(f"{server.url}{DREAM}/api/images/{bad}", headers=people["dana"])
        assert refused.status in (400, 404) and refused.json()["status"] == "error", (bad, refused.body)
    missing = get(f"{server.url}{DREAM}/api/images/CozyGen/none.png", headers=people["dana"])
    assert missing.status == 404 and missing.json()["message"] == "Image not found"


def upload_controlnet(server, headers: dict[str, str], data: bytes) -> tuple[int, dict[str, Any]]:
    """ControlNetImageUpload.uploadImageToServer: multipart {file, unit_index}, no other header."""
    import aiohttp

    async def send() -> tuple[int, dict[str, Any]]:
        form = aiohttp.FormData()
        form.add_field("file", data, filename="pose.png", content_type="image/png")
        form.add_field("unit_index", "0")
        async with aiohttp.ClientSession() as session:
            url = f"{server.url}{DREAM}/api/upload-controlnet-image"
            async with session.post(url, data=form, headers=headers) as response:
                return response.status, await response.json()

    return asyncio.run(send())


def test_dreamlayer_controlnet_upload_and_its_preview(server, people) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 200, 30)).save(buffer, "PNG")
    status, result = upload_controlnet(server, people["dana"], buffer.getvalue())
    # response.ok, result.status === 'success', result.filename; the preview is `.../api/images/${filename}`
    assert status == 200 and result["status"] == "success" and is_text(result["filename"]), result
    preview = get(f"{server.url}{DREAM}/api/images/{result['filename']}", headers=people["dana"])
    assert preview.status == 200 and preview.body[:8] == PNG
    assert get(f"{server.url}{DREAM}/api/images/{result['filename']}", headers=people["bob"]).status == 404


def test_dreamlayer_path_settings_answer_what_the_page_reads(server, people) -> None:
    # ConfigurationsPage.handleSaveSettings: POST JSON; data.status === 'success', else Error(data.message)
    body = {
        "outputDirectory": "/srv/out",
        "modelsDirectory": "/srv/models",
        "controlNetModelsPath": "",
        "upscalerModelsPath": "",
        "vaeModelsPath": "",
        "loraEmbeddingsPath": "",
        "filenameFormat": "[number]-[seed]",
        "saveMetadata": True,
    }
    reply = post(f"{server.url}{DREAM}/api/settings/paths", body, headers=people["admin"])
    data = reply.json()
    assert reply.status == 409 and data["status"] == "error" and "extra_model_paths.yaml" in data["message"]


# --- AI Playground ------------------------------------------------------------------------------------------------


def test_aiplayground_polls_healthy_without_credentials(server, people) -> None:
    # service.ts / processLifecycle.ts: fetch(healthEndpointUrl) with no header; only the 200 (response.ok) is read
    anonymous = get(f"{server.url}{PLAYGROUND}/healthy")
    assert anonymous.status == 200 and anonymous.json() == {"status": "ok", "health": "OK"}  # liveness, no more
    assert get(f"{server.url}/api{PLAYGROUND}/healthy").status == 200  # ComfyUI's /api copy too
    signed = get(f"{server.url}{PLAYGROUND}/healthy", headers=people["vic"]).json()
    assert signed["status"] == "ok" and is_text(signed["version"])
    forged = get(f"{server.url}{PLAYGROUND}/healthy", headers=bearer("not.a.jwt"))
    assert forged.status == 200 and "version" not in forged.json()


def test_aiplayground_check_workflow_requirements_as_its_client_posts_it(server, people) -> None:
    # comfyUi.ts checkWorkflowRequirements: POST {customNodes: [{username, repoName, gitRef}], pythonPackages},
    # Content-Type JSON; response.status === 200, then z.object({needsInstallation: z.boolean()})
    url = f"{server.url}{PLAYGROUND}/api/comfyUi/checkWorkflowRequirements"
    ours = {"username": "someone", "repoName": "ComfyUI-CozyGen-clients", "gitRef": "abc123"}  # installed here
    present = {"customNodes": [ours], "pythonPackages": ["aiohttp", "numpy==1.0.0"]}
    reply = post(url, present, headers=people["vic"])  # post() sends Content-Type: application/json, as fetch does
    assert reply.status == 200, reply.body
    assert reply.json()["needsInstallation"] is False
    missing = {
        "customNodes": [ours, {"username": "someone", "repoName": "ComfyUI-Not-There", "gitRef": "main"}],
        "pythonPackages": ["aiohttp", "surely-not-installed-pkg==1.2"],
    }
    reply = post(url, missing, headers=people["vic"])
    assert reply.status == 200 and reply.json()["needsInstallation"] is True, reply.body
    data = reply.json()["data"]  # the seed's shape beside it
    assert data["valid"] is False and data["missingNodes"] == ["someone/ComfyUI-Not-There@main"]
    assert data["missingPackages"] == ["surely-not-installed-pkg==1.2"]
    nothing = post(url, {"customNodes": [], "pythonPackages": []}, headers=people["vic"])
    assert nothing.json()["needsInstallation"] is False
    assert post(url, {"customNodes": [{"gitRef": "x"}], "pythonPackages": []}, headers=people["vic"]).status == 400


# --- CyberImage (its REST client, test_generate.py) ---------------------------------------------------------------


def test_cyberimage_test_script_requests(server, people) -> None:
    import requests

    api_base = f"{server.url}{CYBER}"
    auth = people["dana"]
    models = requests.get(f"{api_base}/models", headers=auth, timeout=30)  # the model ids the script iterates
    models.raise_for_status()
    model_ids = list(models.json()["models"])
    assert "procedural" in model_ids
    # submit_generation: POST /generate json={model_id, prompt, settings{...}}; raise_for_status; ["job_id"]
    response = requests.post(
        f"{api_base}/generate",
        json={
            "model_id": "procedural",
            "prompt": "A beautiful landscape at sunset, digital art",
            "settings": {
                "num_inference_steps": 35,
                "guidance_scale": 8.0,
                "height": 1024,
                "width": 1024,
                "max_sequence_length": 512,
            },
        },
        headers=auth,
        timeout=30,
    )
    response.raise_for_status()
    job_id = response.json()["job_id"]
    assert is_text(job_id)
    # check_status: GET /status/{id}; raise_for_status; status["status"] in pending|processing|completed|failed,
    # status.get('error') on a failure
    seen = []
    deadline = time.monotonic() + 180
    while True:
        reply = requests.get(f"{api_base}/status/{job_id}", headers=auth, timeout=30)
        reply.raise_for_status()
        status = reply.json()
        assert status["status"] in ("pending", "processing", "completed", "failed"), status
        seen.append(status["status"])
        if status["status"] in ("completed", "failed"):
            break
        assert time.monotonic() < deadline, seen
        time.sleep(0.2)
    assert status["status"] == "completed", status
    assert status["images"] and is_text(status["images"][0]["id"])
