"""Workflows from anywhere (issue 17, items 7 and 8) against a real ComfyUI: the workflow inside a gallery image
(CozyGen's own and one saved by ComfyUI's SaveImage) opened, saved as the caller's and run; imports of files in
either format; the all-settings view and its node overrides; and the bad input that must write nothing."""

from __future__ import annotations

import copy
import io
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from PIL import Image, PngImagePlugin
from support import ADMIN, AUTH_ENV, get, household, job_done, post, request

FORM = "cozygen_procedural_form.json"
UI_WORKFLOW: dict[str, Any] = {
    "last_node_id": 2,
    "last_link_id": 1,
    "nodes": [
        {
            "id": 1,
            "type": "CozyGenProceduralImage",
            "mode": 0,
            "inputs": [],
            "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [1]}],
            "widgets_values": [64, 64, 7, "fixed", "from the editor", 2, 1],
        },
        {
            "id": 2,
            "type": "SaveImage",
            "mode": 0,
            "inputs": [{"name": "images", "type": "IMAGE", "link": 1}],
            "outputs": [],
            "widgets_values": ["editor_saved"],
        },
    ],
    "links": [[1, 1, 0, 2, 0, "IMAGE"]],
    "groups": [],
    "config": {},
    "extra": {},
    "version": 0.4,
}


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-from-images", env=AUTH_ENV)


@pytest.fixture(scope="module")
def people(server) -> dict[str, dict[str, str]]:
    return household(server.url, {"ann": "user", "bob": "user", "vic": "viewer"}, per_user=True)


def saved_dir(server) -> Path:
    return server.user_dir / "cozygen" / "workflows"


def saved_files(server) -> list[str]:
    folder = saved_dir(server)
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def run(server, headers: dict[str, str], workflow: str, values: dict[str, Any]) -> dict[str, Any]:
    return job_done(server.url, headers, workflow, values)


def image_id(server, headers: dict[str, str], filename: str) -> int:
    deadline = time.monotonic() + 15
    while True:
        query = urlencode({"recursive": "true", "per_page": 500})
        items = get(f"{server.url}/cozygen/api/gallery?{query}", headers=headers).json()["items"]
        found = [i["id"] for i in items if i.get("filename") == filename]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"{filename} never reached the gallery"
        time.sleep(0.1)


def image_workflow(server, headers: dict[str, str], image: int | str) -> Any:
    return get(f"{server.url}/cozygen/api/images/{image}/workflow", headers=headers)


def test_a_cozygen_image_opens_as_a_form_saves_and_runs(server, people) -> None:
    ann = people["ann"]
    job = run(server, ann, FORM, {"prompt": "lantern in the snow", "steps": 2, "size": 64, "seed": 5})
    made = job["images"][0]["filename"]
    image = image_id(server, ann, made)

    opened = image_workflow(server, ann, image)
    assert opened.status == 200, opened.body
    body = opened.json()
    assert body["format"] == "api" and body["check"]["ok"], body["check"]
    assert body["params"]["prompt"] == "lantern in the snow"  # CozyGen's own chunk
    texts = [n["inputs"].get("value") for n in body["prompt"].values() if n["class_type"] == "CozyGenString"]
    assert "lantern in the snow" in texts  # exactly what ran

    # another user never sees it, nor can save it; a viewer may look but not save
    assert image_workflow(server, people["bob"], image).json()["code"] == "IMAGE_NOT_FOUND"
    theft = post(f"{server.url}/cozygen/api/images/{image}/workflow/save", {}, headers=people["bob"])
    assert theft.status == 404 and theft.json()["code"] == "IMAGE_NOT_FOUND"
    assert post(f"{server.url}/cozygen/api/images/{image}/workflow/save", {}, headers=people["vic"]).status == 403

    first = post(f"{server.url}/cozygen/api/images/{image}/workflow/save", {}, headers=ann)
    second = post(f"{server.url}/cozygen/api/images/{image}/workflow/save", {}, headers=ann)
    assert first.status == 200, first.body
    name, again = first.json()["filename"], second.json()["filename"]
    assert body["name"] == "form_00001" and made.startswith(body["name"])  # the image's name, made safe
    assert (name, again) == (f"{body['name']}.json", f"{body['name']} 2.json")

    schema = get(f"{server.url}/cozygen/api/workflows/{quote(name)}/schema", headers=ann).json()["parameters"]
    prompt = next(p for p in schema if p["name"] == "prompt")
    assert prompt["default"] == "lantern in the snow"  # the form opens with what made the image
    rerun = run(server, ann, name, {"steps": 2})
    assert rerun["images"], rerun
    # bob may not write over ann's copy: the name is free only to her
    assert post(f"{server.url}/cozygen/workflows/{quote(name)}", body["prompt"], headers=people["bob"]).status == 403


