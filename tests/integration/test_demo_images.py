"""The demo workflows give a new image per tap: two submissions with no values are two different images.

ComfyUI answers an identical graph from its cache (no new file), so each submission must draw a new seed. The
classic demo (the original CozyGen's input nodes) keeps the original app's injection: its test is in
test_cozygen_clients.py.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from support import get, post

FINISHED = {"completed", "failed", "cancelled", "interrupted"}


def run(server, workflow: str) -> dict[str, Any]:
    reply = post(f"{server.url}/cozygen/api/jobs", {"workflow": workflow, "values": {"Steps": 2, "Size": 64}})
    assert reply.status in (200, 201, 202), reply.body
    job_id = reply.json()["job"]["id"]
    deadline = time.monotonic() + 90
    while True:
        job = get(f"{server.url}/cozygen/api/jobs/{job_id}").json()["job"]
        if job["status"] in FINISHED:
            assert job["status"] == "completed", job
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def image_digest(server, image: dict[str, Any]) -> str:
    query = urlencode({"filename": image["filename"], "subfolder": image["subfolder"], "type": image["type"]})
    reply = get(f"{server.url}/view?{query}")
    assert reply.status == 200 and reply.body.startswith(b"\x89PNG"), reply.status
    return hashlib.sha256(reply.body).hexdigest()


@pytest.mark.parametrize("workflow", ["cozygen_procedural_form.classic.json"])
def test_two_submissions_of_the_classic_demo_give_two_images(comfyui, workflow: str) -> None:
    first, second = run(comfyui, workflow), run(comfyui, workflow)
    assert first["params"]["Seed"] != second["params"]["Seed"], (first["params"], second["params"])
    assert len(first["images"]) == len(second["images"]) == 1
    assert first["images"][0]["filename"] != second["images"][0]["filename"]  # a new file, not ComfyUI's cache
    assert image_digest(comfyui, first["images"][0]) != image_digest(comfyui, second["images"][0])
