"""Jobs on ComfyUI's own queue, against a real ComfyUI: submit, follow, fail, cancel, retry safely."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from support import PROJECT, get, post

FORM = "cozygen_procedural_form.json"
FINISHED = {"completed", "failed", "cancelled", "interrupted"}


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-jobs")


def form() -> dict[str, Any]:
    return json.loads((PROJECT / "workflows" / FORM).read_text())


def save_workflow(server, name: str, graph: dict[str, Any]) -> None:
    reply = post(f"{server.url}/cozygen/workflows/{name}", graph)
    assert reply.status == 200, reply.body


def submit(server, values: dict[str, Any], workflow: str = FORM, **extra: Any):
    return post(f"{server.url}/cozygen/api/jobs", {"workflow": workflow, "values": values, **extra})


def job(server, job_id: str) -> dict[str, Any]:
    reply = get(f"{server.url}/cozygen/api/jobs/{job_id}")
    assert reply.status == 200, reply.body
    return reply.json()["job"]


def wait_job(server, job_id: str, until=lambda j: j["status"] in FINISHED, timeout: float = 90) -> tuple[dict, list]:
    """Poll until ``until(job)``; returns the job and every status seen on the way."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        current = job(server, job_id)
        if not seen or seen[-1] != current["status"]:
            seen.append(current["status"])
        if until(current):
            return current, seen
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {current} after {timeout}s (seen {seen})")
        time.sleep(0.02)


def history(server) -> dict[str, Any]:
    return get(f"{server.url}/history").json()


def comfy_queue(server) -> tuple[list[str], list[str]]:
    body = get(f"{server.url}/queue").json()
    return [i[1] for i in body["queue_running"]], [i[1] for i in body["queue_pending"]]


