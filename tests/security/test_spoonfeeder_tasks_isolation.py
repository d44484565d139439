"""Spoon Feeder's tasks and results as another user: alice's task and her outputs are 404 to bob and vera on every
route (read, download, delete, retry), absent from their lists, and a viewer creates no task."""

from __future__ import annotations

from household import Household
from support import get, post, request

SF = "/cozygen/compat/spoonfeeder/api"


def listed(home: Household, who: str, path: str) -> list[dict]:
    reply = get(f"{home.url}{SF}/{path}", headers=home.as_(who))
    assert reply.status == 200, reply.body
    return reply.json()["data"]


def test_alices_task_and_results_are_hers(household: Household) -> None:
    job_id, image_id = household.alice_job["id"], household.alice_image["id"]
    assert job_id in [t["id"] for t in listed(household, "alice", "tasks?limit=200")]
    mine = [r for r in listed(household, "alice", "results?limit=200") if r["task_id"] == job_id]
    assert image_id in [r["id"] for r in mine]
    assert job_id in [t["id"] for t in listed(household, "admin", "tasks?limit=200")]  # admins see everyone's

    for who in ("bob", "vera"):
        headers = household.as_(who)
        assert job_id not in [t["id"] for t in listed(household, who, "tasks?limit=200")]
        assert job_id not in [t["id"] for t in listed(household, who, "tasks/history?limit=200&search=alicesecret")]
        assert all(r["task_id"] != job_id for r in listed(household, who, "results?limit=200"))
        for method, path in (
            ("GET", f"tasks/{job_id}"),
            ("GET", f"results/{image_id}"),
            ("GET", f"results/{image_id}/download"),
        ):
            reply = request(method, f"{household.url}{SF}/{path}", headers=headers)
            assert reply.status == 404 and b"alicesecret" not in reply.body, (who, path, reply.status)
    for path in (f"tasks/{job_id}", f"results/{image_id}"):
        gone = request("DELETE", f"{household.url}{SF}/{path}", headers=household.as_("bob"))
        assert gone.status == 404, (path, gone.body)
    retried = post(f"{household.url}{SF}/tasks/{job_id}/retry", headers=household.as_("bob"))
    assert retried.status == 404, retried.body
    assert get(f"{household.url}{SF}/results/{image_id}", headers=household.as_("alice")).status == 200  # still there

    task = {"name": "peek", "type": "image", "provider": "comfyui", "prompt": "a lighthouse"}
    refused = post(f"{household.url}{SF}/tasks", task, headers=household.as_("vera"))
    assert refused.status == 403, refused.body
    anonymous = get(f"{household.url}{SF}/tasks")
    assert anonymous.status == 401