def test_an_image_saved_by_comfyuis_saveimage_opens_too(server, people) -> None:
    admin = people["admin"]
    graph = post(f"{server.url}/cozygen/api/workflows/check", UI_WORKFLOW, headers=admin)
    assert graph.status == 400  # the check is for API graphs; the import converts
    imported = request(
        "POST",
        f"{server.url}/cozygen/api/workflows/import?name=editor%20file",
        raw=json.dumps(UI_WORKFLOW).encode(),
        headers={**admin, "Content-Type": "application/json"},
    )
    assert imported.status == 200, imported.body
    api_graph = json.loads((saved_dir(server) / imported.json()["filename"]).read_text())
    queued = post(
        f"{server.url}/prompt",
        {"prompt": api_graph, "extra_data": {"extra_pnginfo": {"workflow": UI_WORKFLOW}}},
        headers=admin,
    )
    assert queued.status == 200, queued.body
    deadline = time.monotonic() + 60
    while not list(server.output_dir.glob("editor_saved_*.png")):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    made = sorted(server.output_dir.glob("editor_saved_*.png"))[0].name
    image = image_id(server, admin, made)
    body = image_workflow(server, admin, image).json()
    assert body["format"] == "api" and body["prompt"]["1"]["inputs"]["text"] == "from the editor"

    # a PNG with only the editor's workflow chunk: converted with this host's definitions
    info = PngImagePlugin.PngInfo()
    info.add_text("workflow", json.dumps(UI_WORKFLOW))
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "PNG", pnginfo=info)
    (server.output_dir / "only_ui_chunk.png").write_bytes(buffer.getvalue())
    Image.new("RGB", (4, 4)).save(server.output_dir / "no_chunks.png")
    Image.new("RGB", (4, 4)).save(server.output_dir / "still.webp")
    only_ui = image_workflow(server, admin, image_id(server, admin, "only_ui_chunk.png")).json()
    assert only_ui["format"] == "ui" and only_ui["prompt"] == api_graph
    for name in ("no_chunks.png", "still.webp"):
        none = image_workflow(server, admin, image_id(server, admin, name))
        assert none.status == 404 and none.json()["code"] == "NO_WORKFLOW" and "no workflow" in none.json()["error"]
        saved = post(
            f"{server.url}/cozygen/api/images/{image_id(server, admin, name)}/workflow/save", {}, headers=admin
        )
        assert saved.status == 404


def import_raw(server, headers: dict[str, str], raw: bytes, name: str = "pasted") -> Any:
    return request(
        "POST",
        f"{server.url}/cozygen/api/workflows/import?name={quote(name)}",
        raw=raw,
        headers={**headers, "Content-Type": "application/json"},
    )


def test_imports_in_either_format_are_the_callers_own(server, people) -> None:
    ann = people["ann"]
    from_ui = import_raw(server, ann, json.dumps(UI_WORKFLOW).encode(), "../../My Flow.json")
    assert from_ui.status == 200, from_ui.body
    assert from_ui.json()["format"] == "ui" and from_ui.json()["filename"] == "My Flow.json"
    api_graph = json.loads((saved_dir(server) / "My Flow.json").read_text())
    from_api = import_raw(server, ann, json.dumps(api_graph).encode(), "My Flow")
    assert from_api.json()["format"] == "api" and from_api.json()["filename"] == "My Flow 2.json"
    # the all-settings view and a node override, run for real
    nodes = get(f"{server.url}/cozygen/api/workflows/{quote('My Flow.json')}/nodes", headers=ann).json()["nodes"]
    first = next(n for n in nodes if n["id"] == "1")
    assert first["class_type"] == "CozyGenProceduralImage" and first["title"]
    widgets = {w["input"]: w for w in first["widgets"]}
    assert widgets["steps"]["default"] == 2 and widgets["steps"]["name"] == "1.steps"
    assert widgets["width"]["min"] is not None and widgets["text"]["linked"] is False
    job = run(server, ann, "My Flow.json", {"1.text": "set in all settings", "1.width": 80})
    with Image.open(server.output_dir / job["images"][0]["filename"]) as made:  # SaveImage: everyone's output
        ran = json.loads(made.info["prompt"])
    assert ran["1"]["inputs"]["text"] == "set in all settings" and ran["1"]["inputs"]["width"] == 80


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"1.width": 10**9}, "1.width"),  # out of bounds
        ({"1.steps": "two"}, "1.steps"),  # wrong type
        ({"77.steps": 2}, "77.steps"),  # unknown node
        ({"2.images": 1}, "2.images"),  # a linked input (no widget)
        ({"1.nope": 1}, "1.nope"),
    ],
)
def test_bad_node_overrides_are_field_errors(server, people, values: dict[str, Any], field: str) -> None:
    reply = post(
        f"{server.url}/cozygen/api/jobs", {"workflow": "My Flow.json", "values": values}, headers=people["ann"]
    )
    assert reply.status == 400, reply.body
    assert field in reply.json()["fields"], reply.json()


