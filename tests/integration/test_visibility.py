"""gallery_visibility per_user: a user sees only the outputs of their own jobs, in every route that shows one."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from support import AUTH_ENV, GalleryEvents, get, household, job_done, post, request

FORM = "cozygen_procedural_form.json"


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui(
        "ComfyUI-CozyGen-visibility",
        env=AUTH_ENV,
    )


@pytest.fixture(scope="module")
def people(server) -> dict[str, dict[str, str]]:
    return household(server.url, {"ann": "user", "bob": "user"})


def set_visibility(server, people, value: str) -> None:
    changed = request(
        "PATCH", f"{server.url}/cozygen/api/settings", {"gallery_visibility": value}, headers=people["admin"]
    )
    assert changed.status == 200, changed.body


def generate(server, headers: dict[str, str], prompt: str, seed: int) -> dict:
    values = {"prompt": prompt, "steps": 2, "size": 64, "seed": seed}
    return job_done(server.url, headers, FORM, values, timeout=60)["images"][0]


def gallery_ids(server, headers: dict[str, str], **query: str) -> dict[str, int]:
    """filename -> id of every output the caller is shown (recursive)."""
    path = "/cozygen/api/gallery?" + urlencode({"recursive": "true", "per_page": 500, **query})
    deadline = time.monotonic() + 10
    while True:
        reply = get(f"{server.url}{path}", headers=headers)
        assert reply.status == 200, reply.body
        found = {i["filename"]: i["id"] for i in reply.json()["items"] if i["type"] != "directory"}
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_per_user_shows_each_user_only_their_own_outputs(server, people) -> None:
    set_visibility(server, people, "per_user")
    with (
        GalleryEvents(server.url, people["ann"]) as ann_stream,
        GalleryEvents(server.url, people["bob"]) as bob_stream,
    ):
        ann_image = generate(server, people["ann"], "ann's lantern", 1)
        bob_image = generate(server, people["bob"], "bob's boat", 2)
        time.sleep(1.0)  # the watcher's events
    assert ann_image["filename"] in ann_stream.names and bob_image["filename"] not in ann_stream.names
    assert bob_image["filename"] in bob_stream.names and ann_image["filename"] not in bob_stream.names

    everything = gallery_ids(server, people["admin"])
    assert {ann_image["filename"], bob_image["filename"]} <= set(everything)
    ann_sees, bob_sees = gallery_ids(server, people["ann"]), gallery_ids(server, people["bob"])
    assert set(ann_sees) == {ann_image["filename"]} and set(bob_sees) == {bob_image["filename"]}
    assert gallery_ids(server, people["bob"], search="lantern") == {}  # a search finds nothing of ann's
    assert set(gallery_ids(server, people["admin"], search="lantern")) == {ann_image["filename"]}

    ann_id = everything[ann_image["filename"]]
    sub, name = ann_image["subfolder"], ann_image["filename"]
    refused = {
        "image": get(f"{server.url}/cozygen/api/images/{ann_id}", headers=people["bob"]),
        "metadata": get(f"{server.url}/cozygen/api/images/{ann_id}/metadata", headers=people["bob"]),
        "thumb by id": get(f"{server.url}/cozygen/api/images/{ann_id}/thumb", headers=people["bob"]),
        "thumb by name": get(
            f"{server.url}/cozygen/thumb?" + urlencode({"filename": name, "subfolder": sub}), headers=people["bob"]
        ),
        "prompt": get(
            f"{server.url}/cozygen/api/gallery/prompt?" + urlencode({"filename": name, "subfolder": sub}),
            headers=people["bob"],
        ),
        "ComfyUI /view": get(
            f"{server.url}/view?" + urlencode({"filename": name, "subfolder": sub, "type": "output"}),
            headers=people["bob"],
        ),
        "to-input": post(f"{server.url}/cozygen/api/images/{ann_id}/to-input", headers=people["bob"]),
        "delete": request("DELETE", f"{server.url}/cozygen/api/images/{ann_id}", headers=people["bob"]),
        "delete by name": post(
            f"{server.url}/cozygen/api/gallery/delete", {"filename": name, "subfolder": sub}, headers=people["bob"]
        ),
        "CyberImage": get(f"{server.url}/cozygen/compat/cyberimage/api/get_image/{ann_id}", headers=people["bob"]),
    }
    assert {what: r.status for what, r in refused.items() if r.status != 404} == {}
    assert get(f"{server.url}/cozygen/api/images/{ann_id}", headers=people["ann"]).status == 200
    view = f"{server.url}/view?" + urlencode({"filename": name, "subfolder": sub, "type": "output"})
    assert get(view, headers=people["ann"]).status == 200 and get(view, headers=people["admin"]).status == 200

    # ComfyUI's own history and queue list only the caller's prompts (they hold the prompt texts)
    jobs_of = {who: get(f"{server.url}/cozygen/api/jobs", headers=people[who]).json()["jobs"] for who in people}
    ann_prompt, bob_prompt = jobs_of["ann"][0]["prompt_id"], jobs_of["bob"][0]["prompt_id"]
    for path in ("/history", "/api/history"):
        assert set(get(f"{server.url}{path}", headers=people["bob"]).json()) == {bob_prompt}
        assert {ann_prompt, bob_prompt} <= set(get(f"{server.url}{path}", headers=people["admin"]).json())
    assert get(f"{server.url}/history/{ann_prompt}", headers=people["bob"]).json() == {}
    assert ann_prompt in get(f"{server.url}/history/{ann_prompt}", headers=people["ann"]).json()
    waiting = [
        post(
            f"{server.url}/cozygen/api/jobs",
            {"workflow": FORM, "values": {"prompt": "bob's long one", "steps": 50, "size": 1024, "seed": n}},
            headers=people["bob"],
        ).json()["job"]
        for n in range(3)
    ]
    try:

        def listed(who: str) -> set[str]:
            body = get(f"{server.url}/queue", headers=people[who]).json()
            return {item[1] for item in body["queue_running"] + body["queue_pending"]}

        bobs = {j["prompt_id"] for j in waiting}
        assert bobs & listed("admin") and listed("bob") <= bobs and bobs & listed("bob")
        assert listed("ann") == set()
    finally:
        for made in waiting:
            post(f"{server.url}/cozygen/api/jobs/{made['id']}/cancel", headers=people["bob"])

    # A prompt bob queues in ComfyUI's own editor (straight to /prompt) is bob's job, with bob's outputs
    graph = get(f"{server.url}/cozygen/workflows/{FORM}", headers=people["admin"]).json()
    graph["1"]["inputs"]["value"], graph["2"]["inputs"]["seed"] = "bob's editor prompt", 99
    graph["3"]["inputs"]["value"], graph["4"]["inputs"]["value"] = 2, 64
    queued = post(f"{server.url}/prompt", {"prompt": graph, "client_id": "bobs-editor"}, headers=people["bob"])
    assert queued.status == 200, queued.body
    editor_prompt = queued.json()["prompt_id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [j for j in get(f"{server.url}/cozygen/api/jobs", headers=people["bob"]).json()["jobs"]
                 if j["prompt_id"] == editor_prompt and j["status"] == "completed"]  # fmt: skip
        if found:
            break
        time.sleep(0.1)
    assert found and found[0]["username"] == "bob" and found[0]["workflow"] is None, found
    editor_image = found[0]["images"][0]["filename"]
    deadline = time.monotonic() + 10  # the folder watcher indexes the new file
    while editor_image not in gallery_ids(server, people["admin"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert editor_image in gallery_ids(server, people["bob"]) and editor_image not in gallery_ids(server, people["ann"])
    assert editor_prompt in get(f"{server.url}/history", headers=people["bob"]).json()

    # delete_all by bob takes only bob's outputs
    wiped = post(f"{server.url}/cozygen/api/gallery/delete_all", {"confirm": "delete-all"}, headers=people["bob"])
    assert wiped.status == 200 and wiped.json()["deleted"] == 2, wiped.body  # the form's image and the editor's
    assert ann_image["filename"] in gallery_ids(server, people["ann"])
    trash = get(f"{server.url}/cozygen/api/gallery/trash", headers=people["ann"]).json()["items"]
    assert trash == []  # bob's deletes are not listed to ann

    set_visibility(server, people, "shared")
    assert ann_image["filename"] in gallery_ids(server, people["bob"])
    assert ann_prompt in get(f"{server.url}/history", headers=people["bob"]).json()
    assert get(f"{server.url}/cozygen/api/images/{ann_id}", headers=people["bob"]).status == 200
