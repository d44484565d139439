"""Jobs on ComfyUI's own queue, against a real ComfyUI: submit, follow, fail, cancel, retry safely."""

from __future__ import annotations

import csv
import http.client
import io
import json
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from support import PROJECT, get, post, request

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
    allowed = {"job.queued", "job.started", "job.progress", "job.preview", "job.image", "job.completed"}
    assert set(kinds) <= allowed, kinds
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


def test_num_images_queues_one_prompt_per_image_with_seed_plus_i(server) -> None:
    from PIL import Image

    too_many = submit(server, {"steps": 1, "size": 64}, num_images=9)
    assert too_many.status == 400 and too_many.json()["code"] == "INVALID_NUM_IMAGES", too_many.body
    created = submit(server, {"prompt": "three lanterns", "steps": 2, "size": 64, "seed": 1000}, num_images=3)
    assert created.status == 201, created.body
    first = created.json()["job"]
    assert len(first["prompt_ids"]) == 3 and first["prompt_ids"][0] == first["prompt_id"]
    done, seen = wait_job(server, first["id"])
    assert done["status"] == "completed" and done["percent"] == 100, done
    assert seen[-1] == "completed"
    assert len(done["images"]) == 3
    records = []
    for image in done["images"]:
        with Image.open(server.output_dir / image["subfolder"] / image["filename"]) as png:
            records.append(json.loads(png.text["cozygen"]))
    assert [r["params"]["seed"] for r in records] == [1000, 1001, 1002]
    assert [r["prompt_id"] for r in records] == done["prompt_ids"]
    assert set(done["prompt_ids"]) <= set(history(server))

    single = submit(server, {"steps": 1, "size": 64}, num_images=1)
    assert single.status == 201 and single.json()["job"]["prompt_ids"] == [single.json()["job"]["prompt_id"]]


def test_a_prompt_queued_straight_into_comfyui_is_recorded_as_a_job(server) -> None:
    graph = form()
    graph["1"]["inputs"]["value"] = "queued by the editor"
    graph["2"]["inputs"]["seed"] = 4242
    graph["3"]["inputs"]["value"], graph["4"]["inputs"]["value"] = 2, 64
    queued = post(f"{server.url}/prompt", {"prompt": graph, "client_id": uuid.uuid4().hex})
    assert queued.status == 200, queued.body
    prompt_id = queued.json()["prompt_id"]
    deadline = time.monotonic() + 60
    while True:
        listed = [j for j in get(f"{server.url}/cozygen/api/jobs").json()["jobs"] if j["prompt_id"] == prompt_id]
        if listed and listed[0]["status"] in FINISHED:
            break
        assert time.monotonic() < deadline, listed
        time.sleep(0.05)
    (found,) = listed
    assert found["status"] == "completed" and found["workflow"] is None and found["username"] is None, found
    assert found["started_at"] is not None and found["model"] == "procedural"
    assert found["params"].get("seed") == 4242, found["params"]
    ran = history(server)[prompt_id]["outputs"]
    saved = [i["filename"] for output in ran.values() for i in output.get("images", [])]
    assert saved and [i["filename"] for i in found["images"]] == saved
    assert job(server, found["id"])["prompt_id"] == prompt_id
    shown = get(f"{server.url}/cozygen/api/jobs/{found['id']}/workflow").json()
    assert shown["graph"]["2"]["inputs"]["seed"] == 4242


def save_failing_workflow(server) -> None:
    graph = form()
    graph["3"]["inputs"].update({"min": 1, "max": 100})
    # A second range check, fed by a link: ComfyUI can only check it when the node runs.
    graph["7"] = {
        "class_type": "CozyGenInt",
        "inputs": {"param_name": "inner", "value": ["3", 0], "min": 1, "max": 50},
    }
    graph["5"]["inputs"]["steps"] = ["7", 0]
    save_workflow(server, "jobs_fails_at_run_time.json", graph)


def test_a_node_failing_at_run_time_fails_the_job_with_comfyuis_message(server) -> None:
    save_failing_workflow(server)
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


def save_long_workflow(server) -> None:
    graph = form()
    graph["3"]["inputs"]["max"] = 200
    graph["5"]["inputs"]["batch_size"] = 4  # long enough to be caught running, on any machine
    save_workflow(server, "jobs_long.json", graph)


