"""The workflow cards' newest output (``latest`` of GET /cozygen/workflows?warnings=1) and the folder tiles'
previews (``preview`` of the gallery's folder items): per user, and never a deleted file."""

from __future__ import annotations

from typing import Any

import pytest
from support import AUTH_ENV, get, household, job_done, request, until

FORM = "cozygen_procedural_form.json"


@pytest.fixture(scope="module")
def server(start_comfyui):
    return start_comfyui("ComfyUI-CozyGen-cards", env=AUTH_ENV)


@pytest.fixture(scope="module")
def people(server) -> dict[str, dict[str, str]]:
    return household(server.url, {"ann": "user", "bob": "user"})


def generate(server, headers: dict[str, str], prompt: str, seed: int) -> dict:
    values = {"prompt": prompt, "steps": 2, "size": 64, "seed": seed}
    return job_done(server.url, headers, FORM, values, timeout=60)["images"][0]


def latest(server, headers: dict[str, str]) -> dict[str, Any]:
    reply = get(f"{server.url}/cozygen/workflows?warnings=1", headers=headers)
    assert reply.status == 200, reply.body
    body = reply.json()
    assert set(body) == {"workflows", "warnings", "latest", "details"}
    return body["latest"]


def previews(server, headers: dict[str, str]) -> dict[str, list[str]]:
    """folder name -> the file names of its preview, at the top of the gallery."""
    reply = get(f"{server.url}/cozygen/api/gallery?per_page=48", headers=headers)
    assert reply.status == 200, reply.body
    folders = [i for i in reply.json()["items"] if i["type"] == "directory"]
    assert all(set(f) == {"filename", "type", "subfolder", "mtime", "preview"} for f in folders)
    return {f["filename"]: [p["filename"] for p in f["preview"]] for f in folders}


def test_latest_and_previews_per_user(server, people) -> None:
    changed = request(
        "PATCH", f"{server.url}/cozygen/api/settings", {"gallery_visibility": "per_user"}, headers=people["admin"]
    )
    assert changed.status == 200, changed.body
    plain = get(f"{server.url}/cozygen/workflows", headers=people["ann"])
    assert set(plain.json()) == {"workflows"}  # seed 004's shape without warnings=1
    assert FORM not in latest(server, people["ann"])  # nothing yet: no latest, the app's placeholder

    ann_image = generate(server, people["ann"], "ann's lantern", 1)
    bob_image = generate(server, people["bob"], "bob's boat", 2)
    assert ann_image["subfolder"] == bob_image["subfolder"] == "CozyGen"

    ann_latest = until(lambda: latest(server, people["ann"]), lambda found: FORM in found, timeout=10)
    assert {k: ann_latest[FORM][k] for k in ("filename", "subfolder", "type")} == ann_image
    assert isinstance(ann_latest[FORM]["id"], int)
    bob_latest = until(lambda: latest(server, people["bob"]), lambda found: FORM in found, timeout=10)
    assert bob_latest[FORM]["filename"] == bob_image["filename"]
    assert latest(server, people["admin"])[FORM]["filename"] == bob_image["filename"]  # admins see the newest

    assert until(lambda: previews(server, people["ann"]), lambda p: p.get("CozyGen"), timeout=10) == {
        "CozyGen": [ann_image["filename"]]
    }
    assert previews(server, people["bob"]) == {"CozyGen": [bob_image["filename"]]}
    admin_sees = previews(server, people["admin"])["CozyGen"]
    assert admin_sees[:2] == [bob_image["filename"], ann_image["filename"]]

    shared = request(
        "PATCH", f"{server.url}/cozygen/api/settings", {"gallery_visibility": "shared"}, headers=people["admin"]
    )
    assert shared.status == 200, shared.body
    assert latest(server, people["ann"])[FORM]["filename"] == ann_image["filename"]  # her own card, as her history
    assert previews(server, people["ann"])["CozyGen"][:2] == [bob_image["filename"], ann_image["filename"]]
    request("PATCH", f"{server.url}/cozygen/api/settings", {"gallery_visibility": "per_user"}, headers=people["admin"])


def test_a_deleted_image_gives_no_latest(server, people) -> None:
    bob_id = latest(server, people["bob"])[FORM]["id"]
    deleted = request("DELETE", f"{server.url}/cozygen/api/images/{bob_id}", headers=people["bob"])
    assert deleted.status == 200, deleted.body
    assert FORM not in latest(server, people["bob"])
    ann_latest = latest(server, people["ann"])[FORM]["filename"]
    assert latest(server, people["admin"])[FORM]["filename"] == ann_latest  # the newest that still exists
    assert "CozyGen" not in previews(server, people["bob"])  # bob has no output left in it
    assert previews(server, people["admin"])["CozyGen"] == [ann_latest]