class EventStream:
    """A background reader of /cozygen/api/events: named events as (id, event, data)."""

    def __init__(self, server, headers: dict[str, str] | None = None, **query: str) -> None:
        parts = urlsplit(server.url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        path = "/cozygen/api/events" + ("?" + urlencode(query) if query else "")
        self.conn.request("GET", path, headers=headers or {})
        self.response = self.conn.getresponse()
        assert self.response.status == 200 and self.response.getheader("Content-Type") == "text/event-stream"
        assert self.response.readline() == b":ok\n"  # subscribed: nothing published from now on is missed
        self.events: list[tuple[str, str, dict]] = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for raw in iter(self.response.readline, b""):
                line = raw.decode().rstrip("\n")
                if line.startswith(":"):
                    continue
                if line:
                    key, _, value = line.partition(": ")
                    fields[key] = value
                    continue
                if "data" in fields:
                    with self.changed:
                        self.events.append((fields.get("id", ""), fields.get("event", ""), json.loads(fields["data"])))
                        self.changed.notify_all()
                fields = {}
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # closed by close()

    def wait_for(self, kind: str, job_id: str, timeout: float = 90) -> list[tuple[str, str, dict]]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not any(e[1] == kind and e[2].get("id") == job_id for e in self.events):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {kind} for {job_id}; got {[e[1] for e in self.events]}")
                self.changed.wait(left)
            return list(self.events)

    def close(self) -> None:
        if self.conn.sock is not None:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        self.thread.join(timeout=10)
        self.conn.close()


def test_a_job_runs_on_comfyuis_queue_and_is_followed_to_its_image(server) -> None:
    from PIL import Image

    job_id = str(uuid.uuid4())
    stream = EventStream(server, job_id=job_id)
    try:
        created = submit(server, {"prompt": "a paper lantern", "steps": 7, "size": 128, "seed": -1}, job_id=job_id)
        assert created.status == 201, created.body
        first = created.json()["job"]
        assert first["id"] == job_id and first["prompt_id"] != job_id and first["status"] in ("pending", "running")
        assert first["workflow"] == FORM and first["username"] == "default"
        seed = first["params"]["seed"]
        assert isinstance(seed, int) and seed >= 0 and first["values"]["seed"] == -1  # resolved, and what was asked

        done, seen = wait_job(server, job_id)
        assert done["status"] == "completed", done
        assert seen[0] in ("pending", "running") and seen[-1] == "completed"
        assert done["step"] == done["total_steps"] == 7 and done["percent"] == 100
        assert done["error"] is None and done["queue_position"] is None
        assert done["created_at"] <= done["started_at"] <= done["finished_at"]
        assert done["params"] == first["params"]
        (image,) = done["images"]
        assert image["type"] == "output" and image["filename"].endswith(".png")
        with Image.open(server.output_dir / image["subfolder"] / image["filename"]) as png:
            assert png.size == (128, 128)
            record = json.loads(png.text["cozygen"])
        assert record["prompt_id"] == done["prompt_id"] and record["params"]["seed"] == seed

        events = stream.wait_for("job.completed", job_id)
    finally:
        stream.close()
    kinds = [kind for _, kind, _ in events]
    assert kinds[0] == "job.queued" and kinds[1] == "job.started" and kinds[-1] == "job.completed", kinds
    assert set(kinds) <= {"job.queued", "job.started", "job.progress", "job.image", "job.completed"}, kinds
    assert kinds.index("job.started") < kinds.index("job.progress") < kinds.index("job.image"), kinds
    steps = [data["step"] for _, kind, data in events if kind == "job.progress"]
    assert steps == sorted(steps) and steps[-1] == 7, steps
    assert all(data["id"] == job_id for _, _, data in events)
    assert events[-1][2]["status"] == "completed" and events[-1][2]["images"] == done["images"]
    assert events[0][2]["status"] == "pending" and events[0][2]["queue_position"] >= 1

    # Last-Event-ID: a phone back from the background gets what it missed, in order.
    resumed = EventStream(server, headers={"Last-Event-ID": events[0][0]}, job_id=job_id)
    try:
        replayed = resumed.wait_for("job.completed", job_id)
    finally:
        resumed.close()
    assert [e[:2] for e in replayed] == [e[:2] for e in events[1:]]

    listed = get(f"{server.url}/cozygen/api/jobs?status=completed").json()
    assert job_id in [j["id"] for j in listed["jobs"]]
    assert job_id not in [j["id"] for j in get(f"{server.url}/cozygen/api/jobs?status=failed").json()["jobs"]]


def test_a_node_failing_at_run_time_fails_the_job_with_comfyuis_message(server) -> None:
    graph = form()
    graph["3"]["inputs"].update({"min": 1, "max": 100})
    # A second range check, fed by a link: ComfyUI can only check it when the node runs.
    graph["7"] = {
        "class_type": "CozyGenInt",
        "inputs": {"param_name": "inner", "value": ["3", 0], "min": 1, "max": 50},
    }
    graph["5"]["inputs"]["steps"] = ["7", 0]
    save_workflow(server, "jobs_fails_at_run_time.json", graph)
    created = submit(server, {"steps": 80, "size": 64}, workflow="jobs_fails_at_run_time.json")
    assert created.status == 201, created.body
    failed, _ = wait_job(server, created.json()["job"]["id"])
    assert failed["status"] == "failed" and failed["node"] == "7", failed
    assert "80 is outside the allowed range 1 to 50" in failed["error"]
    assert failed["images"] == [] and failed["finished_at"] is not None
    assert failed["id"] in [j["id"] for j in get(f"{server.url}/cozygen/api/jobs?status=failed").json()["jobs"]]


def test_refused_values_and_graphs_queue_nothing(server) -> None:
    before = set(history(server))
    listed = len(get(f"{server.url}/cozygen/api/jobs?limit=200").json()["jobs"])

    bad = submit(server, {"steps": 500, "size": "big", "colour": 1})
    assert bad.status == 400 and bad.json()["code"] == "INVALID_VALUES", bad.body
    assert set(bad.json()["fields"]) == {"steps", "size", "colour"}

    graph = form()
    graph["5"]["inputs"]["batch_size"] = 0  # not a form field: ComfyUI's own validation refuses it
    save_workflow(server, "jobs_invalid_node.json", graph)
    refused = submit(server, {"steps": 2, "size": 64}, workflow="jobs_invalid_node.json")
    assert refused.status == 400 and refused.json()["code"] == "NODE_ERRORS", refused.body
    node = refused.json()["nodes"]["5"]
    assert node["class_type"] == "CozyGenProceduralImage" and "batch_size" in " ".join(node["errors"])

    assert submit(server, {}, workflow="no_such_workflow.json").status == 404
    assert post(f"{server.url}/cozygen/api/jobs", {"values": {}}).json()["code"] == "MISSING_WORKFLOW"
    for job_id in ("nope", str(uuid.uuid4()).upper(), 12):
        malformed = submit(server, {"steps": 2}, job_id=job_id)
        assert malformed.status == 400 and malformed.json()["code"] == "INVALID_JOB_ID", malformed.body

    assert comfy_queue(server) == ([], [])
    assert set(history(server)) == before
    assert len(get(f"{server.url}/cozygen/api/jobs?limit=200").json()["jobs"]) == listed


def test_posting_the_same_job_again_queues_it_once(server) -> None:
    job_id = str(uuid.uuid4())
    body = {"prompt": "retry me", "steps": 3, "size": 64, "seed": -1}

    def send(_: int):
        return submit(server, body, job_id=job_id)

    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(send, range(6)))
    assert sorted(r.status for r in replies) == [200] * 5 + [201], [r.body for r in replies]
    assert len({r.json()["job"]["prompt_id"] for r in replies}) == 1
    done, _ = wait_job(server, job_id)
    again = send(0)
    assert again.status == 200 and again.json()["job"]["status"] == "completed"
    assert again.json()["job"]["params"]["seed"] == done["params"]["seed"]  # the recorded job, not a new draw
    ran = [pid for pid, item in history(server).items() if item["prompt"][3].get("cozygen_job_id") == job_id]
    assert ran == [done["prompt_id"]]
    other = submit(server, {**body, "steps": 4}, job_id=job_id)
    assert other.status == 409 and other.json()["code"] == "JOB_ID_TAKEN"


