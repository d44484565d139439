"""The workflows saved in ComfyUI's editor, on the phone, against a real ComfyUI with auth on: listed per user,
opened as a form, run, never written, and refused with 409 when the file changed since the form was opened."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from support import AUTH_ENV, StreamEvents, get, household, post

DATA = Path(__file__).resolve().parent.parent / "data" / "ui_workflows"


def runnable() -> bytes:
    """CozyGen's nodes in the editor's format, its Choice node muted (its choices are empty on the test host)."""
    document = json.loads((DATA / "cozygen_nodes.json").read_text())
    for node in document["nodes"]:
        if node["type"] == "CozyGenChoice":
            node["mode"] = 2
    return json.dumps(document, indent=1).encode()


COZY = runnable()


def app_mode_document() -> dict[str, Any]:
    """A picture made once, saved by CozyGen's output and by ComfyUI's SaveImage; App mode picks two of its
    widgets (one renamed by the author, in their order) and only SaveImage's images as the results."""
    document = json.loads((DATA / "cozygen_nodes.json").read_text())
    picture, output = (next(n for n in document["nodes"] if n["id"] == i) for i in (7, 8))
    picture["outputs"][0]["links"] = [1, 2]
    picture["inputs"] = [{"name": "width", "type": "INT", "widget": {"name": "width"}, "link": None, "label": "Wide"}]
    picture["widgets_values"] = [64, 64, 0, "fixed", "", 2, 1]
    save = {**output, "id": 9, "type": "SaveImage", "inputs": [{"name": "images", "type": "IMAGE", "link": 2}],
            "widgets_values": ["AppMode"]}  # fmt: skip
    document["nodes"] = [picture, output, save]
    document["links"] = [[1, 7, 0, 8, 0, "IMAGE"], [2, 7, 0, 9, 0, "IMAGE"]]
    document["last_node_id"], document["last_link_id"] = 9, 2
    document["extra"]["linearData"] = {"inputs": [[7, "text"], [7, "width"]], "outputs": [9]}
    return document


USERS = {"ann_0a1b": "ann", "bob_2c3d": "bob", "vera_4e5f": "vera"}  # ComfyUI's users.json: {id: name}
FINISHED = ("completed", "failed", "cancelled", "interrupted")


@pytest.fixture(scope="module")
def server(start_comfyui):
    server = start_comfyui("ComfyUI-CozyGen-editor-workflows", env=AUTH_ENV)
    user_dir = server.user_dir
    (user_dir / "users.json").write_text(json.dumps(USERS))
    for folder, name in (
        ("default", "Portraits/cozy nodes.json"),
        ("ann_0a1b", "mine.json"),
        ("bob_2c3d", "secret.json"),
        ("vera_4e5f", "hers.json"),
    ):
        path = user_dir / folder / "workflows" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(COZY)
    return server


@pytest.fixture(scope="module")
def people(server) -> dict[str, dict[str, str]]:
    return household(server.url, {"ann": "user", "bob": "user", "vera": "viewer"})


def listing(server, headers: dict[str, str]) -> dict[str, Any]:
    reply = get(f"{server.url}/cozygen/workflows?warnings=1", headers=headers)
    assert reply.status == 200, reply.body
    return reply.json()


def editor_names(body: dict[str, Any]) -> list[str]:
    return [name for name in body["workflows"] if body["details"][name]["source"] == "editor"]


def values_for(parameters: list[dict[str, Any]]) -> dict[str, Any]:
    chosen: dict[str, Any] = {}
    for p in parameters:
        value = p.get("default")
        if value in (None, "") and p.get("choices"):
            value = p["choices"][0]
        if p["type"] in ("string", "text") and value in (None, ""):
            value = "a test"
        chosen[p["name"]] = value
    return chosen