def jobs_query(server, **query: str) -> list[str]:
    reply = get(f"{server.url}/cozygen/api/jobs?" + urlencode({"limit": 200, **query}))
    assert reply.status == 200, reply.body
    return [j["id"] for j in reply.json()["jobs"]]


def test_history_filters_export_the_graph_that_ran_and_delete(server) -> None:
    first = submit(server, {"prompt": "history unicorn", "steps": 2, "size": 64, "seed": -1}).json()["job"]
    second = submit(server, {"prompt": "history dragon, 100%", "steps": 2, "size": 64, "seed": 5}).json()["job"]
    first, _ = wait_job(server, first["id"])
    second, _ = wait_job(server, second["id"])
    assert first["model"] == second["model"] == "procedural" and first["status"] == "completed"

    assert jobs_query(server, q="UNICORN") == [first["id"]]
    assert jobs_query(server, q="dragon, 100%") == [second["id"]]
    assert jobs_query(server, q="history", workflow=FORM)[:2] == [second["id"], first["id"]]
    assert jobs_query(server, q="history", workflow="jobs_long.json") == []
    assert jobs_query(server, q="history", model="procedural") == [second["id"], first["id"]]
    assert jobs_query(server, q="history", model="sd15.safetensors") == []
    assert jobs_query(server, q="history", **{"from": repr(second["created_at"])}) == [second["id"]]
    assert jobs_query(server, q="history", to=repr(second["created_at"])) == [first["id"]]
    assert jobs_query(server, q="history", to="2001-01-01") == []
    today = time.strftime("%Y-%m-%d", time.gmtime(first["created_at"]))
    assert jobs_query(server, q="history", **{"from": today, "to": today}) == [second["id"], first["id"]]
    assert jobs_query(server, q="history", user="default") == [second["id"], first["id"]]
    assert jobs_query(server, q="history", user="somebody") == []
    paged = get(f"{server.url}/cozygen/api/jobs?q=history&limit=1").json()
    assert [j["id"] for j in paged["jobs"]] == [second["id"]] and paged["next_cursor"] == second["id"]
    assert get(f"{server.url}/cozygen/api/jobs?from=yesterday").json()["code"] == "INVALID_DATE"

    # The exact graph ComfyUI ran, with the seed resolved.
    ran = get(f"{server.url}/cozygen/api/jobs/{first['id']}/workflow")
    assert ran.status == 200, ran.body
    graph = ran.json()["graph"]
    assert graph == history(server)[first["prompt_id"]]["prompt"][2]
    assert graph["2"]["inputs"]["seed"] == first["params"]["seed"] and first["values"]["seed"] == -1
    assert get(f"{server.url}/cozygen/api/jobs/{uuid.uuid4()}/workflow").status == 404

    # Export: not taken for a job id; both formats, the same filters, as a download.
    as_csv = get(f"{server.url}/cozygen/api/jobs/export?format=csv&q=history")
    assert as_csv.status == 200, as_csv.body
    assert as_csv.headers["Content-Type"].startswith("text/csv")
    assert (
        as_csv.headers["Content-Disposition"].startswith("attachment;")
        and ".csv" in as_csv.headers["Content-Disposition"]
    )
    rows = list(csv.reader(io.StringIO(as_csv.body.decode())))
    assert rows[0] == ["id", "created_at", "finished_at", "status", "workflow", "model", "seed", "prompt", "images"]
    assert [r[0] for r in rows[1:]] == [second["id"], first["id"]]
    assert rows[2][3:8] == ["completed", FORM, "procedural", str(first["params"]["seed"]), "history unicorn"]
    image = first["images"][0]
    assert rows[2][8] == f"{image['subfolder']}/{image['filename']}"
    as_json = get(f"{server.url}/cozygen/api/jobs/export?format=json&q=dragon")
    assert as_json.status == 200 and ".json" in as_json.headers["Content-Disposition"]
    (exported,) = as_json.json()
    assert exported["id"] == second["id"] and exported["seed"] == 5 and exported["prompt"] == "history dragon, 100%"
    assert get(f"{server.url}/cozygen/api/jobs/export?format=xml").json()["code"] == "INVALID_FORMAT"

    # Delete: only finished jobs; the record goes, the image stays.
    save_long_workflow(server)
    busy = submit(server, {"steps": 200, "size": 1024, "seed": 9}, workflow="jobs_long.json").json()["job"]
    refused = request_delete(server, busy["id"])
    assert refused.status == 409 and refused.json()["code"] == "JOB_NOT_FINISHED", refused.body
    assert post(f"{server.url}/cozygen/api/jobs/{busy['id']}/cancel").status in (200, 202)
    wait_job(server, busy["id"])
    deleted = request_delete(server, first["id"])
    assert deleted.status == 200 and deleted.json() == {"deleted": first["id"]}, deleted.body
    assert get(f"{server.url}/cozygen/api/jobs/{first['id']}").status == 404
    assert request_delete(server, first["id"]).status == 404
    assert (server.output_dir / image["subfolder"] / image["filename"]).is_file()
    assert jobs_query(server, q="history") == [second["id"]]


