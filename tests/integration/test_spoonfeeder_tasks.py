"""Spoon Feeder (seed 003) tasks and results over CozyGen's jobs and gallery, against a real ComfyUI with the
weights-free procedural workflow."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from support import PROJECT, get, post, request, until

BASE = "/cozygen/compat/spoonfeeder/api"
PNG = b"\x89PNG\r\n\x1a\n"
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-spoonfeeder-tasks")


def api(server) -> str:
    return f"{server.url}{BASE}"


def body_of(reply, status: int = 200) -> dict[str, Any]:
    assert reply.status == status, reply.body
    body = reply.json()
    assert body["success"] is True, body
    return body


def data(reply, status: int = 200) -> Any:
    return body_of(reply, status)["data"]


def refused(reply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.body
    body = reply.json()
    assert body["success"] is False and body["statusCode"] == status and body["code"] == code, body
    return body


def create(server, name: str, prompt: str = "a red kite over the dunes", **options: Any) -> dict[str, Any]:
    task = {"name": name, "type": "image", "provider": "comfyui", "prompt": prompt, "options": options}
    return data(post(f"{api(server)}/tasks", task), 201)


def wait_done(server, task_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        current = data(get(f"{api(server)}/tasks/{task_id}"))
        if current["status"] in ("complete", "failed"):
            return current
        assert time.monotonic() < deadline, current
        time.sleep(0.05)


def test_a_task_runs_and_its_results_are_listed_downloaded_and_deleted(server) -> None:
    made = create(server, "Kites", parameters={"width": 64, "height": 64, "steps": 2, "seed": 5, "batch_size": 2})
    assert made["name"] == "Kites" and made["provider"] == "comfyui" and made["type"] == "image"
    assert made["prompt"] == "a red kite over the dunes" and made["status"] in ("pending", "running")
    assert made["options"]["workflow_id"] == "cozygen_procedural_form.json" and made["options"]["seed"] == 5
    assert made["retryCount"] == 0 and made["created_at"].endswith("Z")

    done = wait_done(server, made["id"])
    assert done["status"] == "complete" and done["error"] is None and done["progress"] == 100
    assert done["name"] == "Kites" and len(done["images"]) == 2 and done["completed_at"].endswith("Z")
    listed = body_of(get(f"{api(server)}/tasks?status=complete"))
    assert made["id"] in [t["id"] for t in listed["data"]]
    assert listed["pagination"]["total"] >= 1 and listed["pagination"]["page"] == 1
    assert body_of(get(f"{api(server)}/tasks?provider=openai"))["data"] == []
    assert body_of(get(f"{api(server)}/tasks?type=text"))["pagination"]["total"] == 0
    history = body_of(get(f"{api(server)}/tasks/history?search=red%20kite"))
    assert [t["id"] for t in history["data"]] == [made["id"]]
    assert body_of(get(f"{api(server)}/tasks/history?search=nothing%20like%20it"))["data"] == []
    assert body_of(get(f"{api(server)}/tasks/history?dateFrom=2999-01-01"))["data"] == []

    def results_of(task_id: str) -> list[dict[str, Any]]:
        return [r for r in data(get(f"{api(server)}/results?limit=200")) if r["task_id"] == task_id]

    results = until(lambda: results_of(made["id"]), lambda found: len(found) == 2)  # once the gallery has both
    first = results[0]
    assert first["type"] == "image" and first["task_name"] == "Kites" and first["task_provider"] == "comfyui"
    assert first["metadata"]["width"] == 64 and first["content"].startswith("CozyGen/")
    assert data(get(f"{api(server)}/results?type=video")) == []
    one = data(get(f"{api(server)}/results/{first['id']}"))
    assert one["task_prompt"] == "a red kite over the dunes" and one["content"] == first["content"]
    download = get(f"{api(server)}/results/{first['id']}/download")
    assert download.status == 200 and download.body.startswith(PNG)
    assert "attachment" in download.headers["Content-Disposition"]
    saved = server.output_dir / first["content"]
    assert download.body == saved.read_bytes()

    gone = request("DELETE", f"{api(server)}/results/{first['id']}")
    assert gone.status == 200 and gone.json() == {"success": True, "message": f"Result {first['id']} deleted"}
    assert not saved.exists()  # in CozyGen's trash: the gallery can restore it
    refused(get(f"{api(server)}/results/{first['id']}"), 404, "RESULT_NOT_FOUND")
    assert [r["id"] for r in results_of(made["id"])] == [results[1]["id"]]
    refused(get(f"{api(server)}/results/abc"), 400, "INVALID_ID")
    refused(get(f"{api(server)}/results?type=hologram"), 400, "INVALID_TYPE")

    deleted = request("DELETE", f"{api(server)}/tasks/{made['id']}")
    assert deleted.status == 200 and deleted.json()["message"] == f"Task {made['id']} deleted"
    refused(get(f"{api(server)}/tasks/{made['id']}"), 404, "TASK_NOT_FOUND")
    assert (server.output_dir / results[1]["content"]).is_file()  # the record goes, the image stays
    refused(get(f"{api(server)}/results/{results[1]['id']}"), 404, "RESULT_NOT_FOUND")  # no task: no result


def test_pages_by_page_or_offset(server) -> None:
    ids = [create(server, f"Page {n}", parameters={"width": 64, "height": 64, "steps": 1})["id"] for n in range(2)]
    pinned = create(server, "Page 2", parameters={"width": 64, "height": 64, "steps": 1}, profile_id="local")
    assert pinned["profile_id"] == "local"  # pinned to this ComfyUI, a Spoon Feeder profile
    ids.append(pinned["id"])
    for task_id in ids:
        wait_done(server, task_id)
    until(lambda: body_of(get(f"{api(server)}/results?limit=1&offset=1")), lambda b: b["pagination"]["total"] >= 3)
    whole = body_of(get(f"{api(server)}/tasks?limit=200"))
    order = [t["id"] for t in whole["data"]]
    assert order[:3] == ids[::-1]  # newest first
    second = body_of(get(f"{api(server)}/tasks?limit=2&page=2"))
    assert [t["id"] for t in second["data"]] == order[2:4]
    assert second["pagination"] == {"page": 2, "limit": 2, "total": len(order), "totalPages": -(-len(order) // 2)}
    assert [t["id"] for t in data(get(f"{api(server)}/tasks?limit=2&offset=1"))] == order[1:3]
    refused(get(f"{api(server)}/tasks?status=done"), 400, "INVALID_STATUS")
    refused(get(f"{api(server)}/tasks?limit=many"), 400, "BAD_PAGING")
    results = body_of(get(f"{api(server)}/results?limit=1&offset=1"))
    assert len(results["data"]) == 1 and results["pagination"]["total"] >= 3


def test_bad_tasks_are_refused_by_field_and_queue_nothing(server) -> None:
    before = body_of(get(f"{api(server)}/tasks"))["pagination"]["total"]
    bad = refused(post(f"{api(server)}/tasks", {"type": "text", "provider": "claude", "prompt": ""}), 400,
                  "INVALID_VALUES")  # fmt: skip
    assert set(bad["fields"]) == {"name", "type", "provider", "prompt"}, bad
    options = refused(post(f"{api(server)}/tasks", {"name": "x", "type": "image", "provider": "comfyui",
                                                    "prompt": "p", "options": [1]}), 400, "INVALID_VALUES")  # fmt: skip
    assert set(options["fields"]) == {"options"}
    workflow = refused(
        post(f"{api(server)}/tasks", {"name": "x", "type": "image", "provider": "comfyui", "prompt": "p",
                                      "options": {"workflow_id": "no such workflow.json"}}),
        400, "INVALID_VALUES",
    )  # fmt: skip
    assert "workflow_id" in workflow["fields"]
    refused(post(f"{api(server)}/tasks", [1, 2]), 400, "INVALID_JSON")
    assert body_of(get(f"{api(server)}/tasks"))["pagination"]["total"] == before
    refused(get(f"{api(server)}/tasks/{MISSING}"), 404, "TASK_NOT_FOUND")
    refused(request("DELETE", f"{api(server)}/tasks/{MISSING}"), 404, "TASK_NOT_FOUND")
    refused(post(f"{api(server)}/tasks/not-an-id/retry"), 404, "TASK_NOT_FOUND")


def save_failing_workflow(server) -> str:
    """A procedural form whose steps feed a second range check ComfyUI can only make while running."""
    graph = json.loads((PROJECT / "workflows" / "cozygen_procedural_form.json").read_text())
    graph["3"]["inputs"].update({"min": 1, "max": 100})
    graph["7"] = {"class_type": "CozyGenInt", "inputs": {"param_name": "inner", "value": ["3", 0], "min": 1, "max": 50}}
    graph["5"]["inputs"]["steps"] = ["7", 0]
    made = post(f"{api(server)}/comfyui/workflows", {"name": "tasks fail at run time", "workflowJson": graph})
    return data(made, 201)["id"]


def test_a_failed_task_is_retried_as_a_new_task_and_others_are_not(server) -> None:
    workflow_id = save_failing_workflow(server)
    made = create(server, "Doomed", workflow_id=workflow_id, steps=80, width=64)
    failed = wait_done(server, made["id"])
    assert failed["status"] == "failed" and "allowed range" in failed["error"]
    assert made["id"] in [t["id"] for t in data(get(f"{api(server)}/tasks/history?status=failed"))]
    assert made["id"] not in [t["id"] for t in data(get(f"{api(server)}/tasks/history?status=complete"))]

    retried = body_of(post(f"{api(server)}/tasks/{made['id']}/retry"))
    again = retried["data"]
    assert retried["message"] == f"Task {made['id']} queued for retry"
    assert again["id"] != made["id"] and again["retryCount"] == 1 and again["retried_from"] == made["id"]
    assert again["name"] == "Doomed" and again["options"]["steps"] == 80
    assert wait_done(server, again["id"])["status"] == "failed"  # the same graph, the same failure
    twice = data(post(f"{api(server)}/tasks/{again['id']}/retry"))
    assert twice["retryCount"] == 2 and twice["retried_from"] == again["id"]
    wait_done(server, twice["id"])

    fine = create(server, "Fine", parameters={"width": 64, "height": 64, "steps": 1})
    wait_done(server, fine["id"])
    refused(post(f"{api(server)}/tasks/{fine['id']}/retry"), 409, "TASK_NOT_FAILED")
