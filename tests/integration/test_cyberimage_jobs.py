"""CyberImage (seed 002) generation over the job service, against a real ComfyUI with the procedural model."""

from __future__ import annotations

import time
from typing import Any

import pytest
from support import get, post

BASE = "/cozygen/compat/cyberimage/api"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-cyberimage")


def generate(server, **body: Any):
    return post(f"{server.url}{BASE}/generate", {"model_id": "procedural", "prompt": "a lighthouse", **body})


def status(server, job_id: str) -> dict[str, Any]:
    reply = get(f"{server.url}{BASE}/status/{job_id}")
    assert reply.status == 200, reply.body
    return reply.json()


def seed_client_loop(API_BASE: str) -> None:
    """The "Example Client Workflow" of the seed document, as written there (model id and base URL aside)."""
    import requests

    # 1. Get available models
    models = requests.get(f"{API_BASE}/models").json()

    # 2. Submit generation request
    response = requests.post(f"{API_BASE}/generate", json={
        "model_id": "procedural",
        "prompt": "A cyberpunk city at night with neon signs and flying cars",
        "settings": {
            "num_images": 2,
            "num_inference_steps": 35,
            "guidance_scale": 8.0
        }
    })  # fmt: skip
    job_id = response.json()["job_id"]

    # 3. Poll for completion
    while True:
        status = requests.get(f"{API_BASE}/status/{job_id}").json()

        # Display progress information
        if status["status"] == "processing" and "progress" in status:
            progress = status["progress"]
            if progress["generating"] and progress["step"] is not None:
                print(f"Generating: Step {progress['step']}/{progress['total_steps']}")

        if status["status"] == "completed":
            # 4. Download all generated images
            for i, image_info in enumerate(status["images"]):
                image_id = image_info["id"]
                image = requests.get(f"{API_BASE}/get_image/{image_id}")
                with open(f"generated_image_{i+1}.png", "wb") as f:
                    f.write(image.content)
                print(f"Saved image {i+1}/{len(status['images'])}")
            break
        elif status["status"] == "failed":
            print(f"Generation failed: {status.get('message')}")
            break

        time.sleep(5)

    assert models  # the seed's loop reads the models first and never uses them