def request_delete(server, job_id: str):
    return request("DELETE", f"{server.url}/cozygen/api/jobs/{job_id}")


def pixels(server, image: dict[str, str]):
    import numpy
    from PIL import Image

    with Image.open(server.output_dir / image["subfolder"] / image["filename"]) as png:
        return numpy.asarray(png.convert("RGBA"))


def test_reproduce_queues_the_same_graph_and_gives_the_same_pixels(server) -> None:
    import numpy

    original = submit(server, {"prompt": "reproduce me", "steps": 4, "size": 128, "seed": -1}).json()["job"]
    original, _ = wait_job(server, original["id"])
    other = submit(server, {"prompt": "reproduce me", "steps": 4, "size": 128, "seed": 1}).json()["job"]
    other, _ = wait_job(server, other["id"])
    again = post(f"{server.url}/cozygen/api/jobs/{original['id']}/reproduce")
    assert again.status == 201, again.body
    copy = again.json()["job"]
    assert copy["reproduced_from"] == original["id"] and copy["id"] != original["id"]
    assert copy["prompt_id"] != original["prompt_id"] and copy["params"] == original["params"]
    copy, _ = wait_job(server, copy["id"])
    assert copy["status"] == "completed", copy
    ran = history(server)
    assert ran[copy["prompt_id"]]["prompt"][2] == ran[original["prompt_id"]]["prompt"][2]
    (first_image,), (copy_image,) = original["images"], copy["images"]
    assert first_image["filename"] != copy_image["filename"]  # a new file, with the same pixels
    assert numpy.array_equal(pixels(server, first_image), pixels(server, copy_image))
    assert not numpy.array_equal(pixels(server, first_image), pixels(server, other["images"][0]))
    assert post(f"{server.url}/cozygen/api/jobs/{uuid.uuid4()}/reproduce").status == 404


def test_queue_numbers_come_from_the_records_and_comfyuis_queue(server) -> None:
    save_failing_workflow(server)
    broken = submit(server, {"steps": 80, "size": 64}, workflow="jobs_fails_at_run_time.json").json()["job"]
    done = submit(server, {"steps": 1, "size": 64, "seed": 11}).json()["job"]
    assert wait_job(server, broken["id"])[0]["status"] == "failed"
    wait_job(server, done["id"])
    deadline = time.monotonic() + 10  # a prompt stays "running" on ComfyUI's queue a moment after its end
    while comfy_queue(server) != ([], []) and time.monotonic() < deadline:
        time.sleep(0.02)
    numbers = get(f"{server.url}/cozygen/api/queue")
    assert numbers.status == 200, numbers.body
    body = numbers.json()
    listed = get(f"{server.url}/cozygen/api/jobs?limit=200").json()["jobs"]
    assert len(listed) < 200  # all of this server's jobs are in the last 24 hours, and listed
    running, pending = comfy_queue(server)
    assert (body["pending"], body["running"]) == (len(pending), len(running))
    for status in ("completed", "failed", "cancelled", "interrupted"):
        assert body["recent"][status] == sum(j["status"] == status for j in listed), status
    assert body["recent"]["completed"] >= 1 and body["recent"]["failed"] >= 1
    assert body["by_workflow"][FORM] == sum(j["workflow"] == FORM for j in listed)
    assert body["by_workflow"]["jobs_fails_at_run_time.json"] == sum(j["status"] == "failed" for j in listed)
    assert sum(body["by_workflow"].values()) == len(listed)
    assert body["by_model"]["procedural"] == len(listed)
    runs = [j["finished_at"] - j["started_at"] for j in listed if j["status"] == "completed"]
    assert abs(body["average_seconds"] - sum(runs) / len(runs)) < 0.01
    ended = body["recent"]["completed"] + body["recent"]["failed"]
    assert body["failure_rate"] == round(body["recent"]["failed"] / ended, 4) and 0 < body["failure_rate"] < 1