def wait_job(server, headers: dict[str, str], job_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = get(f"{server.url}/cozygen/api/jobs/{job_id}", headers=headers).json()["job"]
        if job["status"] in FINISHED:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def test_each_user_lists_and_opens_only_their_own_editor_workflows(server, people) -> None:
    admin, ann, bob, vera = people["admin"], people["ann"], people["bob"], people["vera"]
    seen = listing(server, admin)
    assert editor_names(seen) == ["editor/Portraits/cozy nodes.json"]
    assert seen["details"]["editor/Portraits/cozy nodes.json"]["folder"] == "Portraits"
    assert seen["warnings"]["editor/Portraits/cozy nodes.json"]["ok"] is True
    assert editor_names(listing(server, ann)) == ["editor/mine.json"]
    assert editor_names(listing(server, bob)) == ["editor/secret.json"]
    assert editor_names(listing(server, vera)) == ["editor/hers.json"]
    (server.user_dir / "users.json").write_text(json.dumps({"ann_0a1b": "ann", "bob_2c3d": "bob"}))
    assert editor_names(listing(server, vera)) == []  # no ComfyUI user named vera now, and not an admin
    (server.user_dir / "users.json").write_text(json.dumps(USERS))
    plain = get(f"{server.url}/cozygen/workflows", headers=ann).json()["workflows"]
    assert not any(name.startswith("editor/") for name in plain)  # seed 004's list: CozyGen's own names
    for name in ("editor/secret.json", "editor/../bob_2c3d/workflows/secret.json", "editor%2F..%2F..%2Fbob_2c3d"):
        path = quote(name, safe="%")
        assert get(f"{server.url}/cozygen/api/workflows/{path}/schema", headers=ann).status in (400, 404)
        assert get(f"{server.url}/cozygen/workflows/{path}", headers=ann).status in (400, 404)
    job = {"workflow": "editor/secret.json", "values": {}}
    assert post(f"{server.url}/cozygen/api/jobs", job, headers=ann).status == 404
    # a viewer lists and opens, but changes nothing and runs nothing
    hers = quote("editor/hers.json", safe="")
    assert get(f"{server.url}/cozygen/api/workflows/{hers}/schema", headers=vera).status == 200
    run = {"workflow": "editor/hers.json", "values": {}}
    assert post(f"{server.url}/cozygen/api/jobs", run, headers=vera).status == 403
    assert post(f"{server.url}/cozygen/workflows/{hers}", json.loads(COZY), headers=vera).status == 403
    shared = post(f"{server.url}/cozygen/workflows/{quote('editor/mine.json', safe='')}", json.loads(COZY), headers=ann)
    assert shared.status == 400  # never written through CozyGen, even by its owner
    preset = {"workflow": "editor/x.json", "preset": {"name": "p", "values": {}}}
    assert post(f"{server.url}/cozygen/api/workflow_presets", preset, headers=vera).status == 403


def test_an_editor_workflow_runs_and_its_file_is_never_rewritten(server, people) -> None:
    admin, ann = people["admin"], people["ann"]
    path = server.user_dir / "ann_0a1b" / "workflows" / "mine.json"
    before = path.read_bytes()
    url = f"{server.url}/cozygen/api/workflows/{quote('editor/mine.json', safe='')}/schema"
    schema = get(url, headers=ann)
    assert schema.status == 200, schema.body
    revision, parameters = schema.json()["revision"], schema.json()["parameters"]
    assert parameters and revision
    values = values_for(parameters)
    graph = get(f"{server.url}/cozygen/workflows/{quote('editor/mine.json', safe='')}", headers=ann).json()
    assert "CozyGenOutput" in {node["class_type"] for node in graph.values()}  # the API graph, for old clients
    preset = {"workflow": "editor/mine.json", "preset": {"name": "Mine", "values": values}}
    saved = post(f"{server.url}/cozygen/api/workflow_presets", preset, headers=ann)
    assert saved.status == 200, saved.body
    kept = get(f"{server.url}/cozygen/api/workflow_presets?workflow={quote('editor/mine.json')}", headers=ann)
    assert [p["name"] for p in kept.json()["presets"]] == ["Mine"]
    body = {"workflow": "editor/mine.json", "values": values, "revision": revision}
    created = post(f"{server.url}/cozygen/api/jobs", body, headers=ann)
    assert created.status == 201, created.body
    job = wait_job(server, ann, created.json()["job"]["id"])
    assert job["status"] == "completed", job
    assert path.read_bytes() == before
    deadline = time.monotonic() + 30  # the image reaches the gallery's index just after the job's end
    while "editor/mine.json" not in listing(server, ann)["latest"]:  # the card's thumbnail: its last output
        assert time.monotonic() < deadline, listing(server, ann)["latest"]
        time.sleep(0.1)
    assert "editor/Portraits/cozy nodes.json" not in listing(server, admin)["latest"]

    # changed in the editor meanwhile: a job of the old revision is refused, the new one runs
    path.write_bytes(before.replace(b'"mode": 0', b'"mode": 0 ', 1) + b"\n")
    refused = post(f"{server.url}/cozygen/api/jobs", body, headers=ann)
    assert refused.status == 409 and refused.json()["code"] == "WORKFLOW_CHANGED", refused.body
    assert "changed in the editor" in refused.json()["error"]
    fresh = get(url, headers=ann).json()["revision"]
    assert fresh != revision and fresh == refused.json()["revision"]
    again = post(f"{server.url}/cozygen/api/jobs", {**body, "revision": fresh}, headers=ann)
    assert again.status == 201, again.body
    assert wait_job(server, ann, again.json()["job"]["id"])["status"] == "completed"


def test_a_file_that_does_not_convert_is_listed_with_its_problems(server, people) -> None:
    folder = server.user_dir / "default" / "workflows"
    document = json.loads(COZY)
    document["nodes"][0]["type"] = "NoSuchNodeAnywhere"
    (folder / "lacks.json").write_text(json.dumps(document))
    (folder / "broken.json").write_text("{")
    seen = listing(server, people["admin"])
    assert {"editor/lacks.json", "editor/broken.json"} <= set(seen["workflows"])
    lacks = seen["warnings"]["editor/lacks.json"]
    assert lacks["ok"] is False and lacks["missing_nodes"][0]["class_type"] == "NoSuchNodeAnywhere"
    assert seen["warnings"]["editor/broken.json"]["ok"] is False
    schema = get(
        f"{server.url}/cozygen/api/workflows/{quote('editor/lacks.json', safe='')}/schema", headers=people["admin"]
    )
    assert schema.status == 400 and schema.json()["code"] == "UI_CONVERT"


def test_app_mode_shows_the_authors_inputs_and_only_the_chosen_outputs(server, people) -> None:
    ann = people["ann"]
    (server.user_dir / "ann_0a1b" / "workflows" / "app.json").write_text(json.dumps(app_mode_document()))
    name = quote("editor/app.json", safe="")
    schema = get(f"{server.url}/cozygen/api/workflows/{name}/schema", headers=ann)
    assert schema.status == 200, schema.body
    parameters = schema.json()["parameters"]
    assert [(p["name"], p["label"]) for p in parameters] == [("text", "text"), ("width", "Wide")]
    values = {"text": "only the chosen output", "width": 96}
    before = set(server.output_dir.rglob("*.png"))
    created = post(f"{server.url}/cozygen/api/jobs", {"workflow": "editor/app.json", "values": values}, headers=ann)
    assert created.status == 201, created.body
    job = wait_job(server, ann, created.json()["job"]["id"])
    assert job["status"] == "completed", job
    assert [image["filename"].split("_")[0] for image in job["images"]] == ["AppMode"], job["images"]
    made = sorted(
        path.relative_to(server.output_dir).parts[0] for path in set(server.output_dir.rglob("*.png")) - before
    )
    assert made == ["AppMode_00001_.png", "CozyGen"], made  # both outputs ran, as in the editor
    reproduced = post(f"{server.url}/cozygen/api/jobs/{job['id']}/reproduce", {}, headers=ann)
    assert reproduced.status in (200, 201), reproduced.body
    again = wait_job(server, ann, reproduced.json()["job"]["id"])
    assert [image["filename"].split("_")[0] for image in again["images"]] == ["AppMode"], again["images"]


def test_a_save_in_the_editor_is_told_to_its_owner_only(server, people) -> None:
    """workflows.changed on the jobs stream: ann hears of her file, with its name; bob hears nothing of it;
    a change of CozyGen's own folder reaches both, without names."""
    ann, bob = people["ann"], people["bob"]
    with (
        StreamEvents(server.url, ann, "/cozygen/api/events?workflows=1") as anns,
        StreamEvents(server.url, bob, "/cozygen/api/events?workflows=1") as bobs,
        StreamEvents(server.url, ann, "/cozygen/api/events") as jobs_only,  # other clients: jobs, as before
    ):
        (server.user_dir / "ann_0a1b" / "workflows" / "Later").mkdir(exist_ok=True)
        (server.user_dir / "ann_0a1b" / "workflows" / "Later" / "new.json").write_bytes(COZY)

        def of_new(events: list[dict]) -> list[dict]:  # (a late event of an earlier test's saves may come first)
            return [e for e in events if "editor/Later/new.json" in e["names"]]

        deadline = time.monotonic() + 30
        while not of_new(anns.named("workflows.changed")) and time.monotonic() < deadline:
            time.sleep(0.1)
        told = of_new(anns.named("workflows.changed"))
        assert told, anns.named("workflows.changed")
        assert told[0]["source"] == "editor" and told[0]["editor"] == "ann_0a1b", told
        assert all(e["source"] == "cozygen" and not e["names"] for e in bobs.named("workflows.changed"))
        seen = len(anns.named("workflows.changed"))
        imported = post(f"{server.url}/cozygen/api/workflows/import?name=bobs", json.loads(COZY), headers=bob)
        assert imported.status in (200, 201), imported.body
        while len(bobs.named("workflows.changed")) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert bobs.named("workflows.changed")
        assert all(e == {"source": "cozygen", "editor": None, "names": []} for e in bobs.named("workflows.changed"))
        while len(anns.named("workflows.changed")) <= seen and time.monotonic() < deadline:
            time.sleep(0.1)
    assert all(e["source"] == "cozygen" for e in anns.named("workflows.changed")[seen:])
    assert jobs_only.named("workflows.changed") == []
    assert listing(server, ann)["details"]["editor/Later/new.json"]["folder"] == "Later"