def test_cancel_a_waiting_job_and_the_running_one(server) -> None:
    graph = form()
    graph["3"]["inputs"]["max"] = 200
    graph["5"]["inputs"]["batch_size"] = 4  # long enough to be caught running, on any machine
    save_workflow(server, "jobs_long.json", graph)
    long = {"steps": 200, "size": 1024, "seed": 1}
    stream = EventStream(server)
    try:
        running_id = submit(server, long, workflow="jobs_long.json").json()["job"]["id"]
        waiting = submit(server, {**long, "seed": 2}, workflow="jobs_long.json").json()["job"]
        assert waiting["status"] == "pending" and waiting["queue_position"] >= 1, waiting
        wait_job(server, running_id, until=lambda j: j["status"] == "running" and j["step"] >= 1)

        cancelled = post(f"{server.url}/cozygen/api/jobs/{waiting['id']}/cancel")
        assert cancelled.status == 200 and cancelled.json()["job"]["status"] == "cancelled", cancelled.body
        assert waiting["prompt_id"] not in comfy_queue(server)[1]
        assert job(server, running_id)["status"] == "running"  # only the waiting one was touched

        interrupting = post(f"{server.url}/cozygen/api/jobs/{running_id}/cancel")
        assert interrupting.status == 202 and interrupting.json()["job"]["cancel_requested"] is True, interrupting.body
        stopped, _ = wait_job(server, running_id)
        assert stopped["status"] == "cancelled" and stopped["step"] < stopped["total_steps"], stopped
        events = stream.wait_for("job.cancelled", running_id)
    finally:
        stream.close()
    assert ("job.cancelled", waiting["id"]) in [(kind, data["id"]) for _, kind, data in events]

    never = job(server, waiting["id"])
    assert never["status"] == "cancelled" and never["started_at"] is None and never["step"] == 0
    assert waiting["prompt_id"] not in history(server)
    again = post(f"{server.url}/cozygen/api/jobs/{waiting['id']}/cancel")
    assert again.status == 409 and again.json()["code"] == "JOB_FINISHED"

    # ComfyUI's interrupt flag did not outlive the cancelled prompt: the next job runs to the end.
    after = submit(server, {"steps": 3, "size": 64, "seed": 3}).json()["job"]
    assert wait_job(server, after["id"])[0]["status"] == "completed"