def test_a_queue_reset_requeues_lost_jobs_once_and_never_duplicates_a_real_one(server) -> None:
    import sqlite3

    from cozygen.core.jobs import model, records

    source = submit(server, {"prompt": "lost and found", "steps": 3, "size": 64, "seed": 21}).json()["job"]
    source, _ = wait_job(server, source["id"])
    graph = get(f"{server.url}/cozygen/api/jobs/{source['id']}/workflow").json()["graph"]
    lost = model.Job(
        id=str(uuid.uuid4()), prompt_id=str(uuid.uuid4()), workflow=FORM, username="default", status="running",
        params=source["params"], values=source["values"], graph=graph, model="procedural", created_at=time.time(),
        started_at=time.time(), step=1, total_steps=3,
    )  # fmt: skip
    database = server.base / "user" / "cozygen" / "cozygen.sqlite3"
    assert database.is_file()

    def write(sql_or_fn) -> None:
        conn = sqlite3.connect(database, timeout=30)
        try:
            with conn:
                sql_or_fn(conn) if callable(sql_or_fn) else conn.execute(*sql_or_fn)
        finally:
            conn.close()

    write(lambda conn: records.insert(conn, lost))
    assert job(server, lost.id)["status"] == "running"  # what the record says; ComfyUI never had it

    save_long_workflow(server)
    real = submit(server, {"steps": 200, "size": 1024, "seed": 22}, workflow="jobs_long.json").json()["job"]
    waiting = submit(server, {"steps": 200, "size": 1024, "seed": 23}, workflow="jobs_long.json").json()["job"]
    try:
        wait_job(server, real["id"], until=lambda j: j["status"] == "running")
        reset = post(f"{server.url}/cozygen/api/queue/reset")
        assert reset.status == 200, reset.body
        assert [j["id"] for j in reset.json()["requeued"]] == [lost.id] and reset.json()["failed"] == []
        running, pending = comfy_queue(server)
        assert running == [real["prompt_id"]] and waiting["prompt_id"] in pending, (running, pending)
        queued_for = [p for p in running + pending if p in (real["prompt_id"], waiting["prompt_id"])]
        assert sorted(queued_for) == sorted([real["prompt_id"], waiting["prompt_id"]])  # not duplicated
        requeued = job(server, lost.id)
        assert requeued["requeued"] is True and requeued["prompt_id"] != lost.prompt_id
        assert requeued["prompt_id"] in pending and requeued["status"] == "pending"
    finally:
        for busy in (waiting, real):
            post(f"{server.url}/cozygen/api/jobs/{busy['id']}/cancel")
    found, seen = wait_job(server, lost.id)
    assert found["status"] == "completed" and found["step"] == found["total_steps"] == 3, (found, seen)
    assert numpy_equal(server, found["images"][0], source["images"][0])

    # Lost again (say): a job is re-queued at most once.
    write(("UPDATE jobs SET status = 'running', finished_at = NULL WHERE id = ?", (lost.id,)))
    again = post(f"{server.url}/cozygen/api/queue/reset")
    assert again.status == 200 and again.json() == {"requeued": [], "failed": []}, again.body
    assert comfy_queue(server) == ([], [])
    write(("UPDATE jobs SET status = 'completed', finished_at = ? WHERE id = ?", (time.time(), lost.id)))


def numpy_equal(server, a: dict[str, str], b: dict[str, str]) -> bool:
    import numpy

    return bool(numpy.array_equal(pixels(server, a), pixels(server, b)))