def bad_ui(change: Any) -> bytes:
    data = copy.deepcopy(UI_WORKFLOW)
    change(data)
    return json.dumps(data).encode()


def add_cycle(data: dict[str, Any]) -> None:
    data["nodes"].append(
        {"id": 3, "type": "ImageInvert", "mode": 0, "inputs": [{"name": "image", "type": "IMAGE", "link": 2}],
         "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [3]}]}
    )  # fmt: skip
    data["nodes"].append(
        {"id": 4, "type": "ImageInvert", "mode": 0, "inputs": [{"name": "image", "type": "IMAGE", "link": 3}],
         "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [2]}]}
    )  # fmt: skip
    data["links"] += [[2, 4, 0, 3, 0, "IMAGE"], [3, 3, 0, 4, 0, "IMAGE"]]


def self_subgraph(data: dict[str, Any]) -> None:
    sub = "11111111-2222-3333-4444-555555555555"
    data["definitions"] = {
        "subgraphs": [
            {"id": sub, "name": "loop", "nodes": [{"id": 1, "type": sub, "inputs": [], "outputs": []}], "links": [],
             "inputs": [], "outputs": []}
        ]
    }  # fmt: skip
    data["nodes"].append({"id": 5, "type": sub, "mode": 0, "inputs": [], "outputs": []})


BAD_FILES = {
    "neither format": (json.dumps({"hello": "world"}).encode(), None),
    "a list": (b"[1, 2]", None),
    "not json": (b"{nope", None),
    "a cycle": (bad_ui(add_cycle), "3"),
    "a link to a missing node": (bad_ui(lambda d: d["links"][0].__setitem__(1, 99)), "2"),
    "a subgraph that references itself": (bad_ui(self_subgraph), "5"),
    "too few widget values": (bad_ui(lambda d: d["nodes"][0].__setitem__("widgets_values", [64])), "1"),
    "too many widget values": (bad_ui(lambda d: d["nodes"][0]["widgets_values"].extend([1, 2, 3])), "1"),
    "1000 deep": (("[" * 1000 + "]" * 1000).encode(), None),
    "an API graph with a cycle": (
        json.dumps(
            {
                "1": {"class_type": "ImageInvert", "inputs": {"image": ["2", 0]}},
                "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
            }
        ).encode(),
        "1",
    ),  # fmt: skip
    "an API link to a missing node": (
        json.dumps({"1": {"class_type": "ImageInvert", "inputs": {"image": ["9", 0]}}}).encode(),
        "1",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_are_refused_naming_the_node_and_write_nothing(server, people, case: str) -> None:
    raw, node = BAD_FILES[case]
    before = saved_files(server)
    reply = import_raw(server, people["ann"], raw)
    assert reply.status == 400, (case, reply.status, reply.body[:300])
    body = reply.json()
    assert body["error"] and body["code"] in ("UI_CONVERT", "INVALID_JSON"), body
    if node is not None:
        named = [e["node_id"] for e in body["invalid_values"]] + [
            i for e in body["missing_nodes"] for i in e["node_ids"]
        ]
        assert any(n == node or n.startswith(f"{node}:") for n in named), body
    assert saved_files(server) == before


def test_a_50_mb_file_is_refused_before_it_is_read(server, people) -> None:
    before = saved_files(server)
    raw = b'{"nodes": [], "links": [], "pad": "' + b"x" * (50 * 1024 * 1024) + b'"}'
    reply = import_raw(server, people["ann"], raw)
    assert reply.status in (400, 413) and reply.json()["code"] in ("UI_CONVERT", "TOO_LARGE"), reply.body[:300]
    assert saved_files(server) == before


def test_a_missing_workflow_and_a_viewer(server, people) -> None:
    assert get(f"{server.url}/cozygen/api/workflows/nope.json/nodes", headers=people["ann"]).status == 404
    shipped = get(f"{server.url}/cozygen/api/workflows/{FORM}/nodes", headers=people["vic"])  # a seed's max is 2**64
    assert shipped.status == 200, shipped.body
    assert [n["class_type"] for n in shipped.json()["nodes"]][:2] == ["CozyGenString", "CozyGenSeed"]
    assert import_raw(server, people["vic"], json.dumps(UI_WORKFLOW).encode()).status == 403
    huge = "99999999999999999999999"  # past SQLite's 64-bit INTEGER
    assert image_workflow(server, people["ann"], huge).json()["code"] == "IMAGE_NOT_FOUND"
    assert get(f"{server.url}/cozygen/api/images/12abc/workflow", headers=people["ann"]).json()["code"] == "INVALID_ID"
    save = post(f"{server.url}/cozygen/api/images/{huge}/workflow/save", {}, headers=people["ann"])
    assert save.status == 404 and save.json()["code"] == "IMAGE_NOT_FOUND"
    assert ADMIN  # the admin sees every image (per_user applies to users)