def test_the_seed_documents_client_loop_runs_unchanged(server, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    seed_client_loop(f"{server.url}{BASE}")
    printed = capsys.readouterr().out
    assert "Saved image 1/2" in printed and "Saved image 2/2" in printed, printed
    files = sorted(tmp_path.glob("generated_image_*.png"))
    assert [f.name for f in files] == ["generated_image_1.png", "generated_image_2.png"]
    assert all(f.read_bytes().startswith(PNG) for f in files)
    assert files[0].read_bytes() != files[1].read_bytes()  # seed + i: two different images


def test_models_offer_the_procedural_model_as_the_default_without_checkpoints(server) -> None:
    body = get(f"{server.url}{BASE}/models").json()
    assert body["default"] == "procedural"
    assert body["models"]["procedural"]["id"] == "procedural"
    assert body["models"]["procedural"]["workflow"] == "cozygen_procedural_form.json"


def test_status_goes_from_pending_through_processing_to_completed_with_real_steps(server) -> None:
    blocker = generate(server, settings={"num_images": 2, "num_inference_steps": 50, "width": 1024, "height": 1024})
    assert blocker.status == 200, blocker.body
    reply = generate(server, negative_prompt="fog", settings={"num_inference_steps": 40, "width": 512, "height": 512})
    assert reply.status == 200, reply.body
    submitted = reply.json()
    assert submitted["status"] == "pending" and submitted["num_images"] == 1
    assert submitted["message"] == "Image generation job submitted successfully for 1 image(s)"
    job_id = submitted["job_id"]

    seen: list[str] = []
    steps: list[tuple[int, int]] = []
    deadline = time.monotonic() + 120
    while True:
        current = status(server, job_id)
        if not seen or seen[-1] != current["status"]:
            seen.append(current["status"])
        progress = current["progress"]
        if current["status"] == "processing" and progress["generating"]:
            steps.append((progress["step"], progress["total_steps"]))
            assert current["message"].startswith("Generating image 1 of 1... Step ")
        if current["status"] in ("completed", "failed"):
            break
        assert time.monotonic() < deadline, (seen, current)
        time.sleep(0.01)

    assert seen[0] == "pending" and seen[-1] == "completed", seen
    assert all(0 <= step <= total == 40 for step, total in steps), steps
    assert current["model_id"] == "procedural" and current["prompt"] == "a lighthouse"
    assert current["settings"] == {"num_inference_steps": 40, "guidance_scale": None, "height": 512, "width": 512}
    progress = current["progress"]
    assert progress["completed"] and not progress["failed"] and not progress["generating"]
    assert (progress["step"], progress["total_steps"]) == (40, 40)
    assert current["message"] == "Generated 1 image(s)"
    assert current["created_at"].endswith("Z") and current["completed_at"].endswith("Z")
    [image] = current["images"]
    assert image["file_path"].startswith("CozyGen/form") and image["metadata"]["image_number"] == 1
    assert image["metadata"]["total_images"] == 1 and image["metadata"]["settings"]["num_inference_steps"] == 40
    downloaded = get(f"{server.url}{BASE}/get_image/{image['id']}")
    assert downloaded.status == 200 and downloaded.body.startswith(PNG)
    metadata = get(f"{server.url}{BASE}/image/{image['id']}/metadata").json()
    assert metadata["settings"]["width"] == 512 and metadata["prompt"] == "a lighthouse"


def test_bad_settings_are_refused_with_their_fields_and_queue_nothing(server) -> None:
    before = get(f"{server.url}{BASE}/queue").json()["total"]
    cases = [
        ({"settings": {"num_inference_steps": 500}}, "num_inference_steps"),
        ({"settings": {"width": 512, "height": 768}}, "height"),
        ({"settings": {"width": 13}}, "width"),
        ({"settings": {"num_images": 9}}, "num_images"),
        ({"model_id": "flux-1"}, "model_id"),
        ({"prompt": ""}, "prompt"),
    ]
    for body, field in cases:
        reply = generate(server, **body)
        assert reply.status == 400, (body, reply.body)
        error = reply.json()
        assert error["status"] == "error" and error["message"], error
        assert field in error["fields"], (body, error)
    assert get(f"{server.url}{BASE}/queue").json()["total"] == before
    missing = get(f"{server.url}{BASE}/status/00000000-0000-4000-8000-000000000000")
    assert missing.status == 404 and missing.json()["status"] == "error"


def test_queue_numbers_and_reset_in_the_seeds_shape(server) -> None:
    basic = get(f"{server.url}{BASE}/queue").json()
    assert set(basic) == {"pending", "processing", "completed", "failed", "total", "queue_size"}
    assert basic["completed"] >= 1
    assert basic["total"] == sum(basic[k] for k in ("pending", "processing", "completed", "failed"))
    detailed = get(f"{server.url}{BASE}/queue?detailed=true").json()
    assert {"recent_24h", "avg_processing_time_seconds", "models", "failure_rate"} <= set(detailed)
    assert detailed["models"]["procedural"]["completed"] >= 1
    assert detailed["recent_24h"]["total"] >= detailed["models"]["procedural"]["total"]
    reset = post(f"{server.url}{BASE}/reset_queue")
    assert reset.status == 200, reset.body
    body = reset.json()
    assert body["status"] == "success" and body["reset_count"] == 0
    assert body["message"] == "Reset 0 stalled jobs to pending status"


def test_submissions_over_the_rate_limit_get_429_with_retry_after(start_comfyui) -> None:
    limited = start_comfyui("ComfyUI-CozyGen-cyberimage-limited", env={"COZYGEN_RATE_LIMIT": "2"})
    settings = {"num_inference_steps": 2, "width": 64, "height": 64}
    assert [generate(limited, settings=settings).status for _ in range(2)] == [200, 200]
    refused = generate(limited, settings=settings)
    assert refused.status == 429, refused.body
    wait = int(refused.headers["Retry-After"])
    assert 0 < wait <= 30
    body = refused.json()
    assert body["status"] == "error" and body["code"] == "RATE_LIMITED" and body["retry_after"] == wait
    native = post(
        f"{limited.url}/cozygen/api/jobs",
        {"workflow": "cozygen_procedural_form.json", "values": {"steps": 2, "size": 64}},
    )
    assert native.status == 429 and int(native.headers["Retry-After"]) > 0
    assert native.json()["code"] == "RATE_LIMITED" and native.json()["retry_after"] > 0
    earlier = get(f"{limited.url}/cozygen/api/jobs").json()["jobs"][0]["id"]
    again = post(f"{limited.url}/cozygen/api/jobs/{earlier}/reproduce")
    assert again.status == 429 and again.json()["code"] == "RATE_LIMITED"  # reproducing is submitting too