def test_after_comfyui_restarts_mid_queue_a_reset_runs_the_lost_jobs_once(start_comfyui, front_end_root) -> None:
    import comfyui_host

    first = start_comfyui("ComfyUI-CozyGen-jobs-restart")
    values = {"prompt": "survives a restart", "steps": 40, "size": 512}
    running = submit(first, {**values, "seed": 31}).json()["job"]
    waiting = submit(first, {**values, "seed": 32}).json()["job"]
    several = submit(first, {**values, "steps": 2, "size": 64, "seed": 33}, num_images=2).json()["job"]
    wait_job(first, running["id"], until=lambda j: j["status"] == "running")
    first.stop()

    second = comfyui_host.start(first.base, folder_name="ComfyUI-CozyGen-jobs-restart", front_end_root=front_end_root)
    try:
        for lost in (running, waiting, several):
            after = job(second, lost["id"])
            assert after["status"] == "interrupted" and after["requeued"] is False, after
        assert comfy_queue(second) == ([], [])
        reset = post(f"{second.url}/cozygen/api/queue/reset")
        assert reset.status == 200, reset.body
        assert [j["id"] for j in reset.json()["requeued"]] == [running["id"], waiting["id"], several["id"]]
        whole, _ = wait_job(second, several["id"])  # a job of several images runs again, every image
        assert whole["status"] == "completed" and len(whole["images"]) == 2, whole
        assert not set(whole["prompt_ids"]) & set(several["prompt_ids"])
        for lost in (running, waiting):
            done, _ = wait_job(second, lost["id"])
            assert done["status"] == "completed" and done["requeued"] is True and done["error"] is None, done
            assert done["prompt_id"] != lost["prompt_id"] and done["params"]["seed"] == lost["params"]["seed"]
            assert done["step"] == done["total_steps"] == 40 and len(done["images"]) == 1
        again = post(f"{second.url}/cozygen/api/queue/reset")
        assert again.status == 200 and again.json() == {"requeued": [], "failed": []}, again.body
        assert comfy_queue(second) == ([], [])
        ran = [item["prompt"][3].get("cozygen_job_id") for item in history(second).values()]
        expected = [running["id"], waiting["id"], several["id"], several["id"]]
        assert sorted(ran) == sorted(expected)  # each ran once after the restart (two prompts for two images)
    finally:
        second.stop()


def test_sessions_group_jobs_and_delete_them_with_their_images_on_request(server) -> None:
    url = f"{server.url}/cozygen/api/sessions"
    assert post(url, {"name": "  "}).json()["code"] == "INVALID_NAME"
    created = post(url, {"name": "evening sketches"})
    assert created.status == 201, created.body
    session = created.json()["session"]
    assert session["name"] == "evening sketches" and session["job_count"] == 0
    unknown = submit(server, {"steps": 1, "size": 64}, session_id="no-such-session")
    assert unknown.status == 400 and unknown.json()["code"] == "UNKNOWN_SESSION", unknown.body

    made = [submit(server, {"steps": 1, "size": 64, "seed": n}, session_id=session["id"]) for n in (1, 2)]
    assert all(r.status == 201 for r in made), [r.body for r in made]
    done = [wait_job(server, r.json()["job"]["id"])[0] for r in made]
    assert all(d["status"] == "completed" and d["session_id"] == session["id"] for d in done)
    listed = {s["id"]: s for s in get(url).json()["sessions"]}
    assert listed[session["id"]]["job_count"] == 2

    renamed = request("PATCH", f"{url}/{session['id']}", {"name": "night sketches"})
    assert renamed.status == 200 and renamed.json()["session"]["name"] == "night sketches"
    shown = get(f"{url}/{session['id']}").json()
    assert shown["session"]["name"] == "night sketches"
    assert [j["id"] for j in shown["jobs"]] == [d["id"] for d in reversed(done)]

    files = [server.output_dir / d["images"][0]["subfolder"] / d["images"][0]["filename"] for d in done]
    assert all(f.exists() for f in files)
    kept = post(url, {"name": "kept images"}).json()["session"]
    other = submit(server, {"steps": 1, "size": 64, "seed": 3}, session_id=kept["id"]).json()["job"]
    other_done = wait_job(server, other["id"])[0]
    other_file = server.output_dir / other_done["images"][0]["subfolder"] / other_done["images"][0]["filename"]
    removed = request("DELETE", f"{url}/{kept['id']}")
    assert removed.status == 200 and removed.json()["jobs"] == 1 and removed.json()["trash"] is None
    assert other_file.exists() and get(f"{server.url}/cozygen/api/jobs/{other['id']}").status == 404

    removed = request("DELETE", f"{url}/{session['id']}?delete_images=true")
    assert removed.status == 200, removed.body
    body = removed.json()
    assert body["jobs"] == 2 and len(body["trash"]["ids"]) == 2 and body["trash"]["errors"] == []
    assert not any(f.exists() for f in files)
    assert all(get(f"{server.url}/cozygen/api/jobs/{d['id']}").status == 404 for d in done)
    assert get(f"{url}/{session['id']}").status == 404
    assert session["id"] not in [s["id"] for s in get(url).json()["sessions"]]
    restored = post(f"{server.url}/cozygen/api/gallery/restore", {"batch": body["trash"]["batch"]})
    assert restored.status == 200, restored.body
    assert all(f.exists() for f in files)