def test_listing_pages_newest_first(server) -> None:
    ids = [submit(server, {"steps": 1, "size": 64, "seed": n}).json()["job"]["id"] for n in range(3)]
    for job_id in ids:
        wait_job(server, job_id)
    page = get(f"{server.url}/cozygen/api/jobs?limit=2").json()
    assert [j["id"] for j in page["jobs"]] == ids[::-1][:2] and page["next_cursor"] == ids[1]
    rest = get(f"{server.url}/cozygen/api/jobs?limit=2&before={page['next_cursor']}").json()
    assert rest["jobs"][0]["id"] == ids[0]
    everything = get(f"{server.url}/cozygen/api/jobs?limit=200").json()["jobs"]
    created = [j["created_at"] for j in everything]
    assert created == sorted(created, reverse=True) and "graph" not in everything[0]
    assert get(f"{server.url}/cozygen/api/jobs?status=sideways").json()["code"] == "INVALID_STATUS"
    assert get(f"{server.url}/cozygen/api/jobs?before=nope").json()["code"] == "INVALID_CURSOR"
    assert get(f"{server.url}/cozygen/api/jobs/{uuid.uuid4()}").status == 404
    assert post(f"{server.url}/cozygen/api/jobs/{uuid.uuid4()}/cancel").status == 404


def test_users_see_their_own_jobs_and_admins_everyones(start_comfyui) -> None:
    server = start_comfyui(
        "ComfyUI-CozyGen-jobs-auth",
        env={"COZYGEN_AUTH": "on", "COZYGEN_ADMIN_USER": "boss", "COZYGEN_ADMIN_PASSWORD": "boss-password-1"},
    )
    url = server.url

    def sign_in(name: str, password: str) -> dict[str, str]:
        reply = post(f"{url}/cozygen/api/login", {"username": name, "password": password})
        assert reply.status == 200, reply.body
        return {"Authorization": f"Bearer {reply.json()['token']}"}

    admin = sign_in("boss", "boss-password-1")
    for name in ("ann", "bob"):
        made = post(
            f"{url}/cozygen/api/users",
            {"username": name, "password": f"{name}-password-1", "role": "user"},
            headers=admin,
        )
        assert made.status == 201, made.body
    ann, bob = sign_in("ann", "ann-password-1"), sign_in("bob", "bob-password-1")
    created = post(f"{url}/cozygen/api/jobs", {"workflow": FORM, "values": {"steps": 2, "size": 64}}, headers=ann)
    assert created.status == 201 and created.json()["job"]["username"] == "ann", created.body
    job_id = created.json()["job"]["id"]
    assert get(f"{url}/cozygen/api/jobs/{job_id}", headers=ann).status == 200
    assert get(f"{url}/cozygen/api/jobs/{job_id}", headers=bob).status == 404
    assert post(f"{url}/cozygen/api/jobs/{job_id}/cancel", headers=bob).status == 404
    assert [j["id"] for j in get(f"{url}/cozygen/api/jobs", headers=bob).json()["jobs"]] == []
    assert [j["id"] for j in get(f"{url}/cozygen/api/jobs", headers=ann).json()["jobs"]] == [job_id]
    assert [j["id"] for j in get(f"{url}/cozygen/api/jobs", headers=admin).json()["jobs"]] == [job_id]
    assert get(f"{url}/cozygen/api/jobs/{job_id}", headers=admin).status == 200