def test_cancelling_a_job_of_several_prompts_stops_them_all(server) -> None:
    save_long_workflow(server)
    created = submit(server, {"steps": 200, "size": 1024, "seed": 5}, workflow="jobs_long.json", num_images=3)
    assert created.status == 201, created.body
    several = created.json()["job"]
    assert len(several["prompt_ids"]) == 3
    wait_job(server, several["id"], until=lambda j: j["status"] == "running" and j["step"] >= 1)
    cancelling = post(f"{server.url}/cozygen/api/jobs/{several['id']}/cancel")
    assert cancelling.status == 202, cancelling.body
    done, _ = wait_job(server, several["id"])
    assert done["status"] == "cancelled", done
    running, pending = comfy_queue(server)
    assert not set(several["prompt_ids"]) & set(running + pending)
    assert not set(several["prompt_ids"][1:]) & set(history(server))  # the waiting prompts never ran


def test_previews_come_live_while_a_job_runs_and_end_with_it(server) -> None:
    from PIL import Image

    save_long_workflow(server)
    stream = EventStream(server)
    try:
        running = submit(server, {"steps": 200, "size": 1024, "seed": 9}, workflow="jobs_long.json").json()["job"]
        wait_job(server, running["id"], until=lambda j: j["status"] == "running" and j["step"] >= 2)
        shown = get(f"{server.url}/cozygen/api/jobs/{running['id']}/preview")
        assert shown.status == 200 and shown.headers["Content-Type"] == "image/jpeg", shown.body[:200]
        assert int(shown.headers["X-Preview-Number"]) >= 1 and shown.headers["Cache-Control"] == "no-store"
        with Image.open(io.BytesIO(shown.body)) as preview:
            assert preview.format == "JPEG" and max(preview.size) == 128  # the node's preview size
            low, high = preview.convert("L").getextrema()
            assert high - low > 32  # a picture, not a blank
        assert post(f"{server.url}/cozygen/api/jobs/{running['id']}/cancel").status == 202
        events = stream.wait_for("job.cancelled", running["id"])
    finally:
        stream.close()
    previews = [data for _, kind, data in events if kind == "job.preview" and data["id"] == running["id"]]
    assert previews, [kind for _, kind, _ in events]
    numbers = [p["preview"] for p in previews]
    assert numbers == sorted(set(numbers)) and all(p["step"] >= 1 for p in previews), numbers
    assert previews[0]["url"].startswith(f"/cozygen/api/jobs/{running['id']}/preview?n=")
    gone = get(f"{server.url}/cozygen/api/jobs/{running['id']}/preview")
    assert gone.status == 404 and gone.json()["code"] == "NO_PREVIEW" and "finished" in gone.json()["error"]
    assert get(f"{server.url}/cozygen/api/jobs/{uuid.uuid4()}/preview").status == 404


def first_events(server, until, headers: dict[str, str] | None = None, wait: float = 10, **query: str) -> list:
    """The events a new stream sends until ``until(events)`` holds, or ``wait`` seconds pass."""
    stream = EventStream(server, headers=headers, **query)
    try:
        deadline = time.monotonic() + wait
        with stream.changed:
            while not until(stream.events) and time.monotonic() < deadline:
                stream.changed.wait(0.2)
            return list(stream.events)
    finally:
        stream.close()


def test_a_job_that_ended_while_nobody_listened_is_reported_from_its_record(server) -> None:
    done = submit(server, {"steps": 2, "size": 64, "seed": 21}).json()["job"]
    done, _ = wait_job(server, done["id"])
    assert done["status"] == "completed"

    # A stream for that job, opened later: it hears how the job ended, from the record, without an id.
    (event,) = first_events(server, lambda events: events, job_id=done["id"])
    event_id, kind, data = event
    assert (event_id, kind) == ("", "job.completed") and data["from_record"] is True
    assert data["id"] == done["id"] and data["images"] == done["images"] and data["status"] == "completed"

    # A phone back after a restart (its Last-Event-ID is from another boot): reset, then the jobs that ended.
    told = lambda events: any(data.get("id") == done["id"] for _, _, data in events)  # noqa: E731
    events = first_events(server, told, headers={"Last-Event-ID": "1-5"})
    assert events[0][1] == "reset", events
    ended = {data["id"]: (event_id, kind) for event_id, kind, data in events[1:]}
    assert ended.get(done["id"]) == ("", "job.completed"), events

    # A client that saw everything up to a recent id is not told again.
    stream = EventStream(server)
    try:
        later = submit(server, {"steps": 2, "size": 64, "seed": 22}).json()["job"]
        wait_job(server, later["id"])
        time.sleep(0.3)
    finally:
        stream.close()
    last_id = next(e[0] for e in reversed(stream.events) if e[0])
    assert first_events(server, lambda events: events, {"Last-Event-ID": last_id}, wait=1, job_id=done["id"]) == []


def test_a_job_of_several_images_keeps_every_graph_and_reproduces_them_all(server) -> None:
    import numpy

    original = submit(server, {"prompt": "four of a kind", "steps": 2, "size": 64, "seed": 500}, num_images=3)
    original, _ = wait_job(server, original.json()["job"]["id"])
    assert original["status"] == "completed" and len(original["images"]) == 3, original
    ran = get(f"{server.url}/cozygen/api/jobs/{original['id']}/workflow").json()
    assert [g["prompt_id"] for g in ran["graphs"]] == original["prompt_ids"]
    seeds = [g["graph"]["2"]["inputs"]["seed"] for g in ran["graphs"]]  # the Seed node feeds the drawing
    assert seeds == [500, 501, 502] and ran["graph"] == ran["graphs"][0]["graph"]

    again = post(f"{server.url}/cozygen/api/jobs/{original['id']}/reproduce")
    assert again.status == 201, again.body
    copy, _ = wait_job(server, again.json()["job"]["id"])
    assert copy["status"] == "completed" and len(copy["prompt_ids"]) == 3, copy
    for first, second in zip(original["images"], copy["images"], strict=True):
        assert first["filename"] != second["filename"]
        assert numpy.array_equal(pixels(server, first), pixels(server, second))


def test_when_one_image_of_a_job_fails_the_rest_leave_comfyuis_queue(server) -> None:
    save_failing_workflow(server)
    save_long_workflow(server)
    blocker = submit(server, {"steps": 200, "size": 1024, "seed": 4}, workflow="jobs_long.json").json()["job"]
    failing = submit(server, {"steps": 80, "size": 64}, workflow="jobs_fails_at_run_time.json", num_images=3)
    assert failing.status == 201, failing.body
    failing = failing.json()["job"]
    assert set(failing["prompt_ids"][1:]) <= set(comfy_queue(server)[1])  # all three wait behind the blocker
    assert post(f"{server.url}/cozygen/api/jobs/{blocker['id']}/cancel").status in (200, 202)
    failed, _ = wait_job(server, failing["id"])
    assert failed["status"] == "failed" and "outside the allowed range" in failed["error"], failed
    time.sleep(0.5)
    ran = history(server)
    assert failing["prompt_ids"][0] in ran
    assert not set(failing["prompt_ids"][1:]) & set(ran), "the other images ran after the job had failed"
    assert not set(failing["prompt_ids"]) & set(comfy_queue(server)[1])


def test_wildcards_in_a_prompt_are_drawn_by_the_jobs_seed(server) -> None:
    values = {"prompt": "__subject__ in __place__, {watercolor|ink}", "steps": 1, "size": 64, "seed": 77}
    first = submit(server, values).json()["job"]
    second = submit(server, values).json()["job"]
    drawn = first["params"]["prompt"]
    assert "__" not in drawn and "{" not in drawn and " in " in drawn, drawn
    assert second["params"]["prompt"] == drawn and first["values"]["prompt"] == values["prompt"]
    ran = get(f"{server.url}/cozygen/api/jobs/{first['id']}/workflow").json()["graph"]
    assert ran["1"]["inputs"]["value"] == drawn  # the graph ComfyUI ran holds the drawn text
    unknown = submit(server, {**values, "prompt": "__no_such_list__"})
    assert unknown.status == 400 and "__no_such_list__" in unknown.json()["fields"]["prompt"], unknown.body
